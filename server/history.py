"""The editor's Runs list, Run view and run comparison: `tunelint.listRuns`, `tunelint.runDetails`
and `tunelint.compareRuns`, answered from the run folders (trainer/history.py reads them; the
server restates nothing of the run contract). Every path is refused unless it is inside the
workspace; a run is named by its folder name under `.tunelint/runs`, its path or its file URI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from tunelint.trainer import history
from tunelint.trainer.contract import runs_dir

from .runs import run_folder_arg

if TYPE_CHECKING:
    from .main import TunelintServer


def _root(ls: TunelintServer) -> Path:
    root = ls.project.root
    if root is None:
        raise ValueError("open a folder (workspace) first: runs are kept in its .tunelint/runs")
    return Path(root)


def _run_path(ls: TunelintServer, value) -> Path:
    """The run folder `value` names, inside the workspace; ValueError otherwise."""
    path = run_folder_arg(_root(ls), value)
    if not path.is_dir():
        raise ValueError(f"no run folder {path}")
    return path


def _args(args) -> list:
    if args is None:
        return []
    return list(args) if isinstance(args, (list, tuple)) else [args]


async def list_runs(ls: TunelintServer, args: list) -> list[dict]:
    """Every run under the workspace's .tunelint/runs, newest first, and those of any folders
    given (run folders or folders of runs, inside the workspace): their summaries."""
    root = _root(ls)
    folders = [runs_dir(root), *(_run_path(ls, a) for a in _args(args))]
    return await asyncio.to_thread(history.list_runs, folders, root)


async def run_details(ls: TunelintServer, args: list) -> dict:
    """One run's summary with its curves, progress, settings and worst validation examples
    (argument: the run's name, path or URI); polled while the run is going."""
    a = _args(args)
    if len(a) != 1:
        raise ValueError("tunelint.runDetails takes one run (its name, path or URI)")
    return await asyncio.to_thread(history.details, _run_path(ls, a[0]))


async def compare_runs(ls: TunelintServer, args: list) -> dict:
    """Two runs side by side (arguments: two runs); refused when they were evaluated on
    different validation files."""
    a = _args(args)
    if len(a) != 2:
        raise ValueError("tunelint.compareRuns takes two runs (names, paths or URIs)")
    first, second = _run_path(ls, a[0]), _run_path(ls, a[1])
    try:
        return await asyncio.to_thread(history.compare, first, second)
    except history.CompareRefused as e:
        raise ValueError(str(e)) from None
