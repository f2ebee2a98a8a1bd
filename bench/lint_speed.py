"""How fast is `tunelint check`, relative to baselines timed in the same run?

    python bench/lint_speed.py --quick                 # a 2k-example file, ~15 seconds
    python bench/lint_speed.py --sizes 20000,50000     # the issue's sizes, ~2 minutes (+1 to
                                                       # generate the data the first time)

Every run is a separate process timed by wall clock; the numbers that matter are the ratios to
the baselines measured on the same machine in the same invocation, never absolute seconds. The
script never fails because of a timing: it prints the table (and the issue's targets beside the
measured values) and exits 0 unless a tool crashed. See bench/README.md for the columns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
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
from _proc import children as _children  # noqa: E402
from _proc import pss_kb as _pss_kb  # noqa: E402
from _tunelint import python_of, source  # noqa: E402

TARGETS = {"cold_vs_cookbook": 0.5, "warm_vs_together": 1.5, "peak_mb": 300}


# --------------------------------------------------------------------------------------------
# running and measuring one child process


@dataclass
class Run:
    label: str
    seconds: float
    rc: int
    max_rss_mb: float  # largest resident set of the child or any descendant it waited for
    tree_pss_mb: float | None  # peak of the summed PSS of the whole process tree (sampled)
    cpu_seconds: float = 0.0  # user + system time of the child and the descendants it waited for
    other_load: float | None = None  # % of all CPUs busy with other work while it ran
    stdout: str = ""
    stderr: str = ""
    sampled: bool = False  # its tree's memory was sampled (`TreeSampler`): not a timing


class TreeSampler(threading.Thread):
    """Samples the summed PSS (proportional set size: shared pages split between the processes
    that share them) of a process and its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.stop = threading.Event()
        self.works = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")

    def run(self) -> None:
        while not self.stop.is_set():
            pids, todo = [], [self.pid]
            while todo:
                p = todo.pop()
                pids.append(p)
                todo.extend(_children(p))
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in pids))
            self.stop.wait(self.interval)


def run_timed(
    label: str, cmd: list[str], env: dict[str, str] | None = None, sample: bool = True
) -> Run:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        busy0 = _busy_jiffies()
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL)
        sampler = TreeSampler(p.pid) if sample else None
        if sampler and sampler.works:
            sampler.start()
        _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage, not a running total
        seconds = time.perf_counter() - t0
        busy1 = _busy_jiffies()
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        other = None
        if busy0 is not None and busy1 is not None:
            others = (busy1 - busy0) / os.sysconf("SC_CLK_TCK") - cpu
            other = max(0.0, 100.0 * others / (seconds * (os.cpu_count() or 1)))
        tree = None
        if sampler and sampler.works:
            sampler.stop.set()
            sampler.join()
            tree = sampler.peak_kb / 1024
        out.seek(0)
        err.seek(0)
        return Run(
            label,
            seconds,
            p.returncode,
            usage.ru_maxrss / 1024,
            tree,
            cpu,
            other,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            sampled=tree is not None,
        )


def _busy_jiffies() -> int | None:
    """Machine-wide CPU time spent not idle (nor waiting for I/O), in clock ticks."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
        return sum(v) - v[3] - v[4]
    except (OSError, ValueError, IndexError):
        return None


def best_run(runs: list[Run]) -> Run:
    """The fastest run: other work on the machine only ever adds time, so the minimum is the
    least disturbed measurement (as `timeit` advises). Memory: the maximum over all the runs."""
    timings = [r for r in runs if not r.sampled] or runs
    m = min(timings, key=lambda r: r.seconds)
    m.max_rss_mb = max(r.max_rss_mb for r in runs)
    trees = [r.tree_pss_mb for r in runs if r.tree_pss_mb is not None]
    m.tree_pss_mb = max(trees) if trees else None
    if len(timings) > 1:
        m.label += f" (fastest of {len(timings)})"
    return m


# --------------------------------------------------------------------------------------------
# the tools


def tunelint_command() -> list[str]:
    script = Path(sys.executable).with_name("tunelint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tunelint"]


def python_has(python: str, module: str) -> bool:
    try:
        return (
            subprocess.run(
                [python, "-c", f"import {module}"],
                capture_output=True,
                env={**os.environ, "TOGETHER_NO_BANNER": "1"},
                timeout=120,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class Row:
    file: str
    tool: str
    run: Run
    note: str = ""
    kind: str = ""  # "cookbook", "together", "cold", "warm", or "" (informational)


@dataclass
class Bench:
    args: argparse.Namespace
    tunelint: list[str]
    together_python: str | None
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    busy_before: float | None = None  # % of all CPUs busy just before the runs
    source: str = "?"  # where the timed tunelint comes from
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tunelint-bench-")))

    def env(self, cache_dir: Path) -> dict[str, str]:
        env = {**os.environ, "TUNELINT_CACHE_DIR": str(cache_dir), "TOGETHER_NO_BANNER": "1"}
        # the untimed warm-up writes every tool's byte-code, as an installed package has it; a
        # PYTHONDONTWRITEBYTECODE=1 environment would make an editable checkout compile its
        # sources again on every timed run
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def check_ok(self, run: Run, ok_codes: tuple[int, ...]) -> bool:
        if run.rc not in ok_codes:
            self.failures.append(f"{run.label}: exit {run.rc}\n{run.stderr[-2000:]}")
            return False
        return True

    def lint_cmd(self, path: Path) -> list[str]:
        cmd = self.tunelint + ["check", str(path), "--format", "json"]
        if self.args.jobs:
            cmd += ["-j", str(self.args.jobs)]
        return cmd

    @staticmethod
    def lint_note(run: Run) -> str:
        try:
            d = json.loads(run.stdout)
            s = d["summary"]
            cache = next(iter(d["stats"].values())).get("cache", {})
            return (
                f"{s['error']} errors, {s['warning']} warnings; "
                f"analysed {cache.get('analysed', '?')}, cached {cache.get('cached', '?')}"
            )
        except (ValueError, KeyError, StopIteration, AttributeError):
            return "(could not read the JSON report)"

    def fresh_cache(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="cache-", dir=self.scratch))

    def bench_file(self, meta: dict) -> None:
        """Time every tool on one file. With --repeat, the runs are interleaved (round 1 of every
        tool, then round 2, ...) so that a burst of other work on the machine hits all tools.
        The timed rounds do not sample memory: reading /proc/PID/smaps_rollup ten times a second
        takes CPU time and each process's memory-map lock, which slowed tunelint's two busy
        processes on two cores by 0.25-0.3 s (5%) and the one-process cookbook not at all. One
        more round, not timed, samples every tool's memory (the peak columns)."""
        path, clean, edited = (Path(meta["paths"][k]) for k in ("file", "clean", "edited"))
        name = file_label(meta)
        say(
            f"\n== {path.name}: {meta['examples']} examples, {meta['bytes']['file'] / 1e6:.1f} MB, "
            f"{meta['edited_lines']} lines edited in the warm copy"
        )
        cookbook = [sys.executable, str(HERE / "baselines" / "cookbook.py")]
        together = [self.together_python, str(HERE / "baselines" / "together_check.py")]
        runs: dict[str, list[Run]] = {}

        sample = False

        def timed(key: str, cmd: list[str], cache: Path, ok: tuple[int, ...], lint: bool) -> Run:
            r = run_timed(key, cmd, env=self.env(cache), sample=sample)
            say_run(key + (" (memory round, not timed)" if sample else ""), r, self.lint_note(r) if lint else "")
            if self.check_ok(r, ok):
                runs.setdefault(key, []).append(r)
            return r

        for round_ in range(self.args.repeat + 1):
            sample = round_ == self.args.repeat
            # (c) the cookbook method
            timed("cookbook", cookbook + [str(path)], self.fresh_cache(), (0,), False)
            # (d) Together's check_file, on the clean copy: it stops at the first problem
            if self.together_python:
                timed(
                    "together (clean copy)",
                    together + [str(clean)],
                    self.fresh_cache(),
                    (0,),
                    False,
                )
            # (a) tunelint cold, then (b) warm, with a copy of the cache the cold run left
            cache = self.fresh_cache()
            cold = timed("tunelint cold", self.lint_cmd(path), cache, (0, 1), True)
            if cold.rc not in (0, 1):
                continue
            for key, target in (
                ("tunelint warm (1% lines edited)", edited),
                ("tunelint warm (file unchanged)", path),
            ):
                warm = self.scratch / f"warm-{time.monotonic_ns()}"
                shutil.copytree(cache, warm)
                timed(key, self.lint_cmd(target), warm, (0, 1), True)
                shutil.rmtree(warm, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)

        def add(key: str, tool: str, kind: str, note=None) -> None:
            if key in runs:
                m = best_run(runs[key])
                self.rows.append(Row(name, tool, m, note(m) if note else self.lint_note(m), kind))

        def together_note(m: Run) -> str:
            rep = _json_or_empty(m.stdout)
            if rep.get("is_check_passed"):
                return f"reads all {rep.get('num_samples')} lines"
            return f"stopped: {rep.get('message')}"

        add("cookbook", "cookbook method (json + tiktoken o200k)", "cookbook", lambda m: "")
        add(
            "together (clean copy)",
            "together check_file (same examples, no faults/tools)",
            "together",
            together_note,
        )
        if self.together_python:
            # informational: on the file itself it stops at its first problem
            r = run_timed(
                "together (this file)", together + [str(path)], env=self.env(self.fresh_cache())
            )
            say_run("together (this file)", r)
            if self.check_ok(r, (0,)):
                rep = _json_or_empty(r.stdout)
                msg = str(rep.get("message"))[:60]
                note = f"stops at line {rep.get('line_number')}: {msg}"
                self.rows.append(Row(name, "together check_file (this file)", r, note))
        add("tunelint cold", "tunelint cold (empty cache)", "cold")
        add("tunelint warm (1% lines edited)", "tunelint warm (1% lines edited)", "warm")
        add("tunelint warm (file unchanged)", "tunelint warm (file unchanged)", "")


def file_label(meta: dict) -> str:
    n = meta["examples"]
    return (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)
    ) + f" ({meta['bytes']['file'] / 1e6:.0f} MB)"


def _json_or_empty(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}


def cpu_busy(seconds: float = 1.0) -> float | None:
    """Percent of all CPUs busy (not idle or iowait) over `seconds`, from /proc/stat."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]

    try:
        t0, i0 = snap()
        time.sleep(seconds)
        t1, i1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    return 100.0 * (1 - (i1 - i0) / max(t1 - t0, 1))


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.0f}%"


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def say_run(label: str, r: Run, note: str = "") -> None:
    load = f"other load {_pct(r.other_load):>4}"
    say(f"  {label:<34} {r.seconds:7.2f} s {r.cpu_seconds:6.1f} cpu-s  {load}  {note}".rstrip())


# --------------------------------------------------------------------------------------------
# the report


def fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def render(bench: Bench, metas: list[dict]) -> str:
    rows = bench.rows
    base: dict[tuple[str, str], float] = {(r.file, r.kind): r.run.seconds for r in rows if r.kind}
    lines = [
        "# tunelint check: speed relative to baselines",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"tunelint -j {bench.args.jobs or 'default (all cores)'} from {bench.source}, "
        f"{bench.args.repeat} timed run(s) per cell (the fastest) and one that samples memory, "
        f"CPUs busy before the runs: {_pct(bench.busy_before)}, after: {_pct(cpu_busy())}",
        "",
        "| file | tool | seconds | ratio vs cookbook | ratio vs together "
        "| CPU s | other load | peak MB (max RSS) | peak MB (tree PSS) | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cb, tg = base.get((r.file, "cookbook")), base.get((r.file, "together"))
        tree = "–" if r.run.tree_pss_mb is None else f"{r.run.tree_pss_mb:.0f}"
        vs_cb = fmt_ratio(r.run.seconds / cb if cb else None)
        vs_tg = fmt_ratio(r.run.seconds / tg if tg else None)
        lines.append(
            f"| {r.file} | {r.tool} | {r.run.seconds:.2f} | {vs_cb} | {vs_tg} "
            f"| {r.run.cpu_seconds:.1f} | {_pct(r.run.other_load)} "
            f"| {r.run.max_rss_mb:.0f} | {tree} | {r.note} |"
        )

    loaded = [r for r in rows if r.run.other_load is not None and r.run.other_load > 10]
    if loaded:
        lines += [
            "",
            f"**Noisy:** other work used more than 10% of the CPUs during {len(loaded)} of these "
            "runs (`other load`); their seconds are inflated. Rerun on a quiet machine.",
        ]

    # the targets, on the largest file
    big = max(metas, key=lambda m: m["examples"])
    big_name = file_label(big)
    by_kind = {r.kind: r for r in rows if r.file == big_name and r.kind}
    cold, warm = by_kind.get("cold"), by_kind.get("warm")
    cb, tg = by_kind.get("cookbook"), by_kind.get("together")
    lines += [
        "",
        f"Targets from the issue (for reference, never a pass/fail; on the {big_name} file):",
        "",
    ]
    lines.append("| target | measured |")
    lines.append("|---|---|")

    def row(target: str, value: float | None, limit: float, unit: str) -> None:
        if value is None:
            lines.append(f"| {target} | not measured |")
        else:
            where = "within" if value <= limit else "over"
            shown = f"{value:.0f}" if unit.strip() == "MB" else f"{value:.2f}"
            lines.append(f"| {target} | {shown}{unit} ({where} the target) |")

    row(
        f"cold ≤ {TARGETS['cold_vs_cookbook']}× cookbook",
        cold.run.seconds / cb.run.seconds if cold and cb else None,
        TARGETS["cold_vs_cookbook"],
        "×",
    )
    row(
        f"warm ≤ {TARGETS['warm_vs_together']}× together",
        warm.run.seconds / tg.run.seconds if warm and tg else None,
        TARGETS["warm_vs_together"],
        "×",
    )
    peak = (
        max((r.run.tree_pss_mb or r.run.max_rss_mb) for r in (cold, warm) if r)
        if (cold or warm)
        else None
    )
    row(f"peak ≤ {TARGETS['peak_mb']} MB (tunelint, tree PSS)", peak, TARGETS["peak_mb"], " MB")
    if cold or warm:
        rss = max(r.run.max_rss_mb for r in (cold, warm) if r)
        lines.append(f"| (largest single process, max RSS) | {rss:.0f} MB |")

    lines += ["", f"Files (generated by bench/datagen.py, seed {bench.args.seed}):", ""]
    for m in metas:
        lines.append(
            f"- {Path(m['paths']['file']).name}: {m['examples']} examples, "
            f"{m['bytes']['file'] / 1e6:.1f} MB (avg {m['avg_bytes_per_example']} B/example), "
            f"{m['tool_examples']} with tools, faults: {m['fault_trailing_comma']} trailing comma, "
            f"{m['fault_wrong_role']} wrong role, "
            f"{m['fault_missing_assistant']} missing assistant; "
            f"warm copy: {m['edited_lines']} lines edited"
        )
    if not bench.together_python:
        lines += [
            "",
            "Together's check_file was not measured: no Python with `together<2` was found "
            "(pass --together-python; see bench/README.md).",
        ]
    if bench.failures:
        lines += ["", "Failures:", ""] + [f"- {f.splitlines()[0]}" for f in bench.failures]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description="Time tunelint check against the cookbook method and Together's check_file."
    )
    ap.add_argument(
        "--sizes",
        default="20000,50000",
        help="comma-separated example counts (default: 20000,50000)",
    )
    ap.add_argument("--quick", action="store_true", help="one 2,000-example file")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument(
        "--repeat", type=int, default=1, help="timed runs per cell; the fastest is reported (default 1); one more "
        "run per cell, not timed, samples memory"
    )
    ap.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=None,
        help="pass -j to tunelint (default: its own default)",
    )
    ap.add_argument(
        "--together-python",
        default=os.environ.get("TOGETHER_PYTHON"),
        help="Python with together<2 installed "
        "(default: $TOGETHER_PYTHON, else this Python if it has it)",
    )
    ap.add_argument(
        "--tunelint",
        default=None,
        help="the tunelint command (default: the one beside this Python)",
    )
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "lint_speed.md")
    ap.add_argument(
        "--regenerate", action="store_true", help="regenerate the data files even if present"
    )
    ap.add_argument(
        "--keep-scratch", action="store_true", help="keep the temporary cache directories"
    )
    args = ap.parse_args()
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]

    together = args.together_python
    if together is None and python_has(sys.executable, "together.utils"):
        together = sys.executable
    elif together is not None and not python_has(together, "together.utils"):
        say(f"warning: {together} cannot import together.utils; Together's check_file is skipped")
        together = None
    tl = shlex.split(args.tunelint) if args.tunelint else tunelint_command()
    bench = Bench(args, tl, together)
    bench.source = source(python_of(tl))
    bench.busy_before = cpu_busy()
    if bench.busy_before is not None and bench.busy_before > 10:
        say(f"note: {bench.busy_before:.0f}% of the CPUs busy with other work: noisy timings")

    metas = []
    for n in sizes:
        t0 = time.perf_counter()
        meta = datagen.generate(n, args.data_dir, seed=args.seed, force=args.regenerate)
        say(
            f"data: {meta['paths']['file']} ({meta['bytes']['file'] / 1e6:.1f} MB, "
            f"ready in {time.perf_counter() - t0:.1f} s)"
        )
        metas.append(meta)

    # warm the OS caches and byte-code of every tool once, untimed
    warm_meta = datagen.generate(200, args.data_dir, seed=args.seed, force=args.regenerate)
    env = bench.env(bench.fresh_cache())
    run_timed("warm-up", bench.lint_cmd(Path(warm_meta["paths"]["file"])), env=env, sample=False)
    run_timed(
        "warm-up",
        [sys.executable, str(HERE / "baselines" / "cookbook.py"), warm_meta["paths"]["file"]],
        env=env,
        sample=False,
    )
    if together:
        run_timed(
            "warm-up",
            [together, str(HERE / "baselines" / "together_check.py"), warm_meta["paths"]["clean"]],
            env=env,
            sample=False,
        )

    try:
        for meta in metas:
            bench.bench_file(meta)
    finally:
        if not args.keep_scratch:
            shutil.rmtree(bench.scratch, ignore_errors=True)

    table = render(bench, metas)
    print(table)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(table, encoding="utf-8")
    say(f"written to {args.results}")
    for f in bench.failures:
        say(f"FAILED: {f}")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
