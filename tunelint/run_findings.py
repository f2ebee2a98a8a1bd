"""`tunelint check --dynamics RUN`: a fine-tune's hardest-to-learn training lines as findings
(TL950, linter/rules/dynamics.py), from the run's `train_dynamics.jsonl`; stale when the training
file changed since the run (its digest in the run's config.json differs)."""

from __future__ import annotations

import os
from pathlib import Path

from tunelint.linter.findings import Finding
from tunelint.linter.rule import get_rule
from tunelint.trainer import dynamics
from tunelint.trainer.contract import RunLayout

CODE = "TL950"
TOP_DEFAULT = 10


class RunUnreadable(ValueError):
    """The run given has no training dynamics to report (exit 2, with why)."""


def load(run: str | Path) -> tuple[RunLayout, str, list]:
    """(the run, its training file, its lines' dynamics); RunUnreadable saying why not."""
    layout = RunLayout(run)
    config = layout.read_config()
    if config is None:
        raise RunUnreadable(f"--dynamics {run}: not a training run folder (no readable {RunLayout.CONFIG})")
    rows = layout.read_train_dynamics()
    if not rows:
        raise RunUnreadable(f"--dynamics {run}: the run has no {RunLayout.TRAIN_DYNAMICS} (trained before tunelint "
                            "recorded training dynamics, with `dynamics = false`, or not finished)")
    return layout, os.path.abspath(config["data"]), rows


def findings(run: str | Path, paths: list[str], settings_for, top: int) -> tuple[list[Finding], str | None]:
    """The TL950 findings of the run on those of `paths` that are its training file, and a note
    (the training file was not among them, or changed since the run)."""
    layout, data, rows = load(run)
    mine = [p for p in paths if os.path.abspath(p) == data]
    if not mine:
        return [], f"--dynamics: the run {layout.name} trained on {data}, which is not among the files checked"
    stale = dynamics.is_stale(layout.read_config() or {}, dynamics.file_digest(data))
    out = []
    for path in mine:
        settings = settings_for(path)
        if not settings.enabled(CODE):
            continue
        rule = get_rule(CODE)
        severity = settings.severity_of(CODE, rule.severity)
        texts = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        for r in dynamics.hardest(rows, top):
            text = texts[r["line"] - 1] if r["line"] <= len(texts) else ""
            message = f"{dynamics.describe(r)} (run {layout.name})"
            if stale:
                message += "; stale: the file changed since the run"
            out.append(Finding(path, r["line"], 1, r["line"], max(len(text), 1) + 1, CODE, rule.name,
                               severity, message))
    return out, ("the training file changed since the run: its TL950 findings may be on other lines" if stale
                 else None)
