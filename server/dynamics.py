"""The last fine-tune's training dynamics on the training file's lines: an inlay hint with each
line's confidence, a hover with its epochs and base loss, information diagnostics (TL950) on the
N hardest-to-learn lines; all marked stale when the file changed since the run. Read from the
run's `train_dynamics.jsonl` (trainer/contract.py); the regions and words are trainer/dynamics.py's."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.trainer import dynamics
from tunelint.trainer.contract import LineDynamics, RunLayout, run_dirs

from .to_lsp import hint_place, line_information, visible_lines

if TYPE_CHECKING:
    from .project import Source

CODE = "TL950"


@dataclass
class Dynamics:
    """A training run's dynamics, by training line."""

    run_dir: Path
    data: str  # the training file, absolute
    config: dict
    by_line: dict[int, LineDynamics] = field(default_factory=dict)
    _digests: dict = field(default_factory=dict, repr=False)  # uri → (document, version, sha256 of its text)

    def stale(self, src: Source) -> bool:
        if src.doc is None:
            return dynamics.is_stale(self.config, dynamics.file_digest(src.path))
        doc = src.doc
        cached = self._digests.get(doc.uri)
        if cached is None or cached[0] is not doc or cached[1] != doc.version:
            text = doc.text.encode("utf-8", "surrogatepass")
            cached = self._digests[doc.uri] = (doc, doc.version, hashlib.sha256(text).hexdigest())
        return dynamics.is_stale(self.config, cached[2])


def load(run_dir: Path) -> Dynamics | None:
    run = RunLayout(run_dir)
    config = run.read_config()
    if config is None or not config.get("data"):
        return None
    rows = run.read_train_dynamics()
    if not rows:
        return None
    return Dynamics(run.path, os.path.abspath(config["data"]), dict(config), {r["line"]: r for r in rows})


def latest(root: Path) -> Dynamics | None:
    """The newest training run of the workspace that recorded its dynamics."""
    for run in run_dirs(root):
        got = load(run.path)
        if got is not None:
            return got
    return None


def hints(got: tuple[Dynamics, bool] | None, src: Source, rng: types.Range) -> list[types.InlayHint]:
    if got is None or src.doc is None:
        return []
    dyn, stale = got
    out = []
    for n in visible_lines(src.doc, rng):
        r = dyn.by_line.get(n + 1)
        if r is None:
            continue
        label = f"conf {r['confidence']:.2f}" + (" hard" if r["region"] == dynamics.HARD else "")
        if stale:
            label += " (stale)"
        out.append(types.InlayHint(**hint_place(src.doc.lines[n], n), label=label,
                                   tooltip=f"the fine-tune's confidence on this answer: its mean gold-token "
                                           f"probability over {len(r['prob'])} epoch(s), {r['region']} "
                                           f"({dyn.run_dir.name})"))
    return out


def hover(got: tuple[Dynamics, bool] | None, line: int) -> str | None:
    if got is None:
        return None
    dyn, stale = got
    r = dyn.by_line.get(line + 1)
    if r is None:
        return None
    var = f"{r['variability']:.3f}" if r["variability"] is not None else "none (one epoch)"
    base = f"{r['loss_base']:.3f}" if r.get("loss_base") is not None else "not computed"
    return (f"**Training dynamics** `{dyn.run_dir.name}`{' (stale: the file changed since)' if stale else ''}: "
            f"{r['region'].replace('-', ' ')}; confidence {r['confidence']:.3f}, variability {var}, "
            f"base model loss {base}\n\n{dynamics.per_pass(r)}")


def diagnostics(got: tuple[Dynamics, bool] | None, src: Source, hardest: int) -> list[types.Diagnostic]:
    """Information diagnostics on the `hardest` hardest-to-learn lines."""
    if got is None or src.doc is None or hardest <= 0:
        return []
    dyn, stale = got
    out = []
    for r in dynamics.hardest(dyn.by_line.values(), hardest):
        n = r["line"] - 1
        if n >= src.doc.content_lines:
            continue
        out.append(line_information(src.doc, n, CODE, f"{dynamics.describe(r)} (run {dyn.run_dir.name})"
                                    + ("; stale: the file changed since the run" if stale else "")))
    return out
