"""The run contract: what a run folder holds and the events a run writes.

The trainer writes it (`tunelint train`, `tunelint eval`); the language server and the CLI read
it. This module is the one place its names are spelt: a new feature adds a field or a file here,
not a string literal on both sides. It imports nothing heavy (no torch, transformers, TRL, peft,
datasets): the server imports it and must never import torch.

## The run folder

`tunelint train DATA -o RUN` writes `RUN`; the editor's runs live in the workspace's
`.tunelint/runs/<YYYYmmdd-HHMMSS>/` (evaluations: `<YYYYmmdd-HHMMSS>-eval/`; `-2`, `-3`... when
two start in the same second). `RunLayout` names every path:

| path | written by | what |
| --- | --- | --- |
| `events.jsonl` | train, eval | the run's events, one JSON object a line (below) |
| `settings.json` | the server | the resolved training settings the run was launched with (`--settings`) |
| `config.json` | train | what the run was: `RunConfig` (data, base model, settings, device, versions, lint) |
| `metrics.json` | train | the run's numbers: `Metrics` |
| `eval_results.jsonl` | train, eval | one `ExampleResult` a line (the `example` events without `event`/`time`) |
| `adapter/` | train (LoRA) | the LoRA adapter and the tokenizer (peft's `save_pretrained`) |
| `model/` | train (full) | the fine-tuned model and the tokenizer |
| `loss.png` | train | training and evaluation loss against step |
| `checkpoints/` | train | TRL checkpoints `checkpoint-<step>`, for `--resume` |
| `trackers/` | train (`--report-to`) | the trackers' local files: `tensorboard/`, `wandb/` (offline), `mlruns/` |
| `base-model/` | train (`--model tiny`) | the tiny model and tokenizer built from the data |
| `editor.json` | the server | the editor's notes: what it launched (`kind`, files, the validation file's digest) |
| `merged/` | serve (LoRA) | the adapter merged into the base, cached for `tunelint serve` (redone if older) |
| `train_dynamics.jsonl` | train | one `LineDynamics` a training line: how the model learnt it, pass by pass |
| `data_map.png` | train | the data map: variability against confidence per training line, by region |

`tunelint eval RUN --data FILE` writes `events.jsonl` and `eval_results.jsonl` into a folder of
its own (default `RUN/eval-<YYYYmmdd-HHMMSS>/`).

## Events

Each line of `events.jsonl` (and of the trainer's stdout with `--events -`) is one object with
`event` (its name) and `time` (Unix seconds) plus the fields of its type below. Only rank 0 of a
multi-process run writes events. Readers ignore fields and events they do not know, so a field
can be added without breaking an older reader.

| event | type | fields |
| --- | --- | --- |
| `start` | `Start` | training: `run_dir`, `model`, `method`, `device`, `device_name`, `precision`, |
| | | `dry_run`, `train_examples`, `eval_examples`, `total_steps`, `trainable_tokens`, `world_size`; |
| | | `tunelint eval`: `model`, `data`, `eval_examples` |
| `step` | `Step` | `step`, `total_steps`, `epoch`, `progress` (0–1), `eta_s`, `loss` (latest logged), |
| | | `tokens_per_second` (trained tokens, since training began), `mfu` (CUDA, a GPU in trainer/gpus.py) |
| `log` | `Log` | `step` and whatever the trainer logged (`loss`, `learning_rate`, `grad_norm`, ...) |
| `eval` | `Eval` | `phase` (`before` / `during` / `after`), `eval_loss`, `perplexity`; `step` (`during`), |
| | | `examples` (validation examples used: a subsample for `during` when the file is large) |
| `example` | `ExampleResult` | one evaluation record: `line`, `loss`, `loss_base`, `perplexity`, `generation`, |
| | | `reference`, `exact_match`, `token_f1` |
| `stopped_early` | `StoppedEarly` | `best_step`, `best_eval_loss`, `stopped_at_step`, `reason` (`--early-stopping`) |
| `artifact` | `Artifact` | `kind` (`model`, `adapter`, `plot`, `metrics`, `eval_results`, `checkpoint`, |
| | | `dynamics`, `data_map`), `path` |
| `error` | `Error` | `message` |
| `end` | `End` | `status` (`completed` / `cancelled` / `failed`); training: `duration_s`, `exit_code` |

## Exit codes

`tunelint train` and `tunelint eval` exit 0 when done, 1 for problems in the dataset, 2 for usage
or setup problems, 130 when cancelled.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, NotRequired, TypedDict

from tunelint.linter.atomic import is_inside

EXIT_OK = 0
EXIT_DATA = 1  # the dataset has errors (lint findings, no trainable token, unreadable lines)
EXIT_USAGE = 2  # a usage or setup problem (a bad setting, a missing model, an existing folder)
EXIT_CANCELLED = 130  # SIGINT / SIGTERM: stopped at a step, a checkpoint saved

RUNS_DIR = Path(".tunelint") / "runs"  # the editor's runs, under the workspace root
RunKind = Literal["train", "eval"]


# -- the run folder -------------------------------------------------------------------------------

class RunLayout:
    """The paths of one run folder (see the module's table)."""

    EVENTS = "events.jsonl"
    SETTINGS = "settings.json"
    CONFIG = "config.json"
    METRICS = "metrics.json"
    EVAL_RESULTS = "eval_results.jsonl"
    ADAPTER = "adapter"
    MODEL = "model"
    PLOT = "loss.png"
    CHECKPOINTS = "checkpoints"
    BASE_MODEL = "base-model"
    EDITOR_NOTES = "editor.json"
    MERGED = "merged"
    TRACKERS = "trackers"
    TRAIN_DYNAMICS = "train_dynamics.jsonl"
    DATA_MAP = "data_map.png"
    NAMES = (EVENTS, SETTINGS, CONFIG, METRICS, EVAL_RESULTS, ADAPTER, MODEL, PLOT, CHECKPOINTS, BASE_MODEL,
             EDITOR_NOTES, MERGED, TRACKERS, TRAIN_DYNAMICS, DATA_MAP)  # everything a run folder may hold

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunLayout({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunLayout) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def events(self) -> Path:
        return self.path / self.EVENTS

    @property
    def settings(self) -> Path:
        return self.path / self.SETTINGS

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def eval_results(self) -> Path:
        return self.path / self.EVAL_RESULTS

    @property
    def adapter(self) -> Path:
        return self.path / self.ADAPTER

    @property
    def model(self) -> Path:
        return self.path / self.MODEL

    @property
    def plot(self) -> Path:
        return self.path / self.PLOT

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def base_model(self) -> Path:
        return self.path / self.BASE_MODEL

    @property
    def editor_notes(self) -> Path:
        return self.path / self.EDITOR_NOTES

    @property
    def merged(self) -> Path:
        return self.path / self.MERGED

    @property
    def trackers(self) -> Path:
        return self.path / self.TRACKERS

    @property
    def train_dynamics(self) -> Path:
        return self.path / self.TRAIN_DYNAMICS

    @property
    def data_map(self) -> Path:
        return self.path / self.DATA_MAP

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"checkpoint-{step}"

    def weights(self, method: str) -> Path:
        """Where a run of `method` saves what it trained: `adapter/` (LoRA, QLoRA) or `model/` (full)."""
        return self.model if method == "full" else self.adapter

    def trained(self) -> Path | None:
        """The adapter or model a finished training run saved, or None."""
        return next((p for p in (self.adapter, self.model) if p.is_dir()), None)

    def is_training_run(self) -> bool:
        """A finished fine-tune: its config and its adapter or model are there."""
        return self.config.is_file() and self.trained() is not None

    def read_config(self) -> RunConfig | None:
        return _read_json(self.config)

    def read_metrics(self) -> Metrics | None:
        return _read_json(self.metrics)

    def read_events(self) -> list[Event]:
        """The run's events so far, those this version knows."""
        return [ev for ev in map(parse_event, _lines(self.events)) if ev is not None]

    def read_eval_results(self) -> list[ExampleResult]:
        """The per-example results, skipping lines that are not one (a run still writing)."""
        out = []
        for line in _lines(self.eval_results):
            try:
                obj = json.loads(line)
                if isinstance(obj, dict) and isinstance(obj.get("line"), int):
                    out.append(ExampleResult.from_json(obj))
            except ValueError:
                continue
        return out

    def read_train_dynamics(self) -> list[LineDynamics]:
        """The training lines' dynamics, skipping lines that are not one."""
        out = []
        for line in _lines(self.train_dynamics):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("line"), int) and isinstance(obj.get("confidence"),
                                                                                         (int, float)):
                out.append(obj)
        return out


def _read_json(path: Path) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def stamp() -> str:
    """The time part of a run folder's name: local time, to the second."""
    return time.strftime("%Y%m%d-%H%M%S")


def runs_dir(workspace: Path) -> Path:
    return Path(workspace) / RUNS_DIR


def new_run_dir(workspace: Path, kind: RunKind) -> Path:
    """A run folder name under the workspace's `.tunelint/runs` that is not taken (not created).
    ValueError if `.tunelint` or `.tunelint/runs` leads outside the workspace (a symlink): run
    folders (weights, checkpoints) are never put elsewhere."""
    runs = runs_dir(workspace)
    if not is_inside(runs, workspace):
        raise ValueError(f"{runs} leads outside the workspace {workspace} (to {os.path.realpath(runs)}): "
                         "runs are not written there")
    base = runs / (stamp() if kind == "train" else f"{stamp()}-eval")
    path, n = base, 1
    while path.exists() or path.is_symlink():  # a dangling link planted under a future name is taken
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def eval_dir_name() -> str:
    """`tunelint eval`'s default output folder, inside the evaluated run."""
    return f"eval-{stamp()}"


def run_dirs(workspace: Path) -> Iterator[RunLayout]:
    """The workspace's run folders, newest first (their names sort by time)."""
    runs = runs_dir(workspace)
    if runs.is_dir():
        yield from (RunLayout(p) for p in sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True))


def latest_training_run(workspace: Path) -> RunLayout | None:
    """The newest finished fine-tune of the workspace (what `tunelint.evaluate` evaluates)."""
    return next((run for run in run_dirs(workspace) if run.is_training_run()), None)


# -- what config.json and metrics.json hold ------------------------------------------------------

class RunConfig(TypedDict):
    """`config.json`: what the run was, enough to evaluate or repeat it."""

    data: str  # the training file, absolute
    validation: str | None  # the validation file, absolute
    base_model: str  # what the model was loaded from (`base-model/` for the tiny model)
    settings: dict  # the TrainSettings, by field name
    learning_rate: float  # the rate used (the settings' or the method's default)
    device: dict  # kind, name, precision, count
    versions: dict  # tunelint, torch, transformers, trl, peft, accelerate
    dry_run: bool  # the tiny model: the pipeline ran, the numbers mean nothing
    lint: NotRequired[dict]  # the linter's summary at training time, by absolute file: `findings` (by
    #   severity), `by_code`, `stats` (examples, tokens per example...); runs before it lack it


class Metrics(TypedDict, total=False):
    """`metrics.json`. The `*_before` / `*_after` keys, `exact_match` and `token_f1` are there when
    the run had a validation file (the `after` ones and the per-example ones: unless cancelled)."""

    model: str
    method: str
    device: str  # cuda | mps | cpu
    precision: str  # bf16 | fp16 | fp32
    dry_run: bool
    train_examples: int  # with at least one trained token
    eval_examples: int
    preflight: dict  # {"train": ..., "validation": ...}: the preflight's findings
    eval_loss_before: float
    perplexity_before: float | None
    train_loss: float
    steps: int
    epochs: float
    train_tokens: int  # trained (assistant) tokens seen, counted from the batches trained on
    train_runtime_s: float
    train_tokens_per_second: float | None
    throughput: Throughput  # tokens/s, padding, and on CUDA the MFU
    memory: MemoryReport  # the memory preflight's estimate and the measured peak
    eval_examples_s: float  # seconds of the per-example evaluation after training (losses, generations)
    eval_loss_after: float
    perplexity_after: float | None
    exact_match: float  # mean over the validation examples
    token_f1: float
    duration_s: float
    status: str  # completed | cancelled
    evals: list[EvalPoint]  # the evaluations during training (`--eval-steps`), in step order
    early_stopping: EarlyStopping  # with `--early-stopping`: what was kept and why
    dynamics: DynamicsSummary  # train_dynamics.jsonl's run-wide numbers (the regions' thresholds)


class Throughput(TypedDict, total=False):
    """`Metrics.throughput`, from the batches trained on (trainer/throughput.py)."""

    tokens_per_second: float  # trained (label) tokens per second of training
    input_tokens_per_second: float  # non-padding input tokens per second
    padding_share: float  # share of the positions computed that were padding (0 padding-free)
    mfu: float | None  # CUDA: 6 × params × input tokens / seconds / peak bf16 FLOP/s (trainer/gpus.py)
    peak_flops: float | None  # CUDA: the device's peak from that table (× processes); None: not in it
    mfu_missing: str  # why there is no MFU
    params: int
    padding_free: bool
    attention: str | None  # the attention implementation trained with (sdpa, flash_attention_2, eager)


class MemoryReport(TypedDict, total=False):
    """`Metrics.memory`: the preflight's estimate (trainer/memory.py) and what the run used."""

    estimate_bytes: int  # the estimated peak of a training step
    parts: dict  # bytes by part: weights, gradients, optimizer, optimizer_step, activations, logits, ...
    tokens_per_step: int  # batch size × the longest example (or max_length when packing)
    trainable_params: int
    params: int
    free_bytes: int | None  # free memory of the device before the weights were loaded
    measured_peak_bytes: int  # CUDA: max_memory_allocated; CPU: peak RSS above the RSS before the weights
    measured_by: str  # which of the two
    measured_over_estimate: float  # measured / estimate


class EvalPoint(TypedDict):
    """One evaluation during training (`Metrics.evals`)."""

    step: int
    eval_loss: float
    examples: int  # validation examples it used (a subsample when the file is large)


class EarlyStopping(TypedDict):
    """`Metrics.early_stopping`: the checkpoint kept as the run's adapter/model, and why."""

    patience: int  # evaluations without improvement before stopping
    best_step: int  # the step whose checkpoint became the run's adapter/model
    best_eval_loss: float
    stopped_at_step: int  # the last step trained (the run's last step when it did not stop early)
    reason: str  # in words


Region = Literal["easy", "ambiguous", "hard-to-learn"]


class LineDynamics(TypedDict):
    """One line of `train_dynamics.jsonl`: how the model learnt one training example (Dataset
    Cartography, Swayamdipta et al. 2020), from the loss of the training steps themselves. A pass
    is one time the example went through a training batch (once per epoch); its values are those
    of the forward pass of that step, before the step's update."""

    line: int  # 1-based line of the example in the training file
    steps: list[int]  # the optimizer step of each pass, in order
    loss: list[float]  # per pass: the mean loss of the example's trained tokens
    prob: list[float]  # per pass: the mean probability the model gave the gold (trained) tokens
    confidence: float  # the mean of `prob` over the passes
    variability: float | None  # the standard deviation of `prob` over the passes (None: one pass)
    loss_base: float | None  # the base model's mean loss on its trained tokens (None: not computed)
    region: Region  # by the run's quantiles (DynamicsSummary.thresholds; README "Training data maps")


class DynamicsSummary(TypedDict):
    """`Metrics.dynamics`: what train_dynamics.jsonl covers and the thresholds of its regions."""

    examples: int  # training lines recorded
    passes: int  # the most passes of a line (epochs)
    confidence_threshold: float  # hard to learn: confidence at most this (its run's 25th percentile)
    variability_threshold: float | None  # ambiguous: variability at least this (75th percentile); None: one pass
    regions: dict  # region → lines
    base_loss: str  # "computed", or why not
    note: str | None  # what the map cannot say (one pass: confidence only)


# -- events ---------------------------------------------------------------------------------------

Phase = Literal["before", "during", "after"]
Status = Literal["completed", "cancelled", "failed"]
ArtifactKind = Literal["model", "adapter", "plot", "metrics", "eval_results", "checkpoint", "dynamics", "data_map"]

_OMIT_NONE = "tunelint.omit_none"  # field metadata: left out of the JSON when None (not this kind of run)
_REST = "tunelint.rest"  # field metadata: a dict whose items are the event's other fields


def _absent_when_none() -> Any:
    return field(default=None, metadata={_OMIT_NONE: True})


EVENT_TYPES: dict[str, type[Event]] = {}


def _event(name: str):
    def register(cls):
        cls.name = name
        EVENT_TYPES[name] = cls
        return cls

    return register


@dataclass(kw_only=True)
class Event:
    """What every event has: `event` (the type's `name`) and `time` (Unix seconds, set when written)."""

    name: ClassVar[str]
    time: float | None = None

    def fields(self) -> dict:
        """The event's own fields, as JSON has them (without `event` and `time`)."""
        out: dict = {}
        for f in dataclasses.fields(self):
            if f.name == "time":
                continue
            value = getattr(self, f.name)
            if f.metadata.get(_REST):
                out.update(value or {})
            elif value is not None or not f.metadata.get(_OMIT_NONE):
                out[f.name] = value
        return out

    def to_json(self) -> dict:
        return {"event": self.name, "time": self.time if self.time is not None else round(time.time(), 3),
                **self.fields()}

    @classmethod
    def from_json(cls, obj: dict):
        """The event of `obj`'s fields; a field it lacks is None, a field it has that the type does
        not know is ignored (kept in the `rest` of types that take any)."""
        kwargs: dict = {}
        rest_field = None
        for f in dataclasses.fields(cls):
            if f.metadata.get(_REST):
                rest_field = f.name
            else:
                kwargs[f.name] = obj.get(f.name)
        if rest_field is not None:
            known = {"event", *kwargs}
            kwargs[rest_field] = {k: v for k, v in obj.items() if k not in known}
        return cls(**kwargs)


def parse_event(data: str | bytes | dict) -> Event | None:
    """One event from a line of `events.jsonl` (or its parsed object); None for what is not an
    event this version knows."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(data.get("event"))  # type: ignore[arg-type]
    return cls.from_json(data) if cls is not None else None


@_event("start")
@dataclass(kw_only=True)
class Start(Event):
    """The run has loaded its model and data and is about to train (or evaluate)."""

    run_dir: str | None = _absent_when_none()  # training: the run folder, absolute
    model: str  # the --model setting (`tunelint eval`: the run folder or model evaluated)
    data: str | None = _absent_when_none()  # `tunelint eval`: the file evaluated on, absolute
    method: str | None = _absent_when_none()  # training: lora | full
    device: str | None = _absent_when_none()  # training: cuda | mps | cpu
    device_name: str | None = _absent_when_none()
    precision: str | None = _absent_when_none()  # training: bf16 | fp16 | fp32
    dry_run: bool | None = _absent_when_none()  # training: the tiny model
    train_examples: int | None = _absent_when_none()  # training: examples with a trained token
    eval_examples: int
    total_steps: int | None = _absent_when_none()  # training: optimizer steps planned
    trainable_tokens: int | None = _absent_when_none()  # training: trained tokens per epoch
    world_size: int | None = _absent_when_none()  # training: processes (torchrun)


@_event("step")
@dataclass(kw_only=True)
class Step(Event):
    """An optimizer step is done."""

    step: int
    total_steps: int
    epoch: float
    progress: float  # 0–1
    eta_s: float | None  # None until a step is done
    loss: float | None  # the latest logged training loss
    tokens_per_second: float | None = _absent_when_none()  # trained tokens per second since training began
    mfu: float | None = _absent_when_none()  # CUDA: model FLOPs utilisation so far (trainer/gpus.py)


@_event("log")
@dataclass(kw_only=True)
class Log(Event):
    """What the trainer logged (every `logging_steps`): its numbers, by the trainer's names."""

    step: int
    values: dict = field(default_factory=dict, metadata={_REST: True})  # loss, learning_rate, grad_norm, ...


@_event("eval")
@dataclass(kw_only=True)
class Eval(Event):
    """The loss on the validation file before, during (every `--eval-steps`) or after training."""

    phase: Phase
    eval_loss: float
    perplexity: float | None  # None when the loss is too large to exponentiate
    step: int | None = _absent_when_none()  # `during`: the step evaluated at
    examples: int | None = _absent_when_none()  # validation examples used (`during`: maybe a subsample)


@_event("example")
@dataclass(kw_only=True)
class ExampleResult(Event):
    """One validation example after training: a line of `eval_results.jsonl` and an `example` event."""

    line: int  # 1-based line of the example in its file
    loss: float | None  # mean loss on its trained tokens after training (None: it has none)
    loss_base: float | None  # the same before training (the base model; `tunelint eval` on a model: None)
    perplexity: float | None
    generation: str  # the model's greedy answer to the conversation before its last assistant turn
    reference: str  # that last assistant turn
    exact_match: bool  # generation == reference, ignoring case and whitespace
    token_f1: float  # SQuAD-style F1 of their words


@_event("stopped_early")
@dataclass(kw_only=True)
class StoppedEarly(Event):
    """`--early-stopping`: training stopped because the eval loss stopped improving; the best
    checkpoint is the run's adapter/model."""

    best_step: int  # the step kept
    best_eval_loss: float
    stopped_at_step: int
    reason: str  # in words


@_event("artifact")
@dataclass(kw_only=True)
class Artifact(Event):
    """A file or folder of the run is written."""

    kind: ArtifactKind
    path: str


@_event("error")
@dataclass(kw_only=True)
class Error(Event):
    """What stopped the run (an `end` event follows)."""

    message: str


@_event("end")
@dataclass(kw_only=True)
class End(Event):
    """The run is over: always the last event."""

    status: Status
    duration_s: float | None = _absent_when_none()  # training
    exit_code: int | None = _absent_when_none()  # training: the process's exit code
