"""The server's commands (`workspace/executeCommand`), in one place: what each does, with which
arguments. server/main.py registers them; a refused command (a bad argument, a run already
going) is shown to the user once and answered as an error."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.linter import baseline
from tunelint.linter.atomic import is_inside

from . import edit_text, history
from .to_lsp import diagnostic, path_to_uri

if TYPE_CHECKING:
    from .main import TunelintServer

CMD_LINT_FILE = "tunelint.lintFile"
CMD_ADD_TO_BASELINE = "tunelint.addToBaseline"
CMD_TRAIN = "tunelint.train"
CMD_EVALUATE = "tunelint.evaluate"
CMD_CANCEL = "tunelint.cancel"
CMD_SHOW_RUN = "tunelint.showRun"
CMD_SERVE = "tunelint.serve"
CMD_STOP_SERVE = "tunelint.stopServe"
CMD_COMPARE = "tunelint.compare"
CMD_LIST_RUNS = "tunelint.listRuns"
CMD_RUN_DETAILS = "tunelint.runDetails"
CMD_COMPARE_RUNS = "tunelint.compareRuns"


async def lint_file(ls: TunelintServer, args: list) -> dict:
    """Lint a file from disk (for files too large for the editor to sync) and publish its
    diagnostics. Argument: a file URI or path inside the workspace (its real path: a symlink
    that leads out is refused); without a workspace folder, refused."""
    path = _argument_path(ls, args)
    project = ls.project
    report = await ls.run(lambda: ls.analysis_linter().lint_paths([path], project.settings_for, project.split_of)[0])
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
        uri=path_to_uri(path), diagnostics=[diagnostic(f, None) for f in report.findings]))
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in report.findings:
        counts[f.severity.value] += 1
    return {"path": path, "examples": report.stats.examples, **counts}


async def add_to_baseline(ls: TunelintServer, args: list) -> dict:
    """Record one finding (uri, line, code) in the project's baseline file (Config.baseline_path:
    the config's `baseline`, else tunelint-baseline.json at the project's root, which the server
    and `tunelint check` then read), as `--write-baseline` would; never outside the workspace."""
    if not isinstance(args, (list, tuple)) or len(args) != 3:
        raise ValueError("tunelint.addToBaseline takes (uri, line, code)")
    uri, line, code = args
    src = ls.docs.get(uri)
    if src is None or not isinstance(line, int) or isinstance(line, bool) or not 0 < line <= src.doc.content_lines:
        raise ValueError(f"no open document line {line} in {uri}")
    if not isinstance(code, str):
        raise ValueError("the rule code must be a string")
    path = ls.project.config.baseline_path
    root = _inside(ls, path)
    text = src.doc.lines[line - 1].rstrip("\r")
    text = text[1:] if line == 1 and text.startswith("\ufeff") else text
    try:
        entries = baseline.add(path, src.path, code, text, line, inside=root)
    except baseline.BaselineError as e:
        raise ValueError(str(e)) from None
    return {"baseline": path, "entries": entries}


def _argument_path(ls: TunelintServer, args) -> str:
    from pygls.uris import to_fs_path

    value = args[0] if isinstance(args, (list, tuple)) and args else args
    if not isinstance(value, str):
        raise ValueError("expected a file URI or path")
    path = to_fs_path(value) if value.startswith("file:") else value
    path = os.path.abspath(path)
    _inside(ls, path)
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path}")
    return path


def _inside(ls: TunelintServer, path: str) -> str:
    """The workspace folder, if `path`'s real path (symlinks followed) is inside it; else a
    refusal that says where the path leads. Without a workspace folder nothing is read or
    written from a path (an editor's buffers need none)."""
    root = ls.project.root
    if root is None:
        raise ValueError(f"{path}: no workspace folder is open; open the folder that holds it")
    if not is_inside(path, root):
        real = os.path.realpath(path)
        how = f" (it leads to {real})" if real != os.path.abspath(path) else ""
        raise ValueError(f"{path} is outside the workspace {root}{how}")
    return str(root)


async def train(ls: TunelintServer, args: list) -> dict:
    """Fine-tune on a training file (uri; default: the workspace's), with options
    ({"validation": path, "force": bool, and training settings, camelCase}); see Training.train."""
    return await ls.training.train(args)


async def evaluate(ls: TunelintServer, args: list) -> dict:
    """Evaluate the last training run on a file (uri; default: the workspace's validation file)."""
    return await ls.training.evaluate(args)


async def cancel(ls: TunelintServer, args: list) -> dict:
    """Stop the run in progress (it saves a checkpoint)."""
    return await ls.training.cancel(args)


async def show_run(ls: TunelintServer, args: list) -> dict:
    """Open the last run's loss curve (or its folder); answers its summary and metrics."""
    return await ls.training.show_run(args)


async def compare(ls: TunelintServer, args: list) -> dict:
    """Generate with the base and the fine-tuned model on one example line (uri, line (0-based),
    run (optional)); see server/compare.py."""
    return await ls.comparing.compare(args)


async def serve(ls: TunelintServer, args: list) -> dict:
    """Serve a run (name or path; default: the latest fine-tune) on a port (default 8000, or a free
    one) as an OpenAI-compatible endpoint; answers {"url", "models", "pid"}; see server/serving.py."""
    return await ls.serving.serve(args)


async def stop_serve(ls: TunelintServer, args: list) -> dict:
    """Stop the endpoint tunelint.serve started: {"stopped": bool}."""
    return await ls.serving.stop(args)


# name → handler(server, arguments): every command the server offers
COMMANDS = {
    CMD_LINT_FILE: lint_file,
    CMD_ADD_TO_BASELINE: add_to_baseline,
    CMD_TRAIN: train,
    CMD_EVALUATE: evaluate,
    CMD_CANCEL: cancel,
    CMD_SHOW_RUN: show_run,
    CMD_SERVE: serve,
    CMD_STOP_SERVE: stop_serve,
    CMD_COMPARE: compare,
    CMD_LIST_RUNS: history.list_runs,  # [] or [folder...] -> [summary...]; see server/history.py
    CMD_RUN_DETAILS: history.run_details,  # [run] -> {summary..., curves, progress, settings, worst_examples}
    CMD_COMPARE_RUNS: history.compare_runs,  # [a, b] -> {a, b, metrics, settings_differ, lines}
    edit_text.CMD_EDIT_TEXT: edit_text.edit_text,  # [uri, line, path] -> {text, kind, language, token}
    edit_text.CMD_WRITE_TEXT: edit_text.write_text,  # [token, text] -> {applied, token}; see server/edit_text.py
}
