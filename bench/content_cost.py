"""What each content rule (TLCxxx) costs per 10,000 lines, against the analysis without them.

One process, no cache, no workers: `Analyzer.analyze_many` on the first N lines of
`lint_speed.py`'s generated file (`datagen.py`), timed for the per-line rules without any TLC
rule (the baseline), with the default-on TLC rules, and with each TLC rule alone added to the
baseline. The rows are interleaved round by round (`--repeat`), and each row's fastest round is
reported (other work on the machine only ever adds time). Recognisers are loaded before the
timing (`Analyzer.prepare`, as the CLI does before its workers fork), so a row is the rule's
per-line cost, not its import. The dataset-level TLC402 and TLC201 (without `languages`) ride on
per-line results (TLC401's findings, each line's language), so their rows time what they add per
line. Timings are reported, never asserted.

    python bench/content_cost.py                 # 10,000 lines, 3 rounds: about a minute
    python bench/content_cost.py --lines 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402

from tunelint.linter.analyze import Analyzer  # noqa: E402
from tunelint.linter.langid import available as lingua_available  # noqa: E402
from tunelint.linter.rule import all_rules  # noqa: E402
from tunelint.linter.settings import Settings  # noqa: E402

PER = 10_000


def content_rules() -> list:
    return sorted((r for r in all_rules() if r.code.startswith("TLC")), key=lambda r: r.code)


def rows(lingua: bool) -> list[tuple[str, str, Settings]]:
    """(key, label, settings): the baseline, the default-on set, then each rule alone."""
    out = [("base", "no TLC rule (the baseline)", Settings(ignore=("TLC",))),
           ("default", "the default-on TLC rules", Settings())]
    for r in content_rules():
        if r.code.startswith("TLC2") and not lingua:
            continue
        label = f"{r.code} {r.name}" + ("" if r.default else " (off by default)")
        out.append((r.code, label, Settings(select=("TL", r.code), ignore=("TLC",))))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000, help="lines analysed per row (default 10,000)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds; the fastest is reported")
    ap.add_argument("--size", type=int, default=50_000, help="examples of the generated file they are taken "
                    "from (lint_speed.py's largest; generated once, then reused)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    args = ap.parse_args(argv)

    path = Path(datagen.generate(args.size, args.data_dir, args.seed)["paths"]["file"])  # reused when there
    with open(path, "rb") as f:
        lines = [ln for _, ln in zip(range(args.lines), f, strict=False)]
    lines = [ln.rstrip(b"\n") for ln in lines]
    lingua = lingua_available()
    table = rows(lingua)
    analyzers = {}
    for key, _, settings in table:
        a = Analyzer(settings)
        a.prepare()
        a.analyze_many(lines[:200])  # first use of each recogniser: not timed
        analyzers[key] = a
    best = {key: float("inf") for key, _, _ in table}
    for _ in range(args.repeat):
        for key, _, _ in table:
            t = time.perf_counter()
            analyzers[key].analyze_many(lines)
            best[key] = min(best[key], time.perf_counter() - t)

    scale = PER / len(lines)
    base = best["base"] * scale
    print(f"# Content rules: cost per {PER:,} lines\n")
    print(f"{path.name}, first {len(lines):,} lines, {args.repeat} interleaved round(s), the fastest; "
          f"one process, no cache. Baseline: the per-line analysis without any TLC rule, {base:.2f} s "
          f"per {PER:,} lines." + ("" if lingua else " lingua is not installed: no TLC2xx rows."))
    print()
    print(f"| rules | s per {PER:,} lines | added to the baseline (s) | added (ms per 1,000 lines) | added (%) |")
    print("|---|---:|---:|---:|---:|")
    for key, label, _ in table:
        s = best[key] * scale
        extra = s - base
        cell = "–" if key == "base" else f"{extra:+.3f}"
        per_k = "–" if key == "base" else f"{extra * 1000 / (PER / 1000):+.1f}"
        pct = "–" if key == "base" else f"{100 * extra / base:+.0f}%"
        print(f"| {label} | {s:.3f} | {cell} | {per_k} | {pct} |")
    print("\nEach rule alone includes the one pass over every text that the content rules share "
          "(`content_scan`); the default-on row pays it once, which is why it costs less than "
          "the sum of its rules.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
