"""Training dynamics per training line (Dataset Cartography, Swayamdipta et al. 2020), torch-free:
from the per-pass records the training loss leaves (trainer/loss.py) to `train_dynamics.jsonl`'s
`LineDynamics` (trainer/contract.py), its regions, and the hardest-to-learn lines that the CLI
(`tunelint check --dynamics`) and the language server show.

Regions are relative to the run (quantiles of its own lines), not absolute numbers that fit one
model: a line is **ambiguous** when its variability is in the run's top quarter
(≥ VARIABILITY_QUANTILE), else **hard to learn** when its confidence is in the run's bottom
quarter (≤ CONFIDENCE_QUANTILE), else **easy**. With one pass there is no variability: the regions
are hard to learn / easy by confidence alone, and the summary says so.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from .contract import DynamicsSummary, LineDynamics

CONFIDENCE_QUANTILE = 0.25  # hard to learn: confidence at most the run's 25th percentile
VARIABILITY_QUANTILE = 0.75  # ambiguous: variability at least the run's 75th percentile
HARD = "hard-to-learn"
ONE_PASS = "one pass over the data: no variability, confidence only (no ambiguous region)"

# one record: (line, step, loss, prob, tokens), from one example's trained tokens in one batch
Record = tuple[int, int, float, float, int]


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between order statistics (numpy's default)."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def merge(records: Iterable[Record]) -> dict[int, list[tuple[int, float, float]]]:
    """Per line, its passes in step order: (step, loss, prob). A line split over several records
    of one step (packing with `bfd_split` cuts an example in two) is one pass, token-weighted."""
    by_step: dict[tuple[int, int], list[float]] = {}
    for line, step, loss, prob, tokens in records:
        acc = by_step.setdefault((line, step), [0.0, 0.0, 0])
        acc[0] += loss * tokens
        acc[1] += prob * tokens
        acc[2] += tokens
    out: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for (line, step), (loss, prob, tokens) in sorted(by_step.items()):
        out[line].append((step, loss / tokens, prob / tokens))
    return dict(out)


def summarize(records: Iterable[Record], base_losses: dict[int, float | None] | None = None,
              base_note: str = "computed") -> tuple[list[LineDynamics], DynamicsSummary]:
    """Every recorded line's dynamics, in line order, and the run's summary (thresholds, regions)."""
    passes = merge(records)
    base_losses = base_losses or {}
    rows: list[LineDynamics] = []
    for line in sorted(passes):
        steps, losses, probs = zip(*passes[line], strict=True)
        conf = sum(probs) / len(probs)
        var = math.sqrt(sum((p - conf) ** 2 for p in probs) / len(probs)) if len(probs) > 1 else None
        rows.append({"line": line, "steps": list(steps), "loss": [round(x, 6) for x in losses],
                     "prob": [round(x, 6) for x in probs], "confidence": round(conf, 6),
                     "variability": round(var, 6) if var is not None else None,
                     "loss_base": _rounded(base_losses.get(line)), "region": "easy"})
    most = max((len(r["steps"]) for r in rows), default=0)
    c_cut = quantile([r["confidence"] for r in rows], CONFIDENCE_QUANTILE) if rows else 0.0
    variabilities = [r["variability"] for r in rows if r["variability"] is not None]
    v_cut = quantile(variabilities, VARIABILITY_QUANTILE) if most > 1 and variabilities else None
    for r in rows:
        r["region"] = region(r["confidence"], r["variability"], c_cut, v_cut)
    counts = {name: sum(r["region"] == name for r in rows) for name in ("easy", "ambiguous", HARD)}
    summary: DynamicsSummary = {"examples": len(rows), "passes": most, "confidence_threshold": round(c_cut, 6),
                                "variability_threshold": round(v_cut, 6) if v_cut is not None else None,
                                "regions": counts, "base_loss": base_note, "note": ONE_PASS if most == 1 else None}
    return rows, summary


def region(confidence: float, variability: float | None, c_cut: float, v_cut: float | None) -> str:
    if v_cut is not None and variability is not None and variability >= v_cut and variability > 0:
        return "ambiguous"
    return HARD if confidence <= c_cut else "easy"


def _rounded(x: float | None) -> float | None:
    return round(x, 6) if x is not None and math.isfinite(x) else None


def hardest(rows: Iterable[LineDynamics], n: int) -> list[LineDynamics]:
    """The `n` hard-to-learn lines the model was least confident on, least first."""
    hard = [r for r in rows if r.get("region") == HARD]
    return sorted(hard, key=lambda r: (r["confidence"], r["line"]))[:max(n, 0)]


def write(path: Path, rows: list[LineDynamics]) -> None:
    from tunelint.linter.atomic import write_atomically

    write_atomically(path, "".join(json.dumps(r) + "\n" for r in rows))


def describe(r: LineDynamics) -> str:
    """A line's dynamics in words: the diagnostic's and the finding's message."""
    passes = len(r["prob"])
    over = f"over {passes} epoch{'s' * (passes != 1)}"
    base = f"; base model loss {r['loss_base']:.3f}" if r.get("loss_base") is not None else ""
    return (f"hard to learn: the model's confidence stayed at {r['confidence']:.3g} {over} "
            f"(final loss {r['loss'][-1]:.3f}{base}); check the answer")


def per_pass(r: LineDynamics) -> str:
    """The passes as a Markdown table (the hover)."""
    rows = ["| epoch | step | gold-token probability | loss |", "| --- | --- | --- | --- |"]
    rows += [f"| {i} | {step} | {p:.3f} | {loss:.3f} |"
             for i, (step, p, loss) in enumerate(zip(r["steps"], r["prob"], r["loss"], strict=True), 1)]
    return "\n".join(rows)


def training_digest(config: dict) -> str | None:
    """The training file's sha256 when the run started (config.json's lint summary), or None."""
    summary = (config.get("lint") or {}).get(os.path.abspath(config.get("data") or ""))
    return summary.get("sha256") if isinstance(summary, dict) else None


def file_digest(path: str) -> str | None:
    """The sha256 of a file's bytes, as the run recorded it (None: unreadable)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def is_stale(config: dict, current: str | None) -> bool:
    """Whether the training file, now of digest `current`, changed since the run (a run that did
    not record its digest: not known, not marked)."""
    then = training_digest(config)
    return then is not None and current != then
