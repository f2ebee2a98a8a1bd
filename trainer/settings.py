"""Training settings: `[tool.tunelint.train]` in the config, overridden by command-line options."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class TrainError(RuntimeError):
    """A problem the user can fix; the message says how. Exit code 2 (1 for dataset errors)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class TrainSettings:
    model: str = "tiny"
    method: str = "lora"  # lora | full
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float | None = None  # None: 2e-4 for LoRA, 2e-5 for full (1e-3 for the tiny model)
    max_length: int = 1024
    batch_size: int = 4
    grad_accum: int = 1
    packing: bool = False
    seed: int = 42
    gradient_checkpointing: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    eval_max_new_tokens: int = 128
    logging_steps: int = 5
    checkpoint_steps: int = 50

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if self.model == "tiny":  # random weights: LoRA needs a large step to move them at all
            return 2e-2 if self.method == "lora" else 3e-3
        return 2e-4 if self.method == "lora" else 2e-5


FIELDS = {f.name for f in dataclasses.fields(TrainSettings)}


def resolve(config_train: dict, cli: dict) -> TrainSettings:
    """Config values, then command-line values (None means 'not given')."""
    values = {}
    for source, where in ((config_train, "[tool.tunelint.train]"), (cli, "command line")):
        for k, v in source.items():
            key = k.replace("-", "_")
            if v is None:
                continue
            if key not in FIELDS:
                raise TrainError(f"{where}: unknown training setting {k!r} (known: {', '.join(sorted(FIELDS))})")
            values[key] = v
    s = TrainSettings(**values)
    if s.method not in ("lora", "full"):
        raise TrainError(f"method must be lora or full, not {s.method!r}")
    for name in ("max_length", "batch_size", "grad_accum", "lora_r"):
        if not isinstance(getattr(s, name), int) or getattr(s, name) <= 0:
            raise TrainError(f"{name} must be a positive integer")
    if s.epochs <= 0 and s.max_steps <= 0:
        raise TrainError("give a positive --epochs or --max-steps")
    return s
