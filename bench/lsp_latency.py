"""How fast does the language server answer an edit, relative to a naive server, in one run?

    python bench/lsp_latency.py --quick        # 30 edits, ~1 minute (+ data generation once)
    python bench/lsp_latency.py                # 200 edits
    python bench/lsp_latency.py --profile /tmp/server.prof   # + a profiled tunelint session

On a generated 20,000-line (~16 MB) chat file, opened in a temporary workspace whose
tunelint.toml says `profile = "hf"` (every rule on, o200k token counts), it measures:

1. edit -> diagnostics: N single-character edits (didChange with an incremental range) on random
   lines, each timed from writing the didChange to reading the publishDiagnostics for that
   document version, for `tunelint server` and for the naive baseline server
   (baselines/naive_lsp.py: pygls' own document store, json.loads on every line on every change);
2. open: didOpen (full text) -> first diagnostics, the server with an empty cache, against the
   CLI's cold `tunelint check FILE` with an empty cache;
3. memory: the server's peak RSS (VmHWM) and that of its worker processes, read just before
   shutdown, and the sampled peak of the whole process tree.

The client is a minimal JSON-RPC client over the subprocess pipes (a reader thread stamps every
message as it arrives), without pull-diagnostic capability so that both servers push. Both servers
run at once, the file opened in one then the other, and the edits are interleaved: edit k goes to
each server in turn, so that other work on the machine hits both alike. Timings are
reported with ratios to the baseline measured in the same run, never asserted: the script exits 0
unless a server crashed or an answer never came. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402
from _proc import busy_s, pss_kb, tree  # noqa: E402

TARGETS = {"p95_ms": 50.0, "open_vs_cli": 1.0, "memory_mb": 300.0}
GENERATOR = "lsp-1"  # bump when the generated file's recipe changes


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# the data: ~800 bytes per line, the same text model as datagen.py


class ShortChatGen(datagen.ChatGen):
    """datagen's examples with shorter system prompts and each example trimmed to a log-normal
    target size (median ~700 bytes, mean ~800, p95 ~1.5 KB); tool-use examples are kept whole."""

    def _system_prompt(self, i: int | None = None) -> str:
        rng, t = self.rng, self.text
        persona = rng.choice(datagen._PERSONAS).format(x=rng.choice(self.products))
        target = int(min(600, max(40, rng.lognormvariate(math.log(120), 0.6))))
        s = f"You are {persona}."
        while len(s) < target:
            s += " " + t.sentence()
        return s

    def example(self) -> tuple[dict, bool]:
        obj, tools = super().example()
        if not tools:
            target = int(min(4000, max(250, self.rng.lognormvariate(math.log(700), 0.45))))
            _trim(obj, target)
        return obj, tools


def _trim(obj: dict, target: int) -> None:
    for _ in range(8):
        size = len(datagen._dumps(obj).encode())
        if size <= target:
            return
        msgs = [
            m
            for m in obj["messages"]
            if isinstance(m.get("content"), str)
            and m["role"] != "system"
            and len(m["content"]) > 40
        ]
        if not msgs:
            return
        m = max(msgs, key=lambda m: len(m["content"]))
        c = m["content"]
        keep = max(30, len(c) - (size - target))
        cut = c.rfind(" ", 0, keep)
        m["content"] = c[: cut if cut > 20 else keep].rstrip() + "."


def generate(lines: int, out_dir: Path, seed: int, force: bool) -> dict:
    """Write lsp-N.jsonl (and lsp-N.meta.json); reused when the meta matches."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path, meta_path = out_dir / f"lsp-{lines}.jsonl", out_dir / f"lsp-{lines}.meta.json"
    want = {
        "generator": GENERATOR,
        "datagen_version": datagen.GENERATOR_VERSION,
        "seed": seed,
        "lines": lines,
    }
    if not force and path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if (
                all(meta.get(k) == v for k, v in want.items())
                and path.stat().st_size == meta["bytes"]
            ):
                return {**meta, "path": str(path)}
        except (ValueError, KeyError, OSError):
            pass
    gen = ShortChatGen(seed)
    fault_rng = random.Random(seed * 7919 + 1)
    kinds = ("trailing_comma", "wrong_role", "missing_assistant")
    faults = 0
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for _ in range(lines):
            obj, _tools = gen.example()
            line = datagen._dumps(obj)
            if fault_rng.random() < datagen.FAULT_RATE:
                faults += 1
                line = datagen._faulty(obj, kinds[fault_rng.randrange(3)], fault_rng)
            f.write(line + "\n")
    os.replace(tmp, path)
    meta = {**want, "faulty_lines": faults, "bytes": path.stat().st_size, "path": str(path)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# --------------------------------------------------------------------------------------------
# the edits: the same sequence for every server


@dataclass
class Edit:
    kind: str  # "letter" (stays valid JSON), "break" (} -> ]), "repair" (] -> } again)
    line: int
    col16: int  # UTF-16 column (what LSP positions count)
    old: str
    new: str


_CONTENT = re.compile(r'"content": "')


def _utf16(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


def _string_letters(line: str, start: int) -> list[int]:
    """Indexes of the ASCII letters of the JSON string that starts at `start` (just after its
    opening quote), leaving out escape sequences (replacing the n of \\n would break the JSON)."""
    out, i, n = [], start, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 6 if line[i + 1 : i + 2] == "u" else 2
            continue
        if c == '"':
            break
        if c.isascii() and c.isalpha():
            out.append(i)
        i += 1
    return out


def make_edits(lines: list[str], count: int, seed: int) -> list[Edit]:
    """A deterministic sequence of single-character edits, generated against a local copy of the
    document (updated as it goes, as an editor would be)."""
    rng = random.Random(seed)
    doc = list(lines)
    broken: dict[int, str] = {}
    edits: list[Edit] = []
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(edits) < count:
        r = rng.random()
        if r < 0.08 and broken:  # repair a line an earlier edit broke
            ln = rng.choice(sorted(broken))
            line = doc[ln]
            i = len(line) - 1
            e = Edit("repair", ln, _utf16(line[:i]), line[i], broken.pop(ln))
        elif r < 0.16:  # break a valid line: its closing } becomes ]
            ln = rng.randrange(len(doc))
            line = doc[ln]
            if ln in broken or not line.endswith("}"):
                continue
            try:
                json.loads(line)
            except ValueError:
                continue
            i = len(line) - 1
            broken[ln] = "}"
            e = Edit("break", ln, _utf16(line[:i]), "}", "]")
        else:  # replace one letter inside a message's content with another letter
            ln = rng.randrange(len(doc))
            line = doc[ln]
            starts = [m.end() for m in _CONTENT.finditer(line)]
            if not starts:
                continue
            cands = _string_letters(line, rng.choice(starts))
            if not cands:
                continue
            i = rng.choice(cands)
            old = line[i]
            new = rng.choice([c for c in letters if c != old.lower()])
            new = new.upper() if old.isupper() else new
            e = Edit("letter", ln, _utf16(line[:i]), old, new)
        doc[e.line] = doc[e.line][:i] + e.new + doc[e.line][i + 1 :]
        edits.append(e)
    return edits


# --------------------------------------------------------------------------------------------
# a minimal LSP client over the subprocess pipes


class LspError(RuntimeError):
    pass


class Client:
    """JSON-RPC over stdio. A reader thread stamps each message with perf_counter() as soon as
    its body has been read, before decoding it; requests from the server get a null answer."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: str, stderr_path: Path):
        self.stderr_path = stderr_path
        self._err = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env, cwd=cwd
        )
        self.cond = threading.Condition()
        self.diags: dict[tuple[str, int | None], tuple[float, list[tuple[int, int]]]] = {}
        self.responses: dict[int | str, tuple[float, dict]] = {}
        self.closed = False
        self._wlock = threading.Lock()
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- wire ---------------------------------------------------------------------------------

    @staticmethod
    def encode(msg: dict) -> bytes:
        body = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def write(self, data: bytes) -> float:
        """Write a prepared message; returns the time just before the write."""
        with self._wlock:
            t0 = time.perf_counter()
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        return t0

    def _read(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    k, _, v = line.decode("ascii").partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
                if length is None:
                    continue
                body = out.read(length)
                t = time.perf_counter()
                self._handle(json.loads(body), t)
        except (OSError, ValueError):
            return
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _handle(self, msg: dict, t: float) -> None:
        method = msg.get("method")
        if method is not None and "id" in msg:  # a request from the server
            result = None
            if method == "workspace/configuration":
                result = [None for _ in msg.get("params", {}).get("items", [])]
            self.write(self.encode({"jsonrpc": "2.0", "id": msg["id"], "result": result}))
            return
        if method == "textDocument/publishDiagnostics":
            p = msg["params"]
            summary = [
                (d["range"]["start"]["line"], d.get("severity", 1)) for d in p["diagnostics"]
            ]
            with self.cond:
                self.diags[(p["uri"], p.get("version"))] = (t, summary)
                self.cond.notify_all()
        elif method is None and "id" in msg:
            with self.cond:
                self.responses[msg["id"]] = (t, msg)
                self.cond.notify_all()

    # -- calls --------------------------------------------------------------------------------

    def request(self, method: str, params, timeout: float = 60) -> tuple[float, dict]:
        self._next_id += 1
        rid = self._next_id
        self.write(self.encode({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.responses or self.closed, timeout):
                raise LspError(f"no answer to {method} within {timeout:.0f} s")
            if rid not in self.responses:
                raise LspError(f"server exited before answering {method}")
            return self.responses[rid]

    def notify(self, method: str, params) -> float:
        return self.write(self.encode({"jsonrpc": "2.0", "method": method, "params": params}))

    def wait_diagnostics(self, uri: str, version: int, timeout: float) -> tuple[float, list]:
        key = (uri, version)
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.diags or self.closed, timeout):
                raise LspError(f"no diagnostics for version {version} within {timeout:.0f} s")
            if key not in self.diags:
                raise LspError(f"server exited before publishing version {version}")
            return self.diags[key]

    def shutdown(self) -> int:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=30)
                self.notify("exit", None)
        except (LspError, OSError):
            pass
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._err.close()
        return rc

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------
# processes: memory and CPU of a process tree


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process tree (reaped children of the root included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for n, p in enumerate(tree(pid)):
        try:
            with open(f"/proc/{p}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            total += int(v[11]) + int(v[12]) + (int(v[13]) + int(v[14]) if n == 0 else 0)
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


class Sampler(threading.Thread):
    """Peak of the summed RSS and PSS of a process tree, every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss_kb = self.peak_pss_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = tree(self.pid)
            self.peak_rss_kb = max(self.peak_rss_kb, sum(status_kb(p, "VmRSS") for p in pids))
            self.peak_pss_kb = max(self.peak_pss_kb, sum(pss_kb(p) for p in pids))
            self.stop.wait(self.interval)


class LoadMeter:
    """Share of all CPUs that other processes used over a span: machine busy time minus the
    CPU time of the servers' process trees and of this process, over wall time x CPUs."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.t0, self.b0, self.m0 = time.perf_counter(), busy_s(), _own_cpu()
        self.s0 = sum(tree_cpu_s(p) for p in pids)

    def percent(self) -> float | None:
        b1 = busy_s()
        if self.b0 is None or b1 is None:
            return None
        wall = time.perf_counter() - self.t0
        ours = sum(tree_cpu_s(p) for p in self.pids) - self.s0 + _own_cpu() - self.m0
        return max(0.0, 100.0 * ((b1 - self.b0) - ours) / (wall * (os.cpu_count() or 1)))


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


# --------------------------------------------------------------------------------------------
# one server session


@dataclass
class Session:
    name: str
    start_s: float = 0.0  # spawn -> initialize answered
    open_s: float | None = None  # didOpen written -> first diagnostics read
    open_diags: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    breaks_seen: int = 0  # break edits whose diagnostics had an error on the edited line
    breaks: int = 0
    last_diags: int = 0
    hwm_server_mb: float = 0.0  # VmHWM of the server process just before shutdown
    hwm_children_mb: float = 0.0  # sum of VmHWM of its descendants alive then
    children: int = 0
    rss_server_mb: float = 0.0  # VmRSS of the server process just before shutdown
    rss_children_mb: float = 0.0
    peak_tree_rss_mb: float = 0.0  # sampled
    peak_tree_pss_mb: float = 0.0  # sampled
    edit_cpu_s: float = 0.0  # server tree CPU during the edits
    edit_wall_s: float = 0.0
    other_load: float | None = None  # % of all CPUs used by other processes during the edits
    error: str | None = None
    rc: int | None = None


class ServerRun:
    """One server process driven through start-up, didOpen, the edits and shutdown."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        ws: Path,
        path: Path,
        args,
        scratch: Path,
    ):
        self.s = Session(name)
        self.ws, self.uri, self.args = ws, path.as_uri(), args
        self.cmd, self.env, self.stderr = cmd, env, scratch / f"{name.split()[0]}.stderr"
        self.cpu0 = 0.0

    def spawn(self) -> None:
        self.t0 = time.perf_counter()
        self.client = Client(self.cmd, self.env, str(self.ws), self.stderr)
        self.pid = self.client.proc.pid
        self.sampler = Sampler(self.pid)
        self.sampler.start()

    def fail(self, e: Exception) -> None:
        if self.s.error is None:
            self.s.error = f"{e}\n{self.client.stderr_tail()}"
            say(f"  {self.s.name}: FAILED: {e}")

    @property
    def ok(self) -> bool:
        return self.s.error is None

    def start_and_open(self, text: str) -> None:
        self.spawn()
        s, client, ws = self.s, self.client, self.ws
        try:
            client.request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": ws.as_uri(),
                    "workspaceFolders": [{"uri": ws.as_uri(), "name": ws.name}],
                    "capabilities": {  # no textDocument.diagnostic: the server must push
                        "general": {"positionEncodings": ["utf-16"]},
                        "textDocument": {
                            "synchronization": {"dynamicRegistration": False},
                            "publishDiagnostics": {"versionSupport": True},
                        },
                        "workspace": {},
                    },
                },
                timeout=120,
            )
            s.start_s = time.perf_counter() - self.t0
            client.notify("initialized", {})
            time.sleep(self.args.settle)  # the server's start-up work (workspace scan) is not timed
            opened = client.encode(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": self.uri,
                            "languageId": "jsonl",
                            "version": 1,
                            "text": text,
                        }
                    },
                }
            )
            t_open = client.write(opened)
            t_diag, diags = client.wait_diagnostics(self.uri, 1, timeout=self.args.open_timeout)
            s.open_s = t_diag - t_open
            s.open_diags = len(diags)
            say(
                f"  {s.name}: open -> first diagnostics {s.open_s:.2f} s ({len(diags)} diagnostics)"
            )
        except (LspError, OSError) as e:
            self.fail(e)

    def begin_edits(self) -> None:
        self.cpu0, self.wall0 = tree_cpu_s(self.pid), time.perf_counter()

    def edit(self, k: int, e: Edit) -> None:
        if not self.ok:
            return
        s, version = self.s, k + 2
        data = self.client.encode(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": self.uri, "version": version},
                    "contentChanges": [
                        {
                            "range": {
                                "start": {"line": e.line, "character": e.col16},
                                "end": {"line": e.line, "character": e.col16 + 1},
                            },
                            "text": e.new,
                        }
                    ],
                },
            }
        )
        try:
            t_sent = self.client.write(data)
            t_diag, diags = self.client.wait_diagnostics(self.uri, version, self.args.edit_timeout)
        except (LspError, OSError) as exc:
            self.fail(exc)
            return
        s.latencies_ms.append(1000 * (t_diag - t_sent))
        s.kinds.append(e.kind)
        if e.kind == "break":
            s.breaks += 1
            s.breaks_seen += any(ln == e.line and sev == 1 for ln, sev in diags)
        s.last_diags = len(diags)

    def end_edits(self, other_load: float | None) -> None:
        s = self.s
        s.edit_wall_s = time.perf_counter() - self.wall0
        s.edit_cpu_s = tree_cpu_s(self.pid) - self.cpu0
        s.other_load = other_load
        if s.latencies_ms:
            lat = sorted(s.latencies_ms)
            say(
                f"  {s.name}: {len(lat)} edits, p50 {pct(lat, 50):.1f} ms, "
                f"p95 {pct(lat, 95):.1f} ms, max {lat[-1]:.1f} ms"
            )

    def finish(self, before_shutdown=None) -> Session:
        s = self.s
        if not hasattr(self, "client"):  # never started
            s.error = s.error or "not started"
            return s
        try:
            if self.ok and before_shutdown:
                before_shutdown(self.client)
            pids = tree(self.pid)
            s.hwm_server_mb = status_kb(pids[0], "VmHWM") / 1024
            s.hwm_children_mb = sum(status_kb(p, "VmHWM") for p in pids[1:]) / 1024
            s.children = len(pids) - 1
            s.rss_server_mb = status_kb(pids[0], "VmRSS") / 1024
            s.rss_children_mb = sum(status_kb(p, "VmRSS") for p in pids[1:]) / 1024
        finally:
            self.sampler.stop.set()
            self.sampler.join()
            s.peak_tree_rss_mb = self.sampler.peak_rss_kb / 1024
            s.peak_tree_pss_mb = self.sampler.peak_pss_kb / 1024
            s.rc = self.client.shutdown()
        return s


def run_sessions(
    runs: list[ServerRun],
    text: str,
    edits: list[Edit],
    gap: float,
    on_first_edit=None,
    before_shutdown=None,
) -> list[Session]:
    """Open the file in each server in turn, then send the edits interleaved: edit k goes to
    every server (the order alternating from one edit to the next), each waiting for its
    answer, so that a burst of other work on the machine hits all the servers alike."""
    try:
        for r in runs:
            r.start_and_open(text)
        time.sleep(gap)
        load = LoadMeter([r.pid for r in runs])
        for r in runs:
            r.begin_edits()
        for k, e in enumerate(edits):
            for r in runs if k % 2 == 0 else runs[::-1]:
                r.edit(k, e)
                if k == 0 and on_first_edit and r.ok:
                    on_first_edit(r.client)
                if gap:
                    time.sleep(gap)
        other = load.percent()
        for r in runs:
            r.end_edits(other)
    finally:
        sessions = [r.finish(before_shutdown) for r in runs]
    return sessions


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


# --------------------------------------------------------------------------------------------
# the CLI's cold run


@dataclass
class CliRun:
    seconds: float
    rc: int
    max_rss_mb: float
    cpu_s: float


def run_cli(cmd: list[str], env: dict[str, str], cwd: Path) -> CliRun:
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd,
        env=env,
        cwd=str(cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        say(f"  CLI exit {rc}: {p.stderr.read().decode(errors='replace')[-2000:]}")
    p.stderr.close()
    return CliRun(seconds, rc, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


# --------------------------------------------------------------------------------------------
# the profiled server (`--serve-profiled OUT`: internal, started by --profile)


def serve_profiled(out: str) -> None:
    """Run `tunelint server` with cProfile on the event-loop thread and on the analysis thread,
    both off until SIGUSR1 (sent once the first edit is answered: the edits after it are the
    steady state) and dumped to OUT on SIGUSR2 (sent after the last edit)."""
    import cProfile

    from tunelint.server import main as server_main

    loop_prof, analysis_prof = cProfile.Profile(), cProfile.Profile()
    on = threading.Event()
    original = server_main.TunelintServer._compute

    def _compute(self, settings, texts):
        if not on.is_set():
            return original(self, settings, texts)
        analysis_prof.enable()
        try:
            return original(self, settings, texts)
        finally:
            analysis_prof.disable()

    server_main.TunelintServer._compute = _compute

    import gc

    gc_time = [0.0, 0.0, 0.0]
    gc_count = [0, 0, 0]
    gc_t0 = [0.0]

    def gc_callback(phase, info):  # garbage collections, timed outside the profiler
        if phase == "start":
            gc_t0[0] = time.perf_counter()
        else:
            gc_time[info["generation"]] += time.perf_counter() - gc_t0[0]
            gc_count[info["generation"]] += 1

    def start(*_):
        on.set()
        gc.callbacks.append(gc_callback)
        loop_prof.enable()

    def stop(*_):
        loop_prof.disable()
        on.clear()
        gc.callbacks.remove(gc_callback)
        with open(out + ".gc.json", "w") as f:
            json.dump(
                {"count": gc_count, "seconds": gc_time, "tracked_objects": len(gc.get_objects())}, f
            )
        loop_prof.create_stats()
        analysis_prof.create_stats()
        import pstats

        stats = pstats.Stats(loop_prof)
        if analysis_prof.stats:
            stats.add(analysis_prof)
        stats.dump_stats(out + ".tmp")
        os.replace(out + ".tmp", out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    server_main.main()


def gc_report(prof: Path, edits: int) -> str:
    try:
        gc_stats = json.loads(Path(str(prof) + ".gc.json").read_text())
    except (OSError, ValueError):
        return ""
    parts = [
        f"gen {g}: {n} ({1000 * t:.0f} ms, {1000 * t / edits:.2f} ms/edit)"
        for g, (n, t) in enumerate(zip(gc_stats["count"], gc_stats["seconds"], strict=True))
    ]
    return (
        "Garbage collections during the profiled edits (wall time, under the profiler): "
        f"{'; '.join(parts)}. "
        f"Objects tracked by the collector at the end: {gc_stats['tracked_objects']:,}.\n\n"
    )


def profile_report(path: Path, edits: int, roots: list[str], top: int = 20) -> str:
    import pstats

    st = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():
        rows.append((ct, tt, nc, cc, file, line, func))
    rows.sort(reverse=True)

    def table(sel, title: str) -> list[str]:
        out = [
            f"**{title}**",
            "",
            "| cumulative ms / edit | own ms / edit | calls / edit | function |",
            "|---:|---:|---:|---|",
        ]
        for ct, tt, nc, _cc, file, line, func in sel[:top]:
            where = file
            for r in roots:
                if file.startswith(r):
                    where = os.path.relpath(file, os.path.dirname(r.rstrip("/")))
            out.append(
                f"| {1000 * ct / edits:.2f} | {1000 * tt / edits:.2f} | {nc / edits:.1f} | "
                f"`{where}:{line}({func})` |"
            )
        return out

    own = [r for r in rows if any(r[4].startswith(x) for x in roots)]
    lines = table(
        own, f"tunelint's own code (server/, linter/, tunelint/), top {top} by cumulative time"
    )
    idle = (
        "poll' of 'select.epoll",
        "(select)",
        "(_run_once)",
        "(run_forever)",
        "(run_until_complete)",
    )
    busy = sorted(
        (r for r in rows if not any(x in f"{r[4]}({r[6]})" for x in idle)),
        key=lambda r: r[1],
        reverse=True,
    )
    lines += [""] + table(
        busy,
        f"everything (pygls, lsprotocol, asyncio included; the event loop's idle "
        f"wait left out), top {top} by own time",
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the report


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _row(cells: list[str], bold: bool = False) -> str:
    if bold:  # the measurement, tunelint's value and the ratio
        cells = [
            f"**{c}**" if i in (0, 1, 4) and c not in ("", "–") else c for i, c in enumerate(cells)
        ]
    return "| " + " | ".join(cells) + " |"


def report(
    args, meta: dict, tl: Session, naive: Session | None, cli: CliRun | None, header: list[str]
) -> str:
    def stats(sess: Session | None) -> tuple[float | None, float | None, float | None]:
        if sess is None or not sess.latencies_ms:
            return None, None, None
        lat = sorted(sess.latencies_ms)
        return pct(lat, 50), pct(lat, 95), lat[-1]

    def first(sess: Session | None) -> float | None:
        return sess.latencies_ms[0] if sess and sess.latencies_ms else None

    tp50, tp95, tmax = stats(tl)
    np50, np95, nmax = stats(naive)
    tl_mem = tl.hwm_server_mb + tl.hwm_children_mb
    nv_mem = (naive.hwm_server_mb + naive.hwm_children_mb) if naive else None
    nv_open = naive.open_s if naive else None
    nv_pss = naive.peak_tree_pss_mb if naive else None
    cli_s = cli.seconds if cli else None
    mem_detail = (
        f"{tl_mem:.0f} ({tl.hwm_server_mb:.0f} + {tl.hwm_children_mb:.0f} in "
        f"{tl.children} children)"
    )
    naive_is = "naive server"
    rows = [
        _row(
            [
                "measurement",
                "tunelint server",
                "baseline",
                "baseline is",
                "ratio (tunelint ÷ baseline)",
                "target",
            ]
        ),
        "|---|---:|---:|---|---:|---|",
        _row(
            [
                "edit → diagnostics p50 (ms)",
                _num(tp50),
                _num(np50),
                naive_is,
                fmt_ratio(tp50, np50),
                "",
            ]
        ),
        _row(
            [
                "edit → diagnostics p95 (ms)",
                _num(tp95),
                _num(np95),
                naive_is,
                fmt_ratio(tp95, np95),
                f"≤ {TARGETS['p95_ms']:.0f} ms",
            ],
            bold=True,
        ),
        _row(
            [
                "edit → diagnostics max (ms)",
                _num(tmax),
                _num(nmax),
                naive_is,
                fmt_ratio(tmax, nmax),
                "",
            ]
        ),
        _row(
            [
                "first edit after the open (ms)",
                _num(first(tl)),
                _num(first(naive)),
                naive_is,
                fmt_ratio(first(tl), first(naive)),
                "",
            ]
        ),
        _row(
            [
                "open → first diagnostics (s)",
                _num(tl.open_s, 2),
                _num(cli_s, 2),
                "`tunelint check` cold (whole process)",
                fmt_ratio(tl.open_s, cli_s),
                f"≤ {TARGETS['open_vs_cli']:.2f}× CLI",
            ],
            bold=True,
        ),
        _row(
            [
                "open → first diagnostics, vs the naive server (s)",
                _num(tl.open_s, 2),
                _num(nv_open, 2),
                naive_is,
                fmt_ratio(tl.open_s, nv_open),
                "",
            ]
        ),
        _row(
            [
                "server memory: VmHWM, server + workers (MB)",
                mem_detail,
                _num(nv_mem, 0),
                naive_is,
                fmt_ratio(tl_mem, nv_mem),
                f"≤ {TARGETS['memory_mb']:.0f} MB",
            ],
            bold=True,
        ),
        _row(
            [
                "server memory at the end: VmRSS, server + children (MB)",
                f"{tl.rss_server_mb + tl.rss_children_mb:.0f}",
                _num((naive.rss_server_mb + naive.rss_children_mb) if naive else None, 0),
                naive_is,
                fmt_ratio(
                    tl.rss_server_mb + tl.rss_children_mb,
                    (naive.rss_server_mb + naive.rss_children_mb) if naive else None,
                ),
                "",
            ]
        ),
        _row(
            [
                "server memory: sampled peak tree PSS (MB)",
                _num(tl.peak_tree_pss_mb, 0),
                _num(nv_pss, 0),
                naive_is,
                fmt_ratio(tl.peak_tree_pss_mb, nv_pss),
                "",
            ]
        ),
        _row(
            [
                "CLI cold run peak RSS, largest process (MB)",
                "",
                _num(cli.max_rss_mb if cli else None, 0),
                "`tunelint check`",
                "",
                "",
            ]
        ),
    ]
    notes = [
        "- Latency: from writing the didChange to reading the publishDiagnostics of that "
        f"version; nearest-rank percentiles over all {len(tl.latencies_ms)} edits. tunelint's "
        f"includes its debounce ({debounce_ms()}); the naive server has none."
    ]
    for sess in (tl, naive):
        if sess is None:
            continue
        busy = "?" if sess.other_load is None else f"{sess.other_load:.0f}%"
        n = len(sess.latencies_ms)
        notes.append(
            f"- {sess.name}: start-up (spawn → initialize answered) {sess.start_s:.2f} s; "
            f"{sess.open_diags} diagnostics at open, {sess.last_diags} after the last edit; "
            f"{n} edits ({sess.kinds.count('letter')} letter, {sess.breaks} break, "
            f"{sess.kinds.count('repair')} repair), an error shown on the broken line for "
            f"{sess.breaks_seen}/{sess.breaks} breaks; server CPU during the edits "
            f"{1000 * sess.edit_cpu_s / max(1, n):.1f} ms/edit; "
            f"other load during the edits {busy}; exit {sess.rc}"
            + (f"; **error**: {sess.error.splitlines()[0]}" if sess.error else "")
        )
    if cli:
        notes.append(
            f"- `tunelint check` cold: exit {cli.rc}, {cli.cpu_s:.1f} CPU s (workers included)"
        )
    return "\n".join(header + [""] + rows + [""] + notes)


# --------------------------------------------------------------------------------------------


def debounce_ms() -> str:
    try:
        from tunelint.server.main import DEBOUNCE_S

        return f"DEBOUNCE_S = {1000 * DEBOUNCE_S:.0f} ms"
    except Exception as e:  # noqa: BLE001 - only for the note
        return f"DEBOUNCE_S unknown: {e}"


def tunelint_python() -> str:
    return sys.executable


def git_describe() -> str:
    try:
        r = subprocess.run(
            ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Edit -> diagnostics latency of tunelint's language server."
    )
    ap.add_argument("--quick", action="store_true", help="30 edits instead of 200")
    ap.add_argument(
        "--edits", type=int, default=None, help="number of edits (default 200, --quick 30)"
    )
    ap.add_argument(
        "--lines", type=int, default=20000, help="lines of the generated file (default 20000)"
    )
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--gap",
        type=float,
        default=0.05,
        help="pause after each answer before the next edit, seconds (default 0.05)",
    )
    ap.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="pause between `initialized` and didOpen, seconds (default 1)",
    )
    ap.add_argument("--open-timeout", type=float, default=300)
    ap.add_argument("--edit-timeout", type=float, default=60)
    ap.add_argument("--no-naive", action="store_true", help="leave out the naive baseline server")
    ap.add_argument("--no-cli", action="store_true", help="leave out the CLI's cold run")
    ap.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="after the timed sessions, run one more tunelint session with cProfile on the "
        "server (edits only, event loop and analysis threads) and print the top entries",
    )
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "lsp_latency.md")
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--keep-scratch", action="store_true")
    ap.add_argument("--serve-profiled", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_profiled:
        serve_profiled(args.serve_profiled)
        return 0
    n_edits = args.edits or (30 if args.quick else 200)

    t0 = time.perf_counter()
    meta = generate(args.lines, args.data_dir, args.seed, args.regenerate)
    say(
        f"data: {meta['path']} ({meta['lines']} lines, {meta['bytes'] / 1e6:.1f} MB, "
        f"{meta['faulty_lines']} faulty) in {time.perf_counter() - t0:.1f} s"
    )

    scratch = Path(tempfile.mkdtemp(prefix="tunelint-lsp-bench-"))
    ws = scratch / "workspace"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    path = ws / "chat.jsonl"  # a name that says no split: the server reads no other file
    shutil.copyfile(meta["path"], path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    edits = make_edits(lines[:-1] if lines and lines[-1] == "" else lines, n_edits, args.seed + 1)

    py = tunelint_python()
    base_env = {k: v for k, v in os.environ.items() if k != "TUNELINT_CACHE_DIR"}

    def env(tag: str) -> dict[str, str]:
        d = scratch / f"cache-{tag}"
        d.mkdir()
        return {**base_env, "TUNELINT_CACHE_DIR": str(d)}

    with open("/proc/loadavg") as f:
        loadavg = " ".join(f.read().split()[:3])
    header = [
        f"# LSP latency: {path.name}, {meta['lines']} lines, {meta['bytes'] / 1e6:.1f} MB "
        f"(seed {meta['seed']}), {n_edits} single-character edits",
        "",
        f"tunelint {HERE.parent} @ {git_describe()}; Python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs; load average before the runs {loadavg}; "
        'tunelint.toml: profile = "hf" (every rule, o200k_base token counts); '
        f"pause between edits {args.gap * 1000:.0f} ms. Ratios are against the baseline "
        "measured in this run. Targets are for reference, never pass/fail.",
    ]
    say(f"load average {loadavg}")

    # untimed warm-up: byte-code and the disk cache warm for every process alike
    warm = scratch / "warm"
    warm.mkdir()
    (warm / "tunelint.toml").write_text('profile = "hf"\n')
    (warm / "small.jsonl").write_text("".join(line + "\n" for line in lines[:200]))
    run_cli([py, "-m", "tunelint", "check", str(warm / "small.jsonl")], env("warmup"), warm)

    cli = None
    if not args.no_cli:
        cli = run_cli([py, "-m", "tunelint", "check", str(path)], env("cli"), ws)
        say(
            f"  tunelint check (cold): {cli.seconds:.2f} s, exit {cli.rc}, "
            f"{cli.max_rss_mb:.0f} MB max RSS"
        )
        if cli.rc not in (0, 1):
            cli = None

    failures = []
    runs = [
        ServerRun(
            "tunelint server",
            [py, "-m", "tunelint", "server"],
            env("server"),
            ws,
            path,
            args,
            scratch,
        )
    ]
    if not args.no_naive:
        naive_cmd = [py, str(HERE / "baselines" / "naive_lsp.py")]
        runs.append(ServerRun("naive server", naive_cmd, env("naive"), ws, path, args, scratch))
    sessions = run_sessions(runs, text, edits, args.gap)
    tl, naive = sessions[0], (sessions[1] if len(sessions) > 1 else None)
    for sess in sessions:
        if sess.error:
            failures.append(f"{sess.name}: {sess.error}")

    out = report(args, meta, tl, naive, cli, header)

    if args.profile:
        prof = args.profile.resolve()
        prof.unlink(missing_ok=True)
        say("profiled session (timings inflated by the profiler, not reported):")

        def sigusr(sig):
            def f(client):
                os.kill(client.proc.pid, sig)
                if sig == signal.SIGUSR2:
                    deadline = time.time() + 60
                    while not prof.exists() and time.time() < deadline:
                        time.sleep(0.1)

            return f

        profiled_cmd = [py, str(Path(__file__).resolve()), "--serve-profiled", str(prof)]
        ps = run_sessions(
            [ServerRun("profiled server", profiled_cmd, env("profiled"), ws, path, args, scratch)],
            text,
            edits,
            args.gap,
            on_first_edit=sigusr(signal.SIGUSR1),
            before_shutdown=sigusr(signal.SIGUSR2),
        )[0]
        if prof.exists():
            import tunelint

            pkg = Path(tunelint.__file__).resolve().parent
            roots = sorted(
                {
                    str(pkg) + "/",
                    str(HERE.parent / "server") + "/",
                    str(HERE.parent / "linter") + "/",
                }
            )
            profiled = max(1, len(ps.latencies_ms) - 1)
            out += (
                "\n\n## Profile of the server per edit (cProfile on the event loop and analysis "
                f"threads, from the 2nd edit to the last: {profiled} edits; p95 under the "
                f"profiler {pct(sorted(ps.latencies_ms), 95):.1f} ms)\n\n"
                + gc_report(prof, profiled)
                + profile_report(prof, profiled, roots)
            )
        else:
            failures.append(
                f"profiled server: no profile written{': ' + ps.error if ps.error else ''}"
            )

    print(out)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(out + "\n")
    say(f"\nwritten to {args.results}")
    for f in failures:
        say(f"FAILED: {f}")
    if not args.keep_scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        say(f"scratch kept: {scratch}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
