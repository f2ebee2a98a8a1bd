"""The event writer: rank 0 writes each event (trainer/contract.py defines them) as a JSON line
to the run's `events.jsonl` and, with `--events -`, to stdout."""

from __future__ import annotations

import json
import os
import sys

from .contract import Event


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class Events:
    def __init__(self, path: str | os.PathLike | None, to_stdout: bool = False):
        self.main = is_main_process()
        self.to_stdout = to_stdout and self.main
        self.file = open(path, "a", encoding="utf-8") if (path and self.main) else None  # noqa: SIM115

    def emit(self, event: Event) -> None:
        if not self.main:
            return
        line = json.dumps(event.to_json(), ensure_ascii=False, default=str)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
        if self.to_stdout:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
