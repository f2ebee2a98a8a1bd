"""Does the training data map find wrong answers? A measurable case without a model hub.

1. A tiny model gets a prior: `tunelint train --model tiny` on clean examples (half of a real
   dataset, ../shared/data/real/gsm8k_train.jsonl by default, with its validation file).
2. The other half is copied and a known share of its answers corrupted: the answers of the
   chosen lines are swapped among them (each gets another chosen line's answer, none its own).
3. That prior is fine-tuned on the corrupted copy (`tunelint train --model <prior>`), which records
   the training dynamics (train_dynamics.jsonl).
4. Precision and recall at k = the number of corrupted lines, of three rankings measured in the
   same run: the data map's hard-to-learn region (least confident first), the final training loss
   alone (the fine-tuned model's loss on each training example, a separate forward pass), and the
   base model's loss alone (the prior's, before fine-tuning).

Prints a Markdown table (and writes it to bench/results/data_map.md). Skips, with the reason,
when the real data is absent. Never fails on a figure.

    python bench/data_map.py                 # ~5-10 minutes on 2 busy cores
    python bench/data_map.py --corrupt 0.05 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "real"
RESULTS = REPO / "bench" / "results"


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def last_answer(ex: dict) -> int:
    return max(i for i, m in enumerate(ex["messages"]) if m["role"] == "assistant")


def corrupt(examples: list[dict], share: float, rnd: random.Random) -> tuple[list[dict], set[int]]:
    """A copy with round(share × n) answers swapped among their lines (a derangement); the 1-based
    lines corrupted."""
    out = json.loads(json.dumps(examples))
    k = max(2, round(share * len(out)))
    chosen = rnd.sample(range(len(out)), k)
    answers = [out[i]["messages"][last_answer(out[i])]["content"] for i in chosen]
    for j, i in enumerate(chosen):  # each takes the next chosen line's answer: none keeps its own
        out[i]["messages"][last_answer(out[i])]["content"] = answers[(j + 1) % k]
    return out, {i + 1 for i in chosen}


def train(args: list[str], cwd: Path) -> float:
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", *args], cwd=cwd, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    if r.returncode != 0:
        sys.exit(f"tunelint train {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return time.time() - t0


def final_losses(model_dir: Path, data: Path, max_length: int) -> dict[int, float | None]:
    """The fine-tuned model's mean loss on each training example's trained tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunelint.trainer.data import encode, load_examples
    from tunelint.trainer.scoring import example_losses

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    enc = [e for e in (encode(tok, ex, max_length) for ex in load_examples(str(data))) if e.trained]
    return {e.line: loss for e, loss in zip(enc, example_losses(model, enc, "cpu"), strict=True)}


def at_k(ranked: list[int], truth: set[int], k: int) -> tuple[float, float]:
    hits = len(set(ranked[:k]) & truth)
    return hits / k, hits / len(truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REAL / "gsm8k_train.jsonl")
    ap.add_argument("--prior-extra", type=Path, default=REAL / "gsm8k_validation.jsonl",
                    help="more clean examples for the prior (skipped when absent)")
    ap.add_argument("--corrupt", type=float, default=0.08, help="share of the fine-tuning answers swapped")
    ap.add_argument("--prior-epochs", type=float, default=12)
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--max-length", type=int, default=320)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "data" / "data_map")
    ap.add_argument("--reuse-prior", action="store_true",
                    help="keep the prior of an earlier run with the same data and seed (it is most of the time)")
    a = ap.parse_args()
    if not a.data.is_file():
        print(f"skipped: {a.data} is absent (the real datasets live in ../shared/data/real/, see SOURCES.md)")
        return
    rnd = random.Random(a.seed)
    examples = read(a.data)
    rnd.shuffle(examples)
    half = len(examples) // 2
    prior = examples[:half] + (read(a.prior_extra) if a.prior_extra.is_file() else [])
    tuned, truth = corrupt(examples[half:], a.corrupt, rnd)
    work = a.work
    prior_text = "".join(json.dumps(x) + "\n" for x in prior)
    reuse = (a.reuse_prior and (work / "prior" / "model").is_dir() and (work / "prior.jsonl").is_file()
             and (work / "prior.jsonl").read_text() == prior_text)
    import shutil

    if work.exists():
        shutil.rmtree(work / "run" if reuse else work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / "tunelint.toml").write_text('profile = "hf"\n')
    (work / "prior.jsonl").write_text(prior_text)
    (work / "train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in tuned))
    common = ["--method", "full", "--max-length", str(a.max_length), "--batch-size", "8", "--seed", str(a.seed),
              "--learning-rate", "3e-3", "--logging-steps", "20", "--checkpoint-steps", "100000", "--force"]
    t_prior = 0.0 if reuse else train(["prior.jsonl", "-o", "prior", "--model", "tiny", "--epochs", str(a.prior_epochs),
                     "--no-dynamics", *common], work)
    t_tune = train(["train.jsonl", "-o", "run", "--model", str(work / "prior" / "model"), "--epochs", str(a.epochs),
                    *common], work)
    rows = [json.loads(x) for x in (work / "run" / "train_dynamics.jsonl").read_text().splitlines()]
    summary = json.loads((work / "run" / "metrics.json").read_text())["dynamics"]
    t0 = time.time()
    final = final_losses(work / "run" / "model", work / "train.jsonl", a.max_length)
    t_final = time.time() - t0

    from tunelint.trainer.dynamics import HARD, hardest

    k = len(truth)
    region = [r["line"] for r in rows if r["region"] == HARD]
    rankings = {
        "data map: hard-to-learn, least confident first": [r["line"] for r in hardest(rows, len(rows))],
        "final training loss alone (highest first)": sorted(final, key=lambda n: -(final[n] or 0)),
        "base model loss alone (highest first)": sorted((r["line"] for r in rows),
                                                       key=lambda n: -(by(rows, n)["loss_base"] or 0)),
    }
    lines = [f"data: {a.data.name} — prior on {len(prior)} clean examples ({a.prior_epochs:g} epochs), fine-tuned on "
             f"{len(tuned)} with {k} answers swapped ({k / len(tuned):.1%}), {a.epochs:g} epochs, tiny model "
             f"(2 layers, hidden 64), seed {a.seed}",
             f"time: prior {f'{t_prior:.0f} s' if not reuse else 'reused'}, fine-tune (recording) {t_tune:.0f} s, "
             "the final-loss baseline's "
             f"forward pass {t_final:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
             f"hard-to-learn region: {len(region)} lines (confidence ≤ {summary['confidence_threshold']:.4f}, "
             f"the run's 25th percentile); in it {len(set(region) & truth)} of the {k} corrupted "
             f"(precision {len(set(region) & truth) / max(len(region), 1):.2f}, "
             f"recall {len(set(region) & truth) / k:.2f})",
             "",
             f"| ranking | precision@{k} | recall@{k} |", "| --- | --- | --- |"]
    if len(region) < k:
        lines.insert(3, f"(the region holds fewer than k = {k} lines: its ranking goes on with the other lines, "
                        "least confident first)")
    for name, ranked in rankings.items():
        if name.startswith("data map") and len(region) < k:
            rest = sorted((r for r in rows if r["region"] != HARD), key=lambda r: r["confidence"])
            ranked = ranked + [r["line"] for r in rest]
        p, rec = at_k(ranked, truth, k)
        lines.append(f"| {name} | {p:.2f} | {rec:.2f} |")
    lines.append(f"| random (expected) | {k / len(tuned):.2f} | {k / len(tuned):.2f} |")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data_map.md").write_text(text + "\n")


def by(rows: list[dict], line: int) -> dict:
    return next(r for r in rows if r["line"] == line)


if __name__ == "__main__":
    main()
