"""Fine-tunes and evaluations launched from the editor: the trainer runs as a subprocess in its
own process group (never in the server), its JSON-line events drive work-done progress, cancel
interrupts it and escalates, and the finished run's results are read back for the editor.

Runs live under `.tunelint/runs/<time>/` in the workspace; their layout and events are the run
contract (trainer/contract.py), which this module reads and never restates."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from tunelint.children import die_with_parent
from tunelint.linter.atomic import is_inside, write_atomically
from tunelint.trainer.contract import (
    End,
    ExampleResult,
    Metrics,
    RunConfig,
    RunLayout,
    latest_training_run,
    parse_event,
    run_dirs,
    runs_dir,
)

STOP_GRACE_S = 10.0  # SIGINT → SIGTERM after this; SIGTERM → SIGKILL after as long again
READ_CHUNK = 1 << 16  # bytes read at a time from the trainer's stdout and stderr


class RunRefused(ValueError):
    """A launch that must not happen (another run, errors in the data, bad settings, paths outside)."""


class EditorNotes(TypedDict, total=False):
    """`editor.json` in a run the server launched: what it knew at launch."""

    kind: str  # train | eval
    train: str  # the training file
    target: str  # eval: the run evaluated
    validation: str | None  # the file whose lines the results are shown on
    validation_digest: str | None  # its digest then: results on a changed file are stale


@dataclass
class Results:
    """A finished run's results, as the editor shows them."""

    run_dir: Path
    metrics: Metrics
    config: RunConfig | dict
    by_line: dict[int, ExampleResult] = field(default_factory=dict)  # validation line → its result
    validation: str | None = None
    validation_digest: str | None = None

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    @property
    def summary(self) -> str:
        m = self.metrics
        parts = [f"{m.get('model', '?')} {m.get('method', '')}".strip()]
        if m.get("dry_run"):
            parts.append("dry run")
        if m.get("eval_loss_before") is not None and m.get("eval_loss_after") is not None:
            parts.append(f"eval loss {m['eval_loss_after']:.3f} ← {m['eval_loss_before']:.3f}")
        if m.get("exact_match") is not None:
            parts.append(f"exact match {m['exact_match']:.0%}")
        if m.get("status") and m["status"] != "completed":
            parts.append(m["status"])
        return " · ".join(parts)


def digest(path: str) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    except OSError:
        return None


def _editor_notes(run: RunLayout) -> EditorNotes:
    try:
        return json.loads(run.editor_notes.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_editor_notes(run_dir: Path, notes: EditorNotes) -> None:
    run = RunLayout(run_dir)
    if run.path.is_dir():
        write_atomically(run.editor_notes, json.dumps(notes, indent=1) + "\n")


def load_results(run_dir: Path) -> Results | None:
    run = RunLayout(run_dir)
    notes = _editor_notes(run)
    metrics, config = run.read_metrics(), run.read_config()
    if metrics is None or config is None:
        if notes.get("kind") != "eval" or not run.eval_results.is_file():
            return None
        metrics, config = {"model": notes.get("target", "?"), "method": "evaluation", "status": "completed"}, {}
    res = Results(run.path, metrics, config, validation=notes.get("validation", config.get("validation")),
                  validation_digest=notes.get("validation_digest"))
    res.by_line = {rec.line: rec for rec in run.read_eval_results()}
    return res


def latest_results(root: Path) -> Results | None:
    for run in run_dirs(root):
        res = load_results(run.path)
        if res is not None:
            return res
    return None


class Job:
    """One trainer subprocess (`tunelint train` or `tunelint eval`), its events on its stdout."""

    def __init__(self, kind: str, run_dir: Path, argv: list[str]):
        self.kind = kind
        self.run_dir = run_dir
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None
        self.cancelled = False
        self.status: str | None = None
        self.stderr_tail: list[str] = []

    async def start(self, on_event) -> int:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
        try:
            await asyncio.gather(self._read_events(on_event), self._read_stderr())
        except BaseException:
            # a reader that fails (or is cancelled) would leave the trainer blocked on a full pipe,
            # holding its GPU: its whole process group goes with it
            self.kill_now()
            await asyncio.shield(self.proc.wait())
            raise
        code = await self.proc.wait()
        return code

    @classmethod
    def training(cls, train: str, validation: str | None, run: RunLayout, force: bool) -> Job:
        """`tunelint train` into `run`, with the settings file the server wrote there."""
        argv = [sys.executable, "-m", "tunelint", "train", train, "-o", str(run.path), "--settings", str(run.settings),
                "--events", "-"]
        if validation:
            argv += ["--validation", validation]
        if force:
            argv.append("--force")
        return cls("train", run.path, argv)

    @classmethod
    def evaluation(cls, target: RunLayout, data: str, run: RunLayout) -> Job:
        """`tunelint eval` of the training run `target` on `data`, into `run`."""
        return cls("eval", run.path, [sys.executable, "-m", "tunelint", "eval", str(target.path), "--data", data,
                                      "-o", str(run.path), "--events", "-"])

    async def _read_events(self, on_event) -> None:
        assert self.proc and self.proc.stdout
        async for raw in _lines(self.proc.stdout):
            ev = parse_event(raw)
            if ev is None:
                continue
            if isinstance(ev, End):
                self.status = ev.status
            on_event(ev)

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        async for raw in _lines(self.proc.stderr):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.stderr_tail = (self.stderr_tail + [line])[-20:]

    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def cancel(self) -> None:
        """SIGINT (the trainer saves a checkpoint and stops), then SIGTERM, then SIGKILL, to the
        whole process group: no child is left behind."""
        self.cancelled = True
        for sig, wait in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
            if not self.running():
                return
            self._signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=wait)
                return
            except asyncio.TimeoutError:
                continue

    def kill_now(self) -> None:
        if self.running():
            self._signal(signal.SIGKILL)

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


async def _lines(stream: asyncio.StreamReader):
    """The stream's lines (with their "\n"), of any length: iterating the StreamReader itself
    raises on a line over its 64 KiB limit (an evaluation record with a long answer)."""
    buffer = bytearray()
    while True:
        chunk = await stream.read(READ_CHUNK)
        if not chunk:
            break
        start = len(buffer)
        buffer += chunk
        end = buffer.find(b"\n", start)
        if end < 0:
            continue
        cut = buffer.rfind(b"\n") + 1
        lines = bytes(buffer[:cut]).split(b"\n")
        del buffer[:cut]
        for line in lines[:-1]:
            yield line + b"\n"
    if buffer:
        yield bytes(buffer)


def run_folder_arg(root: Path, value: object) -> Path:
    """The run folder a command argument names: a folder name under the workspace's runs, a path
    (relative to the workspace) or a file URI; inside the workspace `root`. ValueError saying why
    otherwise. The one reading of a run argument (show, serve, the run view)."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a run folder name, path or URI, not {value!r:.60}")
    from pygls.uris import to_fs_path

    path = Path(to_fs_path(value) if value.startswith("file:") else value)
    if not path.is_absolute():
        path = runs_dir(root) / path if (runs_dir(root) / path).is_dir() else root / path
    if not is_inside(path, root):
        raise ValueError(f"{path} is outside the workspace {root}")
    return path


def training_run_arg(root: Path | None, value: object, command: str) -> RunLayout:
    """The finished fine-tune a command's argument names (`run_folder_arg`), or when none is
    given the workspace's latest; RunRefused saying why otherwise. `command`: the command's name
    for the messages (tunelint.compare, tunelint.serve)."""
    if root is None:
        raise RunRefused(f"{command}: open a folder (workspace) first: its runs are in .tunelint/runs")
    if value in (None, ""):
        run = latest_training_run(root)
        if run is None:
            raise RunRefused(f"{command}: no finished fine-tune in this workspace: run tunelint.train first, "
                             "or name a run folder")
        return run
    try:
        path = run_folder_arg(root, value)
    except ValueError as e:
        raise RunRefused(f"{command}: {e}") from None
    run = RunLayout(path)
    if not run.is_training_run():
        raise RunRefused(f"{command}: {path} is not a finished training run folder (it needs config.json and "
                         "adapter/ or model/, written by tunelint train)")
    return run
