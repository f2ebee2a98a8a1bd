"""Fine-tunes and evaluations launched from the editor: the trainer runs as a subprocess in its
own process group (never in the server), its JSON-line events drive work-done progress, cancel
interrupts it and escalates, and the finished run's results are read back for the editor.

Runs live under `.tunelint/runs/<time>/` in the workspace."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

RUNS_DIR = Path(".tunelint") / "runs"
STOP_GRACE_S = 10.0  # SIGINT → SIGTERM after this; SIGTERM → SIGKILL after as long again


class RunRefused(ValueError):
    """A launch that must not happen (another run, errors in the data, paths outside)."""


@dataclass
class Results:
    """A finished run's results, as the editor shows them."""

    run_dir: Path
    metrics: dict
    config: dict
    by_line: dict[int, dict] = field(default_factory=dict)  # validation line → eval record
    validation: str | None = None
    validation_digest: str | None = None

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


EDITOR_NOTES = "editor.json"  # what the server knew at launch: the validation file and its digest


def _editor_notes(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / EDITOR_NOTES).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_editor_notes(run_dir: Path, notes: dict) -> None:
    if run_dir.is_dir():
        (run_dir / EDITOR_NOTES).write_text(json.dumps(notes, indent=1) + "\n")


def load_results(run_dir: Path) -> Results | None:
    notes = _editor_notes(run_dir)
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        if notes.get("kind") != "eval" or not (run_dir / "eval_results.jsonl").is_file():
            return None
        metrics, config = {"model": notes.get("target", "?"), "method": "evaluation", "status": "completed"}, {}
    editor = _editor_notes(run_dir)
    res = Results(run_dir, metrics, config, validation=editor.get("validation", config.get("validation")),
                  validation_digest=editor.get("validation_digest"))
    try:
        for line in (run_dir / "eval_results.jsonl").read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            res.by_line[int(rec["line"])] = rec
    except (OSError, json.JSONDecodeError, KeyError, ValueError):
        pass
    return res


def latest_results(root: Path) -> Results | None:
    runs = root / RUNS_DIR
    if not runs.is_dir():
        return None
    for run in sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True):
        res = load_results(run)
        if res is not None:
            return res
    return None


class Job:
    """One trainer subprocess."""

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
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        await asyncio.gather(self._read_events(on_event), self._read_stderr())
        code = await self.proc.wait()
        return code

    async def _read_events(self, on_event) -> None:
        assert self.proc and self.proc.stdout
        async for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if isinstance(ev, dict) and "event" in ev:
                if ev["event"] == "end":
                    self.status = ev.get("status")
                on_event(ev)

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        async for raw in self.proc.stderr:
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


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, SIGTERM when the server dies, even by SIGKILL (the
    trainer then saves a checkpoint and stops). Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def train_argv(train: str, validation: str | None, run_dir: Path, settings: dict, force: bool) -> list[str]:
    argv = [sys.executable, "-m", "tunelint", "train", train, "-o", str(run_dir), "--events", "-"]
    if validation:
        argv += ["--validation", validation]
    flags = {"model": "--model", "method": "--method", "epochs": "--epochs", "maxSteps": "--max-steps",
             "max_steps": "--max-steps", "learningRate": "--learning-rate", "learning_rate": "--learning-rate",
             "maxLength": "--max-length", "max_length": "--max-length", "batchSize": "--batch-size",
             "batch_size": "--batch-size"}
    for key, flag in flags.items():
        value = settings.get(key)
        if value is not None and value != "":
            argv += [flag, str(value)]
    if force:
        argv.append("--force")
    return argv


def eval_argv(target: str, data: str, out_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tunelint", "eval", target, "--data", data, "-o", str(out_dir), "--events", "-"]


def new_run_dir(root: Path, kind: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / RUNS_DIR / (stamp if kind == "train" else f"{stamp}-eval")
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path
