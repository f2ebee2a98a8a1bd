"""Time to the first compare result and to each later one: the compare worker
(`python -m tunelint.trainer.generate`, what the language server's `tunelint.compare` talks to)
keeps the run's models loaded, so a later compare pays only for generation.

    python bench/compare_latency.py                 # trains a tiny run first (CPU, ~30 s)
    python bench/compare_latency.py --run RUN       # an existing run folder
    python bench/compare_latency.py --compares 5 --max-new-tokens 32

Prints each compare's seconds (request sent → done event; the first includes starting the worker
and loading both models) and later/first ratios. Never fails on a timing; exits 1 if a compare fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = [f"What is {a} plus {b}?" for a, b in ((3, 4), (5, 6), (7, 2), (9, 8), (4, 4), (6, 3), (2, 9))]


def tiny_run(folder: Path) -> Path:
    data = folder / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"What is {a} plus {b}?"},
        {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]}) + "\n"
        for a in range(2, 12) for b in range(3, 9)))
    (folder / "tunelint.toml").write_text('profile = "hf"\n')
    out = folder / "run"
    subprocess.run([sys.executable, "-m", "tunelint", "train", str(data), "-o", str(out), "--model", "tiny",
                    "--method", "lora", "--max-steps", "20", "--max-length", "128", "--batch-size", "8"],
                   check=True, cwd=folder, capture_output=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="a training run folder (default: train a tiny one)")
    ap.add_argument("--compares", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else tiny_run(Path(tmp))
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "tunelint.trainer.generate"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        times, loads = [], []
        for i in range(args.compares):
            start = t0 if i == 0 else time.perf_counter()
            q = QUESTIONS[i % len(QUESTIONS)]
            proc.stdin.write(json.dumps({"id": str(i), "run": str(run), "max_new_tokens": args.max_new_tokens,
                                         "messages": [{"role": "user", "content": q}]}) + "\n")
            proc.stdin.flush()
            while True:
                ev = json.loads(proc.stdout.readline() or '{"event": "error", "message": "worker exited"}')
                if ev.get("event") in ("done", "cancelled", "error"):
                    break
            if ev["event"] != "done":
                print(f"compare {i + 1} failed: {ev.get('message')}", file=sys.stderr)
                return 1
            times.append(time.perf_counter() - start)
            loads.append(ev["loads"])
        proc.stdin.close()
        proc.wait(timeout=30)
    print(f"run: {run.name if args.run else 'tiny LoRA (trained now)'}; {args.max_new_tokens} new tokens max, greedy")
    print("| compare | seconds | later / first | models loaded so far |")
    print("|---|---|---|---|")
    for i, (t, n) in enumerate(zip(times, loads, strict=True)):
        print(f"| {i + 1}{' (starts the worker, loads)' if i == 0 else ''} | {t:.3f} | {t / times[0]:.3f} | {n} |")
    later = times[1:]
    if later:
        print(f"later compares: mean {sum(later) / len(later):.3f} s = {sum(later) / len(later) / times[0]:.3f} "
              f"of the first; models loaded once: {loads[-1] == loads[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
