"""The last run's results on the lines they concern, and the run's lenses and actions: inlay
hints (loss after ← before), hover (the generation against the reference), information
diagnostics on the worst examples. Each takes the values it needs: `got` is what
`Training.results_for(src)` answers, the run's results for this file and whether they are stale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from .commands import CMD_CANCEL, CMD_EVALUATE, CMD_SHOW_RUN, CMD_TRAIN
from .to_lsp import hint_place, line_information, path_to_uri, visible_lines

if TYPE_CHECKING:
    from .project import Source
    from .runs import Results

KIND_TRAIN = "source.tunelint.train"
KIND_EVALUATE = "source.tunelint.evaluate"
_ZERO = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))


def hints(got: tuple[Results, bool] | None, src: Source, rng: types.Range) -> list[types.InlayHint]:
    if got is None or src.doc is None:
        return []
    res, stale = got
    out = []
    for n in visible_lines(src.doc, rng):
        rec = res.by_line.get(n + 1)
        if rec is None or rec.loss is None:
            continue
        label = f"loss {rec.loss:.2f}"
        if rec.loss_base is not None:
            label += f" ← {rec.loss_base:.2f}"
        if rec.exact_match:
            label += " ✓"
        if stale:
            label += " (stale)"
        out.append(types.InlayHint(**hint_place(src.doc.lines[n], n), label=label,
                                   tooltip=f"after ← before fine-tuning ({res.run_dir.name})"))
    return out


def hover(got: tuple[Results, bool] | None, line: int) -> str | None:
    if got is None:
        return None
    res, stale = got
    rec = res.by_line.get(line + 1)
    if rec is None:
        return None
    loss = f"{rec.loss:.3f}" if rec.loss is not None else "?"
    base = f"{rec.loss_base:.3f}" if rec.loss_base is not None else "?"
    return (f"**Last run** `{res.run_dir.name}`{' (stale: the file changed since)' if stale else ''}: "
            f"loss {loss} (before {base}), exact match {'yes' if rec.exact_match else 'no'}, "
            f"token F1 {rec.token_f1 or 0:.2f}\n\n**Generated**\n```text\n{rec.generation or ''}\n```\n"
            f"**Reference**\n```text\n{rec.reference or ''}\n```")


def diagnostics(got: tuple[Results, bool] | None, src: Source, worst: int) -> list[types.Diagnostic]:
    """Information diagnostics on the `worst` examples the fine-tuned model does worst on."""
    if got is None or src.doc is None or worst <= 0:
        return []
    res, stale = got
    ranked = sorted((r for r in res.by_line.values() if r.loss is not None), key=lambda r: -r.loss)
    out = []
    for rank, rec in enumerate(ranked[:worst], 1):
        n = rec.line - 1
        if n >= src.doc.content_lines:
            continue
        out.append(line_information(
            src.doc, n, "run", f"worst {rank} of {len(ranked)} after fine-tuning: loss {rec.loss:.3f}"
            + (f" (before {rec.loss_base:.3f})" if rec.loss_base is not None else "")
            + (" — stale: the file changed since the run" if stale else "")))
    return out


def lenses(src: Source, split: str | None, *, running: bool, fine_tune: str, results: Results | None,
           last_training_run: str | None) -> list[types.CodeLens]:
    """On a training file: Fine-tune (`fine_tune`: what it would train) or Cancel, and the last
    run's summary; on a validation file: Evaluate the last training run."""
    uri = src.doc.uri if src.doc else path_to_uri(src.path)
    out = []
    if split == "train":
        title = "$(stop) Cancel run" if running else f"▶ Fine-tune ({fine_tune})"
        out.append(types.CodeLens(range=_ZERO, command=types.Command(
            title=title, command=CMD_CANCEL if running else CMD_TRAIN, arguments=[] if running else [uri])))
        if results is not None and results.metrics.get("method") != "evaluation":
            out.append(types.CodeLens(range=_ZERO, command=types.Command(
                title=f"last run: {results.summary}", command=CMD_SHOW_RUN, arguments=[])))
    elif split == "validation" and last_training_run is not None and not running:
        out.append(types.CodeLens(range=_ZERO, command=types.Command(
            title=f"▶ Evaluate (run {last_training_run})", command=CMD_EVALUATE, arguments=[uri])))
    return out


def actions(src: Source, split: str | None, wants) -> list[types.CodeAction]:
    uri = src.doc.uri
    out = []
    if split == "train" and wants(KIND_TRAIN):
        out.append(types.CodeAction(title="tunelint: fine-tune on this file", kind=KIND_TRAIN,
                                    command=types.Command(title="Fine-tune", command=CMD_TRAIN, arguments=[uri])))
    if split == "validation" and wants(KIND_EVALUATE):
        out.append(types.CodeAction(title="tunelint: evaluate the last run on this file", kind=KIND_EVALUATE,
                                    command=types.Command(title="Evaluate", command=CMD_EVALUATE, arguments=[uri])))
    return out
