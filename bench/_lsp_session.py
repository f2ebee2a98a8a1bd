"""The LSP benchmark's scenario and its timings: each server started, the file opened, the same
edits sent to every server interleaved, each answer timed, memory read before shutdown; and the
CLI's cold run that the open is compared with."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _lsp_client import BenchClient, LspError  # noqa: E402
from _lsp_data import Edit  # noqa: E402
from _proc import LoadMeter, TreeMemorySampler, status_kb, tree, tree_cpu_s  # noqa: E402


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


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
        self.client: BenchClient | None = None
        self.pid = 0

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            return self.stderr.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def fail(self, e: Exception) -> None:
        if self.s.error is None:
            self.s.error = f"{e}\n{self.stderr_tail()}"
            say(f"  {self.s.name}: FAILED: {e}")

    @property
    def ok(self) -> bool:
        return self.s.error is None

    async def start_and_open(self, text: str) -> None:
        s, ws = self.s, self.ws
        t0 = time.perf_counter()
        self.client = client = BenchClient()
        try:
            self.pid = await client.spawn(self.cmd, self.env, str(ws), self.stderr)
        except OSError as e:
            self.fail(e)
            return
        self.sampler = TreeMemorySampler(self.pid)
        self.sampler.start()
        try:
            await client.initialize(ws, timeout=120)
            s.start_s = time.perf_counter() - t0
            # the server's start-up work (workspace scan) is not timed
            await asyncio.sleep(self.args.settle)
            t_open = client.did_open(self.uri, text)
            t_diag, diags = await client.wait_diagnostics(self.uri, 1, self.args.open_timeout)
            s.open_s = t_diag - t_open
            s.open_diags = len(diags)
            say(
                f"  {s.name}: open -> first diagnostics {s.open_s:.2f} s ({len(diags)} diagnostics)"
            )
        except (LspError, OSError) as e:
            self.fail(e)

    def begin_edits(self) -> None:
        if not self.pid:
            return
        self.cpu0, self.wall0 = tree_cpu_s(self.pid), time.perf_counter()

    async def edit(self, k: int, e: Edit) -> None:
        if not self.ok:
            return
        s, version, client = self.s, k + 2, self.client
        try:
            t_sent = client.did_change(self.uri, version, e.line, e.col16, e.new)
            t_diag, diags = await client.wait_diagnostics(self.uri, version, self.args.edit_timeout)
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
        if not self.pid:
            return
        s.edit_wall_s = time.perf_counter() - self.wall0
        s.edit_cpu_s = tree_cpu_s(self.pid) - self.cpu0
        s.other_load = other_load
        if s.latencies_ms:
            lat = sorted(s.latencies_ms)
            say(
                f"  {s.name}: {len(lat)} edits, p50 {pct(lat, 50):.1f} ms, "
                f"p95 {pct(lat, 95):.1f} ms, max {lat[-1]:.1f} ms"
            )

    async def finish(self, before_shutdown=None) -> Session:
        s = self.s
        if self.client is None or self.client.proc is None:  # never started
            s.error = s.error or "not started"
            return s
        try:
            if self.ok and before_shutdown:
                await before_shutdown(self)
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
            s.rc = await self.client.close()
        return s


async def _run_sessions(runs, text, edits, gap, on_first_edit, before_shutdown) -> list[Session]:
    try:
        for r in runs:
            await r.start_and_open(text)
        await asyncio.sleep(gap)
        load = LoadMeter([r.pid for r in runs if r.pid])
        for r in runs:
            r.begin_edits()
        for k, e in enumerate(edits):
            for r in runs if k % 2 == 0 else runs[::-1]:
                await r.edit(k, e)
                if k == 0 and on_first_edit and r.ok:
                    await on_first_edit(r)
                if gap:
                    await asyncio.sleep(gap)
        other = load.percent()
        for r in runs:
            r.end_edits(other)
    finally:
        sessions = [await r.finish(before_shutdown) for r in runs]
    return sessions


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
    answer, so that a burst of other work on the machine hits all the servers alike. The hooks
    are coroutine functions called with the ServerRun."""
    return asyncio.run(_run_sessions(runs, text, edits, gap, on_first_edit, before_shutdown))


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
