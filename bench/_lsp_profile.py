"""The LSP benchmark's profiled server (`--profile OUT`): `tunelint server` with cProfile on its
event-loop thread and its analysis thread, switched on and dumped by signals from the benchmark,
and the tables made of the profile.

    python bench/_lsp_profile.py OUT     # started by lsp_latency.py with tunelint's Python

Only the standard library and tunelint are imported here: the profiled server runs under the
measured tunelint's Python, which need not have the benchmark's other modules.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def hooks(prof: Path):
    """The two hooks run_sessions takes: SIGUSR1 once the first edit is answered (profiling on),
    SIGUSR2 before shutdown (profile dumped to `prof`, waited for up to 60 s)."""

    async def first_edit(run) -> None:
        os.kill(run.pid, signal.SIGUSR1)

    async def before_shutdown(run) -> None:
        os.kill(run.pid, signal.SIGUSR2)
        deadline = time.time() + 60
        while not prof.exists() and time.time() < deadline:
            await asyncio.sleep(0.1)

    return first_edit, before_shutdown


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


if __name__ == "__main__":
    serve_profiled(sys.argv[1])
