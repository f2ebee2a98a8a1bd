"""Training settings: one model, `TrainSettings`, for every place they are written.

The same settings come from the config (`[tool.tunelint.train]`, snake_case), a settings file
(`tunelint train --settings FILE`: JSON, snake_case; what the language server hands the trainer),
the editor (`tunelint.train.*`, camelCase) and the command line (`--kebab-case`, one option per
field, generated from the fields). Each field below is one key: its type (checked by
`tunelint.options`), its default and its help, which is the option's `--help`. A source sets
only what it names; later sources override earlier ones. A bad value is a `TrainError` naming
the key as its source spells it. Torch-free: the server validates with it before launching.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tunelint.linter.atomic import write_atomically
from tunelint.options import (
    NonNegativeInt,
    OptionsError,
    PositiveFloat,
    PositiveInt,
    camel,
    field_names,
    key_name,
    structure,
)

from .contract import EXIT_USAGE

METHODS = ("lora", "full", "qlora")
REPORTERS = ("none", "tensorboard", "wandb", "mlflow", "trackio")
HELP = "help"  # field metadata: the setting's documentation (the CLI option's help)
CHOICES = "choices"  # field metadata: the values a str setting takes


class TrainError(RuntimeError):
    """A problem the user can fix; the message says how. Exit code 2 (1 for dataset errors)."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


class SettingError(TrainError):
    """A bad value of the settings `fields` (that their types do not catch)."""

    def __init__(self, fields: tuple[str, ...], message: str):
        super().__init__(message)
        self.fields = fields


def setting(default: Any, help: str, **more: Any) -> Any:
    return field(default=default, metadata={HELP: help, **more})


@dataclass
class TrainSettings:
    """Every training setting, with its default."""

    model: str = setting("tiny", "tiny (a dry run with a tiny local model), a Hugging Face model name, or a local "
                                 "folder.")
    method: str = setting("lora", "lora: a LoRA adapter (peft); full: every weight; qlora: a LoRA adapter on the "
                                  "base model in 4 bits (bitsandbytes NF4, CUDA only).", choices=METHODS)
    epochs: float = setting(3.0, "Passes over the training data (may be fractional).")
    max_steps: int = setting(-1, "Stop after this many optimizer steps (overrides epochs; -1: no limit).")
    learning_rate: PositiveFloat | None = setting(None, "Peak learning rate (default: 2e-4 for LoRA, 2e-5 for a full "
                                                        "fine-tune; 2e-2 / 3e-3 for the tiny model).")
    max_length: PositiveInt = setting(1024, "Tokens per example; longer ones are truncated (reported first).")
    batch_size: PositiveInt = setting(4, "Examples per device per step.")
    grad_accum: PositiveInt = setting(1, "Gradient accumulation steps.")
    packing: bool = setting(False, "Pack examples into full-length sequences.")
    seed: NonNegativeInt = setting(42, "Random seed (model initialisation, data order).")
    gradient_checkpointing: bool = setting(False, "Recompute activations in the backward pass: less memory, "
                                                  "slower steps.")
    lora_r: PositiveInt = setting(16, "LoRA rank.")
    lora_alpha: PositiveInt = setting(32, "LoRA scaling (alpha).")
    eval_max_new_tokens: PositiveInt = setting(128, "Tokens generated per validation example after training.")
    logging_steps: PositiveInt = setting(5, "Log the loss every N steps.")
    checkpoint_steps: PositiveInt = setting(50, "Save a checkpoint every N steps.")
    eval_steps: PositiveInt | None = setting(None, "Evaluate on the validation file every N steps (default: about "
                                                   "ten evaluations per run; none without a validation file).")
    early_stopping: PositiveInt | None = setting(None, "Stop when the eval loss has not improved for N evaluations "
                                                       "and keep the best checkpoint (default: off).")
    dynamics: bool = setting(True, "Record each training example's loss and confidence per epoch "
                                   "(train_dynamics.jsonl, data_map.png); on a GPU this uses the trained-positions "
                                   "loss instead of TRL's fused one.")
    dynamics_base_max: NonNegativeInt = setting(20000, "The base model's loss per training example (one forward "
                                                       "pass before training) up to this many examples; 0: never.")
    padding_free: bool = setting(True, "On CUDA: each batch's examples as one row with position ids (no padding, "
                                       "no attention across examples). On a CPU: length-grouped padded batches.")
    liger: bool = setting(False, "On CUDA: Liger's fused kernels through TRL (needs liger-kernel installed).")
    eval_batch_size: PositiveInt = setting(16, "Validation examples per batch in the per-example evaluation "
                                               "(losses and greedy generations).")
    report_to: str = setting("none", "Also log to a tracker: none, tensorboard, wandb (offline without a network), "
                                     "mlflow or trackio.", choices=REPORTERS)

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if self.model == "tiny":  # random weights: LoRA needs a large step to move them at all
            return 2e-2 if self.method == "lora" else 3e-3
        return 2e-4 if self.method == "lora" else 2e-5

    def check(self, key: Callable[[str], str] = lambda name: f"`{name}`") -> None:
        """SettingError for what the fields' types do not say; `key` spells a field's key as the
        user wrote it."""
        if self.method not in METHODS:
            raise SettingError(("method",), f"{key('method')} must be lora, full or qlora, not {self.method!r}")
        if self.report_to not in REPORTERS:
            raise SettingError(("report_to",), f"{key('report_to')} must be one of {', '.join(REPORTERS)}, "
                                               f"not {self.report_to!r}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise SettingError(("epochs", "max_steps"), f"give a positive {key('epochs')} or {key('max_steps')}")

    def to_json(self) -> dict:
        """Every setting by field name: a settings file (`--settings`), config.json's `settings`."""
        return dataclasses.asdict(self)


FIELDS = tuple(field_names(TrainSettings))

# -- where settings come from ----------------------------------------------------------------------

Naming = Literal["snake", "camel", "flag"]


def flag(name: str) -> str:
    """The command-line option of a setting: `max_length` → `--max-length`."""
    return "--" + name.replace("_", "-")


def spell(name: str, naming: Naming) -> str:
    """A setting's key as a source writes it."""
    return {"snake": name, "camel": camel(name), "flag": flag(name)}[naming]


@dataclass
class Source:
    """One place settings come from: `where` names it in messages ("[tool.tunelint.train]")."""

    where: str
    values: Mapping
    naming: Naming = "snake"


def resolve_sources(*sources: Source) -> TrainSettings:
    """The settings of the sources, each overriding those before it (None: not set there).
    Every key is checked against the fields; TrainError names each bad one as its source
    spells it, with where it is."""
    values: dict[str, Any] = {}
    origin: dict[str, Source] = {}
    problems: list[str] = []
    for src in sources:
        given = _given(src)
        try:
            part = structure(TrainSettings, src.values, "camel" if src.naming == "camel" else "snake",
                             display={n: flag(n) for n in FIELDS} if src.naming == "flag" else None)
        except OptionsError as e:
            problems += [f"{src.where}: {p}" for p in e.problems]
            continue
        for name in given:
            values[name] = getattr(part, name)
            origin[name] = src
    if problems:
        raise TrainError("; ".join(problems))
    settings = TrainSettings(**values)

    def key(name: str) -> str:
        naming = origin[name].naming if name in origin else sources[-1].naming if sources else "snake"
        return spell(name, naming) if naming == "flag" else f"`{spell(name, naming)}`"

    try:
        settings.check(key)
    except SettingError as e:
        src = next((origin[f] for f in e.fields if f in origin), None)
        if src is None or src.naming == "flag":
            raise
        raise SettingError(e.fields, f"{src.where}: {e}") from None
    return settings


def _given(src: Source) -> list[str]:
    """The fields a source sets (by field name); unknown keys are left to `structure` to refuse."""
    if not isinstance(src.values, Mapping):
        return []
    by_key = {key_name(n, src.naming): n for n in FIELDS}  # snake for anything but camel
    out = []
    for k, v in src.values.items():
        k = str(k) if src.naming == "camel" else str(k).replace("-", "_")
        if v is not None and k in by_key:
            out.append(by_key[k])
    return out


def resolve(config_train: Mapping, cli: Mapping, settings_file: str | Path | None = None) -> TrainSettings:
    """`tunelint train`'s settings: the config's, then the settings file's, then the command
    line's (by field name; None means 'not given')."""
    sources = [Source("[tool.tunelint.train]", config_train)]
    if settings_file is not None:
        sources.append(read_settings_file(settings_file))
    return resolve_sources(*sources, Source("command line", cli, "flag"))


def read_settings_file(path: str | Path) -> Source:
    """A settings file (JSON, keys by field name) as a source; TrainError when unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise TrainError(f"cannot read the settings file {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise TrainError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise TrainError(f"{path}: a settings file holds one JSON object of training settings")
    return Source(str(path), data)


def write_settings_file(path: str | Path, settings: TrainSettings) -> None:
    write_atomically(path, json.dumps(settings.to_json(), indent=2) + "\n")


def option_types() -> dict[str, tuple[type, tuple[str, ...] | None]]:
    """Each setting's plain type (int, float, str, bool) and its choices, for command-line options."""
    hints = typing.get_type_hints(TrainSettings)
    out = {}
    for f in dataclasses.fields(TrainSettings):
        out[f.name] = (_plain(hints[f.name]), f.metadata.get(CHOICES))
    return out


def _plain(tp: Any) -> type:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args:  # X | None
        tp = args[0]
    while hasattr(tp, "__supertype__"):  # NewType
        tp = tp.__supertype__
    return tp
