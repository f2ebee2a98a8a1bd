"""`tunelint train`: lint, preflight, fine-tune with TRL's SFTTrainer (LoRA through peft, or
full), evaluate before and after, per example, and write the run folder (trainer/contract.py).

`TrainRecipe` is the run as named steps over one `TrainSettings`, in the shape of torchtune's
recipes (`setup()`, `train()`, `save_checkpoint()`) and TRL's `scripts/sft.py`:

1. `setup`: the linter's verdict, the data, the device, the tokenizer;
2. `preflight`: masks and the checks only the tokenizer can make (no trained token, truncation);
   `preflight_memory`: the peak-memory estimate from the config, before any weight loads
   (trainer/memory.py; stops a run that will not fit unless `--force`); `load_weights`: the model;
3. `build_trainer`: LoRA, TRL's `SFTConfig` and `SFTTrainer`, the progress callback (and the
   evaluation every `--eval-steps` on a subsample, `--early-stopping`, `--report-to`); `start` event;
4. `evaluate_before`: the validation loss, and per example, before training;
5. `train`: `trainer.train()` (from the last checkpoint with `--resume`), stopping on a cancel;
6. `evaluate_after`: the validation loss after training (every rank takes part);
7. `evaluate_examples`: per example: loss, generation, exact match (rank 0);
8. `save`: the adapter or model, `metrics.json`, `config.json`, `loss.png` (rank 0).

The training dynamics (trainer/dynamics.py) add `base_train_losses` (after 4: the base model's
loss per training example, rank 0), `gather_dynamics` (after 5: every rank's records) and
`save_dynamics` (before 8's files: `train_dynamics.jsonl`, `data_map.png`, rank 0).

A new feature adds a step (or a field to the contract), not lines in the middle of another.
`train()` runs the recipe with what every run needs around it: the run folder, the events
file, cancellation, and the `end` event with the exit code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from tunelint.linter.atomic import write_atomically

from .contract import (
    EXIT_CANCELLED,
    EXIT_DATA,
    EXIT_OK,
    Artifact,
    End,
    Error,
    Eval,
    Log,
    Metrics,
    RunConfig,
    RunLayout,
    Start,
    Step,
    StoppedEarly,
)
from .data import Encoded, TrainingExample, encode, load_examples
from .device import detect
from .events import Events, is_main_process, to_devnull
from .loss import EXAMPLE_COLUMN, selective_trainer_class
from .settings import TrainError, TrainSettings
from .throughput import Count, counting_trainer_class

EVAL_SUBSAMPLE_MAX = 200  # validation examples per evaluation during training, at most
EVAL_TIME_SHARE = 0.1  # the periodic evaluation's share of a run's time, roughly
TRACKER_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}


def log(msg: str) -> None:
    if is_main_process():
        try:
            print(msg, file=sys.stderr, flush=True)
        except BrokenPipeError:  # its reader is gone (the server killed): the run goes on, silently
            to_devnull(sys.stderr)


class Cancel:
    """SIGINT/SIGTERM ask the trainer to stop at the next step and save a checkpoint; a second
    SIGINT stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log("tunelint: stopping at the next step (a checkpoint will be saved); press Ctrl-C again to stop now")

    def stdout_lost(self) -> None:
        """The events' reader on stdout is gone (the server was killed, or `| head` ended): as a
        SIGTERM, stop at the next step and save a checkpoint; events.jsonl has every event."""
        if not self.requested:
            self.requested = True
            log("tunelint: stdout's reader is gone: stopping at the next step (a checkpoint will be saved)")

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def lint_gate(paths: list[str], force: bool, config) -> dict:
    """The linter's verdict first: refuse a dataset with errors unless forced. The linter's summary
    of each file (config.json's `lint`)."""
    from tunelint.linter.engine import Linter

    with Linter(jobs=1) as linter:
        reports = linter.lint_paths(paths, config.settings_for, config.split_of)
    summary = {os.path.abspath(r.path): lint_summary(r) for r in reports}
    errors = [f for r in reports for f in r.findings if f.severity.value == "error"]
    if not errors:
        return summary
    shown = "\n".join(f"  {f.path}:{f.line}:{f.column}: {f.code} {f.message}" for f in errors[:10])
    more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
    if force:
        log(f"tunelint: training despite {len(errors)} error(s) (--force):\n{shown}{more}")
        return summary
    raise TrainError(f"the dataset has {len(errors)} error(s); fix them (`tunelint check`) or pass --force:\n"
                     f"{shown}{more}", EXIT_DATA)


def lint_summary(report) -> dict:
    """One file's findings by severity and by code, and the linter's statistics of it."""
    from tunelint.linter.stats import summarize

    by_code: dict[str, int] = {}
    severities = {"error": 0, "warning": 0, "info": 0}
    for f in report.findings:
        by_code[f.code] = by_code.get(f.code, 0) + 1
        severities[f.severity.value] = severities.get(f.severity.value, 0) + 1
    stats = {k: v for k, v in summarize(report).items() if k != "cache"}
    digest = hashlib.sha256()
    with open(report.path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "findings": severities, "by_code": dict(sorted(by_code.items())),
            "stats": stats}


def load_model(settings: TrainSettings, examples: list[TrainingExample], run_dir: Path, device):
    """The tokenizer, and for the tiny model (built from the data) the model too: (model or None,
    tokenizer, where the base model is). A model by name or folder is loaded by `load_weights`,
    after the memory preflight."""
    from transformers import AutoTokenizer

    if settings.model == "tiny":
        from . import tiny

        folder = RunLayout(run_dir).base_model
        texts = [m.get("content") for ex in examples for m in ex.messages if isinstance(m.get("content"), str)]
        model, tok = tiny.build(texts, folder, max_length=max(settings.max_length, 64), seed=settings.seed)
        return model, tok, str(folder)
    try:
        tok = AutoTokenizer.from_pretrained(settings.model)
    except OSError as e:
        first = str(e).splitlines()[0]
        raise TrainError(f"cannot load model {settings.model!r}: {_unreachable()}. ({first})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token  # safe: labels are masked by position, not by token id
    return None, tok, settings.model


def _unreachable() -> str:
    return ("it is not a local folder, and the Hugging Face hub could not provide it (offline, a typo, "
            "or a gated model: `huggingface-cli login`)")


def load_weights(settings: TrainSettings, base: str, device, model=None):
    """The model's weights: in the device's precision, with the attention implementation that
    honours padding-free batches on CUDA; in 4 bits for QLoRA (trainer/cuda_features.py).
    `model`: the tiny model, already built (reloaded from its folder for QLoRA)."""
    import torch
    from transformers import AutoModelForCausalLM

    from . import cuda_features

    attention = cuda_features.attention_implementation(device.kind)
    if settings.method == "qlora":
        model = cuda_features.load_quantized(base, device.bf16, attention)
        return cuda_features.prepare_kbit(model, settings.gradient_checkpointing)
    if model is not None:
        if attention:
            model.set_attn_implementation(attention)
        return model
    dtype = torch.bfloat16 if device.bf16 else torch.float16 if device.fp16 else torch.float32
    kwargs = {"attn_implementation": attention} if attention else {}
    try:
        return AutoModelForCausalLM.from_pretrained(base, dtype=dtype, **kwargs)
    except OSError as e:
        raise TrainError(f"cannot load model {base!r}: {_unreachable()}. ({str(e).splitlines()[0]})") from None


def preflight(tok, examples: list[TrainingExample], settings: TrainSettings, what: str) -> tuple[list[Encoded], dict]:
    """Checks only training reveals; raises TrainError for what would waste the run."""
    if not getattr(tok, "chat_template", None):
        raise TrainError("the tokenizer has no chat template: choose a chat/instruct model, or set one "
                         "(tokenizer.chat_template) in the model folder")
    encoded = [encode(tok, ex, settings.max_length) for ex in examples]
    empty = [e.line for e in encoded if e.trained == 0]
    if len(empty) == len(encoded):
        raise TrainError(f"{what}: no example has a trained (assistant) token; an all-zero mask trains on nothing",
                         EXIT_DATA)
    eos = tok.convert_tokens_to_ids(tok.eos_token) if tok.eos_token else None
    eos_trained = eos is not None and any(eos in [t for t in e.labels if t != -100] for e in encoded)
    too_long = [e for e in encoded if e.full_length > settings.max_length]
    cut = [e.line for e in too_long if e.last_turn[1] > settings.max_length]
    info = {
        "examples": len(encoded),
        "trainable_tokens": sum(e.trained for e in encoded),
        "tokens": sum(len(e.input_ids) for e in encoded),
        "no_trainable_tokens": empty,
        "end_of_turn_trained": eos_trained,
        "over_max_length": [e.line for e in too_long],
        "answer_cut": cut,
    }
    if empty:
        log(f"tunelint: {what}: {len(empty)} example(s) have no trained token (lines {_lines(empty)}); "
            "they are skipped")
    if too_long:
        log(f"tunelint: {what}: {len(too_long)} example(s) exceed max_length {settings.max_length} "
            f"(lines {_lines([e.line for e in too_long])}); truncated"
            + (f", and the answer is cut on lines {_lines(cut)}" if cut else ""))
    if not eos_trained:
        log(f"tunelint: {what}: the end-of-turn token {tok.eos_token!r} is never trained: "
            "the model may not learn to stop")
    return [e for e in encoded if e.trained], info


def _lines(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:8])) + (", ..." if len(lines) > 8 else "")


def library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("tunelint", "torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "liger_kernel",
                 "flash_attn", "vllm"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def train(data: str, output: str, settings: TrainSettings, *, config, validation: str | None = None,
          force: bool = False, overwrite: bool = False, resume: bool = False, events_stdout: bool = False,
          settings_file: str | None = None) -> int:
    """Run `tunelint train` into the run folder `output`: the exit code (0, or 130 when cancelled);
    TrainError for what the user can fix. `config`: the project's config, read once by the caller.
    `settings_file`: the file the settings were read from, left in place if it is in `output`."""
    started = time.time()
    layout = RunLayout(output)
    _prepare_folder(layout, overwrite, resume, Path(settings_file) if settings_file else None)
    cancel = Cancel()
    events = Events(layout.events, events_stdout, on_stdout_lost=cancel.stdout_lost)
    cancel.install()
    status, code = "failed", 1
    try:
        recipe = TrainRecipe(data, layout, settings, config=config, validation=validation, force=force,
                             resume=resume, events=events, cancel=cancel, started=started)
        code = recipe.run()
        status = "cancelled" if code == EXIT_CANCELLED else "completed"
        return code
    except TrainError as e:
        events.emit(Error(message=str(e)))
        code = e.code
        raise
    except KeyboardInterrupt:
        status, code = "cancelled", EXIT_CANCELLED
        events.emit(Error(message="interrupted"))
        return code
    except Exception as e:
        events.emit(Error(message=f"{type(e).__name__}: {e}"))
        if "out of memory" in str(e).lower():
            raise TrainError("out of memory: lower --batch-size or --max-length, use --method lora (or qlora "
                             "on CUDA), or --gradient-checkpointing") from e
        raise
    finally:
        events.emit(End(status=status, duration_s=round(time.time() - started, 2), exit_code=code))
        events.close()
        cancel.restore()


def _prepare_folder(layout: RunLayout, overwrite: bool, resume: bool, keep: Path | None) -> None:
    """A new run folder, or the one to replace (--overwrite) or continue (--resume). `keep`, the
    settings file the server wrote into the new folder, does not make it taken."""
    run_dir = layout.path

    def taken() -> list[Path]:
        if not run_dir.is_dir():
            return []
        kept = keep.resolve() if keep is not None else None
        return [p for p in run_dir.iterdir() if p.resolve() != kept]

    # only rank 0 judges the folder: under torchrun the other ranks find it already started
    if is_main_process() and taken() and not (overwrite or resume):
        raise TrainError(f"{run_dir} exists and is not empty: pass --overwrite to replace it, or --resume to continue")
    if run_dir.exists() and overwrite and not resume and is_main_process():
        for p in taken():
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


class TrainRecipe:
    """One fine-tune, step by step (see the module's docstring). Each step leaves what the next
    ones need on the recipe; `run()` calls them in order."""

    def __init__(self, data: str, layout: RunLayout, settings: TrainSettings, *, config, validation: str | None,
                 force: bool, resume: bool, events: Events, cancel: Cancel, started: float):
        self.data, self.layout, self.settings, self.config = data, layout, settings, config
        self.validation, self.force, self.resume = validation, force, resume
        self.events, self.cancel, self.started = events, cancel, started
        self.dry_run = settings.model == "tiny"
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.metrics: Metrics = {}
        self.base_losses: list[float | None] = []
        self.train_base_losses: dict[int, float | None] | None = None  # training line → base model loss
        self.base_note = "not computed"
        self.dynamics_records: list[tuple] = []
        self.cancelled = False
        self.eval_steps: int | None = None  # the evaluation during training: every this many steps
        self.during_examples = 0  # validation examples each of those uses

    def run(self) -> int:
        self.setup()
        self.preflight()
        self.preflight_memory()
        self.load_weights()
        self.build_trainer()
        self.evaluate_before()
        self.base_train_losses()
        self.train()
        self.gather_dynamics()
        self.evaluate_after()
        if is_main_process():  # the other ranks wait for rank 0's per-example evaluation and saving
            self.evaluate_examples()
            self.save_dynamics()
            self.save()
        _leave_process_group()
        return EXIT_CANCELLED if self.cancelled else EXIT_OK

    # -- steps -----------------------------------------------------------------------------------

    def setup(self) -> None:
        """The linter's verdict, the data, the device, the model and its tokenizer."""
        import torch

        from . import cuda_features, memory

        check_tracker(self.settings.report_to)  # before anything slow: a missing package is a usage error
        self.device = detect()
        cuda_features.check(self.settings, self.device.kind)  # qlora, --liger: CUDA only, before anything loads
        self.lint = lint_gate([self.data] + ([self.validation] if self.validation else []), self.force, self.config)
        self.train_examples = load_examples(self.data)
        self.val_examples = load_examples(self.validation) if self.validation else []
        torch.manual_seed(self.settings.seed)
        # imported now, so that on a CPU the libraries' own memory is not counted as the run's
        import datasets  # noqa: F401
        import peft  # noqa: F401
        import trl.trainer.sft_trainer  # noqa: F401

        self.rss_before = memory.rss_bytes()
        self.model, self.tok, self.base = load_model(self.settings, self.train_examples + self.val_examples,
                                                     self.layout.path, self.device)

    def preflight(self) -> None:
        """The examples encoded with their masks, and what would waste the run refused."""
        s = self.settings
        self.train_enc, self.train_info = preflight(self.tok, self.train_examples, s, "training data")
        self.val_enc, self.val_info = (preflight(self.tok, self.val_examples, s, "validation data")
                                       if self.val_examples else ([], {}))

    def preflight_memory(self) -> None:
        """The peak memory of a step estimated from the model's config (trainer/memory.py) against
        the device's free memory: a TrainError with what would fit, unless --force."""
        from . import memory

        s, device = self.settings, self.device
        config = self.model.config if self.model is not None else memory.model_config(self.base)
        self.shapes = memory.shapes(config)
        longest = max(len(e.input_ids) for e in self.train_enc + self.val_enc)
        info = self.train_info
        # the CPU loss keeps the trained positions' logits only (trainer/loss.py); TRL computes them all
        share = info["trainable_tokens"] / max(info["tokens"], 1) if device.kind == "cpu" else 1.0
        self.memory_plan = dict(method=s.method, batch_size=s.batch_size,
                                max_length=s.max_length if s.packing else min(s.max_length, longest),
                                gradient_checkpointing=s.gradient_checkpointing, precision=device.precision,
                                lora_r=s.lora_r, logit_positions=share)
        self.memory_estimate = memory.estimate(self.shapes, **self.memory_plan)
        self.memory_free = memory.free_bytes(device.kind)
        where = f"the GPU ({device.name})" if device.kind == "cuda" else "this machine"
        fits = memory.options_to_fit(self.shapes, self.memory_free or 0, cuda=device.kind == "cuda",
                                     **self.memory_plan) if self.memory_free else []
        said = memory.check(self.memory_estimate, self.memory_free, force=self.force, where=where, suggestions=fits)
        log(f"tunelint: memory: {said}" if said else
            f"tunelint: memory: about {self.memory_estimate.describe()} at the peak of a step"
            + (f", {memory.gib(self.memory_free)} free" if self.memory_free else ""))

    def load_weights(self) -> None:
        """The model's weights (after the memory preflight said they fit)."""
        if self.device.kind == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        self.model = load_weights(self.settings, self.base, self.device, self.model)

    def _memory_report(self) -> dict:
        from . import memory

        return memory.report(self.memory_estimate, self.memory_free,
                             memory.measured(self.device.kind, self.rss_before))

    def build_trainer(self) -> None:
        """TRL's SFTTrainer over the encoded examples (LoRA through peft), with the progress events."""
        from datasets import Dataset
        from transformers.trainer_callback import PrinterCallback
        from trl import SFTTrainer

        s, device = self.settings, self.device
        peft_config = None
        if s.method in ("lora", "qlora"):
            from peft import LoraConfig

            peft_config = LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, lora_dropout=0.0,
                                     target_modules="all-linear", task_type="CAUSAL_LM")
        steps_per_epoch = math.ceil(len(self.train_enc) / (s.batch_size * s.grad_accum * self.world))
        self.total_steps = s.max_steps if s.max_steps > 0 else math.ceil(steps_per_epoch * s.epochs)
        columns = lambda enc: Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in enc])  # noqa: E731
        # the example's line on each of its tokens: the per-example records survive batching and packing
        train_ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels,
                                       EXAMPLE_COLUMN: [e.line] * len(e.input_ids)} for e in self.train_enc])
        self.eval_ds = columns(self.val_enc) if self.val_enc else None
        during_ds = self._plan_evaluation(columns)
        from . import gpus

        self.count = Count()
        self.peak_flops = gpus.peak_flops(device.name) if device.kind == "cuda" else None
        # the model's parameters (4-bit weights are stored two to a byte: the config's count, for QLoRA)
        self.params = self.shapes.params
        callbacks = [_progress_callback(self.events, self.cancel, self.total_steps, self.metrics,
                                        self.during_examples, self._throughput)]
        if s.early_stopping:
            from transformers import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(early_stopping_patience=s.early_stopping))
        _tracker_environment(s.report_to, self.layout)
        trained_tokens = self.train_info["trainable_tokens"]
        log(f"tunelint: {'DRY RUN with a tiny model built from the data; ' if self.dry_run else ''}model {s.model}, "
            f"{s.method}, {device.name} ({device.precision}), {len(self.train_enc)} training examples, "
            f"{trained_tokens:,} trainable tokens per epoch, {self.total_steps} steps")
        # on a CPU, the loss on trained positions only (trainer/loss.py); elsewhere TRL's fused LM head,
        # unless the training dynamics are recorded (they need each token's loss)
        selective = device.kind == "cpu" or s.dynamics
        trainer_class = selective_trainer_class(SFTTrainer) if selective else SFTTrainer
        trainer_class = counting_trainer_class(trainer_class, self.count)
        self.trainer = trainer_class(model=self.model, args=self._sft_config(), train_dataset=train_ds,
                                     eval_dataset=during_ds if during_ds is not None else self.eval_ds,
                                     processing_class=self.tok, peft_config=peft_config, callbacks=callbacks)
        self.trainer.remove_callback(PrinterCallback)  # stdout carries only events (--events -); progress goes there
        self.dev = self.trainer.model.device
        self.events.emit(Start(
            run_dir=str(self.layout.path.resolve()), model=s.model, method=s.method, device=device.kind,
            device_name=device.name, precision=device.precision, dry_run=self.dry_run,
            train_examples=len(self.train_enc), eval_examples=len(self.val_enc), total_steps=self.total_steps,
            trainable_tokens=trained_tokens, world_size=self.world))
        self.metrics.update({
            "model": s.model, "method": s.method, "device": device.kind, "precision": device.precision,
            "dry_run": self.dry_run, "train_examples": len(self.train_enc), "eval_examples": len(self.val_enc),
            "preflight": {"train": self.train_info, "validation": self.val_info}})

    def _plan_evaluation(self, columns):
        """The evaluation during training: every `--eval-steps` (default: about ten per run), on at
        most EVAL_SUBSAMPLE_MAX validation examples, fewer when that would take more than about
        EVAL_TIME_SHARE of the training between two evaluations (a forward pass costs about a third
        of a training step's forward and backward). The dataset it uses when it is a subsample."""
        s = self.settings
        if not self.val_enc:
            if s.early_stopping:
                raise TrainError("--early-stopping needs a validation file (--validation FILE)")
            return None
        self.eval_steps = s.eval_steps or max(1, math.ceil(self.total_steps / 10))
        trained_between = self.eval_steps * s.batch_size * s.grad_accum * self.world
        budget = max(32, int(3 * EVAL_TIME_SHARE * trained_between))
        n = min(len(self.val_enc), EVAL_SUBSAMPLE_MAX, budget)
        self.during_examples = n
        if n == len(self.val_enc):
            log(f"tunelint: evaluating every {self.eval_steps} steps on the {n} validation examples")
            return None
        import random

        picked = sorted(random.Random(s.seed).sample(range(len(self.val_enc)), n))
        log(f"tunelint: evaluating every {self.eval_steps} steps on a subsample of {n} of the {len(self.val_enc)} "
            "validation examples (the evaluation after training uses them all)")
        self.metrics["eval_examples_during"] = n
        return columns([self.val_enc[i] for i in picked])

    def _sft_config(self):
        from trl import SFTConfig

        from .cuda_features import padding_free as use_padding_free

        s, device = self.settings, self.device
        padding_free = use_padding_free(s, device.kind)
        during = self.eval_steps is not None
        # early stopping keeps the best checkpoint: one saved at every evaluation
        save_steps = self.eval_steps if s.early_stopping else s.checkpoint_steps
        return SFTConfig(
            output_dir=str(self.layout.checkpoints), num_train_epochs=s.epochs, max_steps=s.max_steps,
            learning_rate=s.lr, per_device_train_batch_size=s.batch_size,
            per_device_eval_batch_size=s.batch_size, gradient_accumulation_steps=s.grad_accum,
            # padding-free without packing: the examples are cut to max_length already (encode), and TRL
            # would refuse a max_length it cannot enforce
            max_length=None if padding_free else s.max_length, packing=s.packing, padding_free=padding_free,
            bf16=device.bf16, fp16=device.fp16,
            use_cpu=device.kind == "cpu", logging_steps=s.logging_steps, save_strategy="steps",
            save_steps=save_steps, save_total_limit=2,
            report_to=[] if s.report_to == "none" else [s.report_to], seed=s.seed,
            gradient_checkpointing=s.gradient_checkpointing,
            eval_strategy="steps" if during else "no", eval_steps=self.eval_steps,
            load_best_model_at_end=bool(s.early_stopping), metric_for_best_model="eval_loss" if s.early_stopping
            else None, greater_is_better=False if s.early_stopping else None,
            ddp_backend="gloo" if device.kind == "cpu" and self.world > 1 else None,
            dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="cosine", warmup_steps=0.05,
            eval_packing=False, use_liger_kernel=s.liger,
            # batches of similar lengths: padding is wasted compute, and chat examples vary a lot
            train_sampling_strategy="group_by_length" if not (s.packing or padding_free) else "random",
        )

    def evaluate_before(self) -> None:
        """The validation loss of the model as loaded, and each example's (rank 0)."""
        from . import scoring

        if self.eval_ds is None:
            return
        before = self.trainer.evaluate(eval_dataset=self.eval_ds)  # every example, not the subsample
        self.metrics["eval_loss_before"] = before["eval_loss"]
        self.metrics["perplexity_before"] = _ppl(before["eval_loss"])
        self.events.emit(Eval(phase="before", eval_loss=before["eval_loss"],
                              perplexity=self.metrics["perplexity_before"], examples=len(self.val_enc)))
        if is_main_process():
            self.base_losses = scoring.example_losses(self.trainer.model, self.val_enc, self.dev,
                                                      self.settings.eval_batch_size)

    def base_train_losses(self) -> None:
        """The base model's loss per training example (rank 0), for the training dynamics: one
        forward pass, skipped above `dynamics_base_max` examples."""
        from . import scoring

        s = self.settings
        if not s.dynamics or not is_main_process():
            return
        if len(self.train_enc) > s.dynamics_base_max:
            self.base_note = (f"skipped: {len(self.train_enc)} training examples, over dynamics_base_max "
                              f"{s.dynamics_base_max}")
            log(f"tunelint: the base model's loss per training example is {self.base_note}")
            return
        losses = scoring.example_losses(self.trainer.model, self.train_enc, self.dev)
        self.train_base_losses = {e.line: loss for e, loss in zip(self.train_enc, losses, strict=True)}
        self.base_note = "computed"

    def train(self) -> None:
        """The optimizer steps, from the last checkpoint with --resume; a cancel saves a checkpoint."""
        trainer = self.trainer
        checkpoint = None
        if self.resume:
            from transformers.trainer_utils import get_last_checkpoint

            checkpoint = get_last_checkpoint(str(self.layout.checkpoints))
            if checkpoint is None:
                raise TrainError(f"--resume: no checkpoint in {self.layout.checkpoints}")
            log(f"tunelint: resuming from {checkpoint}")
        t0 = time.time()
        result = trainer.train(resume_from_checkpoint=checkpoint)
        train_s = time.time() - t0
        self.cancelled = self.cancel.requested
        self._early_stopping_outcome()
        if self.cancelled:
            trainer.save_model(str(self.layout.checkpoint(trainer.state.global_step)))
            self.events.emit(Artifact(kind="checkpoint", path=str(self.layout.checkpoints)))
        epochs_done = trainer.state.epoch or 0
        trained_tokens = self.count.trained * self.world  # the ranks train alike
        self.metrics.update({
            "train_loss": result.training_loss, "steps": trainer.state.global_step, "epochs": epochs_done,
            "train_tokens": trained_tokens, "train_runtime_s": round(train_s, 3),
            "train_tokens_per_second": round(trained_tokens / train_s, 2) if train_s > 0 else None,
            "throughput": self._throughput(train_s, final=True),
        })

    def _throughput(self, seconds: float, final: bool = False) -> dict:
        """Trained tokens/s, input (non-padding) tokens/s, the padding share and, on CUDA, the MFU,
        of this process's batches so far (× processes: they train alike)."""
        from . import gpus

        c, world = self.count, self.world
        if seconds <= 0:
            return {}
        out = {"tokens_per_second": round(c.trained * world / seconds, 2),
               "input_tokens_per_second": round(c.tokens * world / seconds, 2),
               "padding_share": round(1 - c.tokens / c.positions, 4) if c.positions else 0.0}
        if self.device.kind == "cuda":
            peak = self.peak_flops * world if self.peak_flops else None
            value = gpus.mfu(self.params, c.tokens * world, seconds, peak)
            out["mfu"] = round(value, 4) if value is not None else None
            if final:
                out["peak_flops"] = peak
                if peak is None:
                    out["mfu_missing"] = f"{self.device.name} is not in trainer/gpus.py's table of peak FLOP/s"
        if final:
            out.update(params=self.params, padding_free=bool(getattr(self.trainer, "padding_free", False)),
                       attention=getattr(self.model.config, "_attn_implementation", None))
        return out

    def _early_stopping_outcome(self) -> None:
        """With --early-stopping: the step kept (transformers loaded its checkpoint at the end) and
        why; a `stopped_early` event when training stopped before its last step."""
        s, state = self.settings, self.trainer.state
        if not s.early_stopping or state.best_metric is None:
            return
        best_step = state.best_global_step
        if best_step is None and state.best_model_checkpoint:
            best_step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[-1])
        stopped_at = state.global_step
        early = stopped_at < (state.max_steps or self.total_steps) and not self.cancelled
        best = round(float(state.best_metric), 6)
        if early:
            reason = (f"the eval loss did not improve on {best:.4g} (step {best_step}) for {s.early_stopping} "
                      f"evaluation(s); stopped at step {stopped_at} and kept step {best_step}")
        else:
            reason = (f"trained to the last step ({stopped_at}) without {s.early_stopping} evaluation(s) in a row "
                      f"without improvement; kept the best step {best_step} (eval loss {best:.4g})")
        self.metrics["early_stopping"] = {"patience": s.early_stopping, "best_step": best_step, "best_eval_loss": best,
                                          "stopped_at_step": stopped_at, "reason": reason}
        log(f"tunelint: early stopping: {reason}")
        if early:
            self.events.emit(StoppedEarly(best_step=best_step, best_eval_loss=best, stopped_at_step=stopped_at,
                                          reason=reason))

    def gather_dynamics(self) -> None:
        """Every rank's per-example records (each rank recorded the examples it trained)."""
        if self.settings.dynamics and hasattr(self.trainer, "gathered_dynamics"):
            self.dynamics_records = self.trainer.gathered_dynamics()

    def save_dynamics(self) -> None:
        """train_dynamics.jsonl and data_map.png (rank 0); their summary in metrics.json."""
        from . import dynamics
        from .plot import plot_data_map

        if not self.settings.dynamics:
            return
        if not self.dynamics_records:
            missed = getattr(self.trainer, "dynamics_missed", 0)
            log("tunelint: no training dynamics recorded" + (
                f": {missed} batch(es) used the trainer's own loss (a custom loss, label smoothing or an "
                "auxiliary loss), which gives no per-example loss" if missed else ""))
            return
        rows, summary = dynamics.summarize(self.dynamics_records, self.train_base_losses, self.base_note)
        if self.resume:
            summary["note"] = "resumed: the passes before the resume are not recorded" + (
                f"; {summary['note']}" if summary["note"] else "")
        dynamics.write(self.layout.train_dynamics, rows)
        self.metrics["dynamics"] = summary
        self.events.emit(Artifact(kind="dynamics", path=str(self.layout.train_dynamics)))
        if summary["note"]:
            log(f"tunelint: training dynamics: {summary['note']}")
        png = plot_data_map(rows, summary, self.layout.data_map, self.dry_run)
        if png:
            self.events.emit(Artifact(kind="data_map", path=str(png)))

    def evaluate_after(self) -> None:
        """The validation loss after training; every rank takes part (the evaluation is shared)."""
        if self.eval_ds is None or self.cancelled:
            return
        after = self.trainer.evaluate(eval_dataset=self.eval_ds)  # every example
        self.metrics["eval_loss_after"] = after["eval_loss"]
        self.metrics["perplexity_after"] = _ppl(after["eval_loss"])
        self.events.emit(Eval(phase="after", eval_loss=after["eval_loss"], perplexity=self.metrics["perplexity_after"],
                              examples=len(self.val_enc)))

    def evaluate_examples(self) -> None:
        """Per validation example (rank 0): loss after and before, a generation, exact match, F1."""
        from . import scoring

        if self.eval_ds is None or self.cancelled:
            return
        model, dev = self.trainer.model, self.dev
        t0 = time.time()
        after_losses = scoring.example_losses(model, self.val_enc, dev, self.settings.eval_batch_size)
        by_line = {e.line: e for e in self.val_examples}
        rows = ((by_line[enc.line], loss, base_loss)
                for enc, loss, base_loss in zip(self.val_enc, after_losses, self.base_losses, strict=False))
        records = scoring.write_results(self.layout.eval_results, self.events, model, self.tok, dev, rows,
                                        self.settings.eval_max_new_tokens, self.settings.eval_batch_size)
        self.metrics["eval_examples_s"] = round(time.time() - t0, 3)
        if records:
            self.metrics["exact_match"] = sum(r.exact_match for r in records) / len(records)
            self.metrics["token_f1"] = sum(r.token_f1 for r in records) / len(records)

    def save(self) -> None:
        """The adapter or model with its tokenizer, metrics.json, config.json and loss.png (rank 0)."""
        from .plot import plot_losses

        s, layout = self.settings, self.layout
        target = layout.weights(s.method)
        self.trainer.save_model(str(target))
        self.tok.save_pretrained(str(target))
        self.events.emit(Artifact(kind="model" if s.method == "full" else "adapter", path=str(target)))
        self.metrics["duration_s"] = round(time.time() - self.started, 2)
        self.metrics["memory"] = self._memory_report()
        self.metrics["status"] = "cancelled" if self.cancelled else "completed"
        write_atomically(layout.metrics, json.dumps(self.metrics, indent=2) + "\n")
        self.events.emit(Artifact(kind="metrics", path=str(layout.metrics)))
        config: RunConfig = {
            "data": os.path.abspath(self.data),
            "validation": os.path.abspath(self.validation) if self.validation else None,
            "base_model": self.base, "settings": s.to_json(), "learning_rate": s.lr,
            "device": dataclasses.asdict(self.device), "versions": library_versions(), "dry_run": self.dry_run,
            "lint": self.lint,
        }
        write_atomically(layout.config, json.dumps(config, indent=2, default=str) + "\n")
        png = plot_losses(self.trainer.state.log_history, layout.plot, self.dry_run)
        if png:
            self.events.emit(Artifact(kind="plot", path=str(png)))


def check_tracker(report_to: str) -> None:
    """TrainError (exit 2) when --report-to names a tracker whose package is not installed."""
    import importlib.util

    package = TRACKER_PACKAGES.get(report_to)
    if package is not None and importlib.util.find_spec(package) is None:
        raise TrainError(f"--report-to {report_to} needs the {package} package, which is not installed: "
                         f"`pip install {package}` (in the environment tunelint trains in)")


def _tracker_environment(report_to: str, layout: RunLayout) -> None:
    """The trackers' local files go under the run's `trackers/` (unless their variables say
    otherwise); W&B runs offline when its servers cannot be reached."""
    folder = layout.trackers
    if report_to == "tensorboard":
        os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(folder / "tensorboard"))
    elif report_to == "wandb":
        os.environ.setdefault("WANDB_DIR", str(folder))
        if "WANDB_MODE" not in os.environ and not _reachable("api.wandb.ai", 443):
            os.environ["WANDB_MODE"] = "offline"
            log(f"tunelint: W&B cannot be reached: logging offline into {folder / 'wandb'} (`wandb sync` later)")
    elif report_to == "mlflow":
        os.environ.setdefault("MLFLOW_TRACKING_URI", (folder / "mlruns").resolve().as_uri())
    else:
        return
    folder.mkdir(parents=True, exist_ok=True)


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _progress_callback(events: Events, cancel: Cancel, total_steps: int, metrics: Metrics | None = None,
                       eval_examples: int = 0, throughput=None):
    """A TrainerCallback: `log` and `step` events, an `eval` event (phase `during`) per evaluation
    during training (also in `metrics["evals"]`), and a cancel stops at the step's end.
    `throughput(seconds)`: the step events' `tokens_per_second` and `mfu` (trainer/throughput.py)."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.loss = None
            self.training = False  # the evaluations before and after training are not `during`

        def on_train_begin(self, args_, state, control, **kw):
            self.t0 = time.time()
            self.training = True

        def on_train_end(self, args_, state, control, **kw):
            self.training = False

        def on_evaluate(self, args_, state, control, metrics=None, **kw):
            loss = (metrics or {}).get("eval_loss")
            if not self.training or loss is None:
                return
            loss = float(loss)
            events.emit(Eval(phase="during", eval_loss=loss, perplexity=_ppl(loss), step=state.global_step,
                             examples=eval_examples))
            if metrics_out is not None:
                metrics_out.setdefault("evals", []).append(
                    {"step": state.global_step, "eval_loss": loss, "examples": eval_examples})

        def on_log(self, args_, state, control, logs=None, **kw):
            logs = dict(logs or {})
            if "loss" in logs:
                self.loss = logs["loss"]
            numbers = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
            events.emit(Log(step=state.global_step, values=numbers))

        def on_step_end(self, args_, state, control, **kw):
            total = state.max_steps or total_steps
            elapsed = time.time() - (self.t0 or time.time())
            progress = state.global_step / total if total else 0.0
            eta = elapsed / progress * (1 - progress) if progress else None
            rates = throughput(elapsed) if throughput is not None else {}
            events.emit(Step(step=state.global_step, total_steps=total, epoch=round(state.epoch or 0, 4),
                             progress=round(progress, 4), eta_s=round(eta, 1) if eta is not None else None,
                             loss=self.loss, tokens_per_second=rates.get("tokens_per_second"), mfu=rates.get("mfu")))
            if cancel.requested:
                control.should_training_stop = True
                control.should_save = True

    metrics_out = metrics
    return Progress()


def _leave_process_group() -> None:
    """Under torchrun: every rank waits for the others to finish, then leaves the process group.
    A rank that exited while the group's threads still ran could abort ("terminate called
    without an active exception") and fail the whole launch."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _ppl(loss: float) -> float | None:
    from .scoring import perplexity

    p = perplexity(loss)
    return round(p, 4) if p is not None else None
