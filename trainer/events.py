"""The event writer: rank 0 writes each event (trainer/contract.py defines them) as a JSON line
to the run's `events.jsonl` and, with `--events -`, to stdout.

When stdout's reader goes away (the server killed, `| head`), writing raises BrokenPipeError:
the writer then stops writing to stdout (events.jsonl goes on), points stdout at /dev/null (so
neither what is buffered nor the interpreter's last flush raises again) and calls
`on_stdout_lost`: the trainer's cancel, which saves a checkpoint and stops."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

from .contract import Event


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def to_devnull(stream) -> None:
    """Point a standard stream whose reader is gone at /dev/null: what it has buffered, and what
    is written to it later (a print, the interpreter's flush at exit), goes nowhere instead of
    raising BrokenPipeError."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):  # no descriptor (a replaced stream): nothing to point
        pass


class Events:
    def __init__(self, path: str | os.PathLike | None, to_stdout: bool = False,
                 on_stdout_lost: Callable[[], None] | None = None):
        self.main = is_main_process()
        self.to_stdout = to_stdout and self.main
        self.on_stdout_lost = on_stdout_lost
        self.file = open(path, "a", encoding="utf-8") if (path and self.main) else None  # noqa: SIM115

    def emit(self, event: Event) -> None:
        if not self.main:
            return
        line = json.dumps(event.to_json(), ensure_ascii=False, default=str)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
        if self.to_stdout:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                self.to_stdout = False
                to_devnull(sys.stdout)
                if self.on_stdout_lost is not None:
                    self.on_stdout_lost()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
