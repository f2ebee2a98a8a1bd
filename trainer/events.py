"""Run events as JSON lines, written by rank 0 only, to `events.jsonl` and optionally stdout.

Each line is one object with `event` and `time` (Unix seconds) plus:

| event | fields |
| --- | --- |
| `start` | `run_dir`, `model`, `method`, `device`, `precision`, `dry_run`, `train_examples`, `eval_examples`, `total_steps`, `trainable_tokens` |
| `step` | `step`, `total_steps`, `epoch`, `progress` (0–1), `eta_s`, `loss` (latest logged) |
| `log` | whatever the trainer logged (`loss`, `learning_rate`, `grad_norm`, ...), with `step` |
| `eval` | `phase` (`before` / `after`), `eval_loss`, `perplexity` |
| `example` | one evaluation record (`line`, `loss`, `loss_base`, `exact_match`, ...) |
| `artifact` | `kind` (`model`, `adapter`, `plot`, `metrics`, `eval_results`, `checkpoint`), `path` |
| `error` | `message` |
| `end` | `status` (`completed` / `cancelled` / `failed`), `duration_s`, `exit_code` |
"""

from __future__ import annotations

import json
import os
import sys
import time


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class Events:
    def __init__(self, path: str | None, to_stdout: bool = False):
        self.main = is_main_process()
        self.to_stdout = to_stdout and self.main
        self.file = open(path, "a", encoding="utf-8") if (path and self.main) else None  # noqa: SIM115

    def emit(self, event: str, **fields) -> None:
        if not self.main:
            return
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, ensure_ascii=False, default=str)
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
