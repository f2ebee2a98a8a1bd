"""How fast does the language server answer an edit, relative to a naive server, in one run?

    python bench/lsp_latency.py --quick        # 30 edits, ~1 minute (+ data generation once)
    python bench/lsp_latency.py                # 200 edits
    python bench/lsp_latency.py --profile /tmp/server.prof   # + a profiled tunelint session
    python bench/lsp_latency.py --tunelint-python /work/before/.venv/bin/python   # another tunelint

On a generated 20,000-line (~16 MB) chat file, opened in a temporary workspace whose
tunelint.toml says `profile = "hf"` (every rule on, o200k token counts), it measures:

1. edit -> diagnostics: N single-character edits (didChange with an incremental range) on random
   lines, each timed from writing the didChange to reading the publishDiagnostics for that
   document version, for `tunelint server` and for the naive baseline server
   (baselines/naive_lsp.py: pygls' own document store, json.loads on every line on every change);
2. open: didOpen (full text) -> first diagnostics, the server with an empty cache, against the
   CLI's cold `tunelint check FILE` with an empty cache;
3. memory: the server's peak RSS (VmHWM) and that of its worker processes, read just before
   shutdown, and the sampled peak of the whole process tree;
4. progressive open (_lsp_progressive.py): a 200-line validation.jsonl opened at once in a
   workspace whose train.jsonl is that file, on disk: didOpen -> its own findings, and -> its
   leakage findings, with an empty cache and then a warm one.

Both servers run at once, the file opened in one then the other, and the edits are interleaved:
edit k goes to each server in turn, so that other work on the machine hits both alike. Timings
are reported with ratios to the baseline measured in the same run, never asserted: the script
exits 0 unless a server crashed or an answer never came. See bench/README.md.

This file is the command line; the parts are:
  _lsp_data.py     the generated file and the edit sequence
  _lsp_client.py   the client (pygls' LanguageClient; where and why it stamps its own times)
  _lsp_session.py  the scenario: start, open, the interleaved edits, shutdown; the CLI's cold run
  _proc.py         memory, CPU and load read from /proc
  _lsp_report.py   the table and its notes
  _lsp_progressive.py  the progressive open
  _lsp_profile.py  the profiled server (--profile)
  _tunelint.py     which tunelint is measured (--tunelint-python)
  baselines/naive_lsp.py   the naive server
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _lsp_profile  # noqa: E402
import _lsp_progressive  # noqa: E402
from _lsp_data import generate, make_edits  # noqa: E402
from _lsp_report import report  # noqa: E402
from _lsp_session import ServerRun, pct, run_cli, run_sessions, say  # noqa: E402
from _tunelint import probe, run_python  # noqa: E402


def debounce_ms(python: str) -> str:
    """The measured server's debounce, for the note under the table."""
    try:
        r = run_python(python, "from tunelint.server.main import DEBOUNCE_S; print(DEBOUNCE_S)")
        return f"DEBOUNCE_S = {1000 * float(r.stdout):.0f} ms"
    except Exception as e:  # noqa: BLE001 - only for the note
        return f"DEBOUNCE_S unknown: {e}"


def parse_args() -> argparse.Namespace:
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
        "--no-progressive", action="store_true", help="leave out the progressive-open sessions"
    )
    ap.add_argument(
        "--only-progressive",
        action="store_true",
        help="only the progressive-open sessions (no edits, no CLI run)",
    )
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
    ap.add_argument(
        "--tunelint-python",
        default=sys.executable,
        help="the Python whose tunelint is measured: the server, the CLI's cold run and the "
        "profiled server run with it (default: this Python). The naive server always runs "
        "with the benchmark's own Python",
    )
    return ap.parse_args()


def profiled_session(args, py, tunelint, env, ws, path, scratch, text, edits, failures) -> str:
    """One more tunelint session under cProfile; its tables (or '' when no profile came)."""
    prof = args.profile.resolve()
    prof.unlink(missing_ok=True)
    say("profiled session (timings inflated by the profiler, not reported):")
    first_edit, before_shutdown = _lsp_profile.hooks(prof)
    cmd = [py, str(HERE / "_lsp_profile.py"), str(prof)]
    ps = run_sessions(
        [ServerRun("profiled server", cmd, env("profiled"), ws, path, args, scratch)],
        text,
        edits,
        args.gap,
        on_first_edit=first_edit,
        before_shutdown=before_shutdown,
    )[0]
    if not prof.exists():
        failures.append(f"profiled server: no profile written{': ' + ps.error if ps.error else ''}")
        return ""
    roots = sorted({d + "/" for d in tunelint.get("dirs", {}).values() if d})
    profiled = max(1, len(ps.latencies_ms) - 1)
    return (
        "\n\n## Profile of the server per edit (cProfile on the event loop and analysis "
        f"threads, from the 2nd edit to the last: {profiled} edits; p95 under the "
        f"profiler {pct(sorted(ps.latencies_ms), 95):.1f} ms)\n\n"
        + _lsp_profile.gc_report(prof, profiled)
        + _lsp_profile.profile_report(prof, profiled, roots)
    )


def main() -> int:
    args = parse_args()
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

    py = args.tunelint_python
    tunelint = probe(py)
    if not tunelint:
        say(f"FAILED: {py} cannot import tunelint")
        return 1
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
        f"tunelint {tunelint['root']} @ {tunelint['describe'] or '?'}; "
        f"Python {tunelint['python_version']}; "
        f"{os.cpu_count()} CPUs; load average before the runs {loadavg}; "
        'tunelint.toml: profile = "hf" (every rule, o200k_base token counts); '
        f"pause between edits {args.gap * 1000:.0f} ms. Ratios are against the baseline "
        "measured in this run. Targets are for reference, never pass/fail.",
    ]
    say(f"tunelint {tunelint['root']} @ {tunelint['describe'] or '?'} (Python {py})")
    say(f"load average {loadavg}")

    # untimed warm-up: byte-code and the disk cache warm for every process alike
    warm = scratch / "warm"
    warm.mkdir()
    (warm / "tunelint.toml").write_text('profile = "hf"\n')
    (warm / "small.jsonl").write_text("".join(line + "\n" for line in lines[:200]))
    run_cli([py, "-m", "tunelint", "check", str(warm / "small.jsonl")], env("warmup"), warm)

    tl_cmd = [py, "-m", "tunelint", "server"]
    if args.only_progressive:
        pws, vpath = _lsp_progressive.workspace(scratch, args.data_dir, meta["path"], args.seed)
        runs = _lsp_progressive.measure(tl_cmd, env("progressive"), pws, vpath, scratch)
        out = "\n".join(header) + _lsp_progressive.table(runs, "tunelint server")
        print(out)
        if not args.keep_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        return 1 if any(r.error for r in runs) else 0

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
    runs = [ServerRun("tunelint server", tl_cmd, env("server"), ws, path, args, scratch)]
    if not args.no_naive:  # the baseline runs with the benchmark's own Python, whatever is measured
        naive_cmd = [sys.executable, str(HERE / "baselines" / "naive_lsp.py")]
        runs.append(ServerRun("naive server", naive_cmd, env("naive"), ws, path, args, scratch))
    sessions = run_sessions(runs, text, edits, args.gap)
    tl, naive = sessions[0], (sessions[1] if len(sessions) > 1 else None)
    for sess in sessions:
        if sess.error:
            failures.append(f"{sess.name}: {sess.error}")

    out = report(tl, naive, cli, header, debounce_ms(py))
    if not args.no_progressive:
        say("progressive open:")
        pws, vpath = _lsp_progressive.workspace(scratch, args.data_dir, meta["path"], args.seed)
        opens = _lsp_progressive.measure(tl_cmd, env("progressive"), pws, vpath, scratch)
        for r in opens:
            say(f"  {r.label}: own findings {r.own_s} s, with leakage {r.complete_s} s")
            if r.error:
                failures.append(f"progressive open, {r.label}: {r.error}")
        out += _lsp_progressive.table(opens, "tunelint server")
    if args.profile:
        out += profiled_session(args, py, tunelint, env, ws, path, scratch, text, edits, failures)

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
