"""`tunelint train`: lint, preflight, fine-tune with TRL's SFTTrainer (LoRA through peft, or
full), evaluate before and after, per example, and write the run folder."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from .data import Encoded, Example, encode, load_examples
from .device import detect
from .events import Events, is_main_process
from .loss import selective_trainer_class
from .settings import TrainError, TrainSettings

EXIT_CANCELLED = 130


def log(msg: str) -> None:
    if is_main_process():
        print(msg, file=sys.stderr, flush=True)


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

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def lint_gate(paths: list[str], force: bool, config) -> None:
    """The linter's verdict first: refuse a dataset with errors unless forced."""
    from tunelint.linter.engine import Linter

    with Linter(jobs=1) as linter:
        reports = linter.lint_paths(paths, config.settings_for, config.split_of)
    errors = [f for r in reports for f in r.findings if f.severity.value == "error"]
    if not errors:
        return
    shown = "\n".join(f"  {f.path}:{f.line}:{f.column}: {f.code} {f.message}" for f in errors[:10])
    more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
    if force:
        log(f"tunelint: training despite {len(errors)} error(s) (--force):\n{shown}{more}")
        return
    raise TrainError(f"the dataset has {len(errors)} error(s); fix them (`tunelint check`) or pass --force:\n{shown}{more}", 1)


def load_model(settings: TrainSettings, examples: list[Example], run_dir: Path, device):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if settings.model == "tiny":
        from . import tiny

        texts = [m.get("content") for ex in examples for m in ex.messages if isinstance(m.get("content"), str)]
        model, tok = tiny.build(texts, run_dir / "base-model", max_length=max(settings.max_length, 64), seed=settings.seed)
        return model, tok, str(run_dir / "base-model")
    dtype = torch.bfloat16 if device.bf16 else torch.float16 if device.fp16 else torch.float32
    try:
        tok = AutoTokenizer.from_pretrained(settings.model)
        model = AutoModelForCausalLM.from_pretrained(settings.model, dtype=dtype)
    except OSError as e:
        hint = ("it is not a local folder, and the Hugging Face hub could not provide it (offline, a typo, "
                "or a gated model: `huggingface-cli login`)")
        raise TrainError(f"cannot load model {settings.model!r}: {hint}. ({str(e).splitlines()[0]})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token  # safe: labels are masked by position, not by token id
    return model, tok, settings.model


def preflight(tok, examples: list[Example], settings: TrainSettings, what: str) -> tuple[list[Encoded], dict]:
    """Checks only training reveals; raises TrainError for what would waste the run."""
    if not getattr(tok, "chat_template", None):
        raise TrainError("the tokenizer has no chat template: choose a chat/instruct model, or set one "
                         "(tokenizer.chat_template) in the model folder")
    encoded = [encode(tok, ex, settings.max_length) for ex in examples]
    empty = [e.line for e in encoded if e.trained == 0]
    if len(empty) == len(encoded):
        raise TrainError(f"{what}: no example has a trained (assistant) token; an all-zero mask trains on nothing", 1)
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
        log(f"tunelint: {what}: {len(empty)} example(s) have no trained token (lines {_lines(empty)}); they are skipped")
    if too_long:
        log(f"tunelint: {what}: {len(too_long)} example(s) exceed max_length {settings.max_length} "
            f"(lines {_lines([e.line for e in too_long])}); truncated" + (f", and the answer is cut on lines {_lines(cut)}" if cut else ""))
    if not eos_trained:
        log(f"tunelint: {what}: the end-of-turn token {tok.eos_token!r} is never trained: the model may not learn to stop")
    return [e for e in encoded if e.trained], info


def _lines(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:8])) + (", ..." if len(lines) > 8 else "")


def library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("tunelint", "torch", "transformers", "trl", "peft", "accelerate"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def train(data: str, output: str, settings: TrainSettings, *, validation: str | None = None, force: bool = False,
          overwrite: bool = False, resume: bool = False, events_stdout: bool = False, config=None) -> int:
    started = time.time()
    run_dir = Path(output)
    # only rank 0 judges the folder: under torchrun the other ranks find it already started
    if is_main_process() and run_dir.exists() and any(run_dir.iterdir()) and not (overwrite or resume):
        raise TrainError(f"{run_dir} exists and is not empty: pass --overwrite to replace it, or --resume to continue")
    if run_dir.exists() and overwrite and not resume and is_main_process():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    events = Events(str(run_dir / "events.jsonl"), events_stdout)
    cancel = Cancel()
    cancel.install()
    status, code = "failed", 1
    try:
        code = _train(data, run_dir, settings, validation, force, resume, config, events, cancel, started)
        status = "cancelled" if code == EXIT_CANCELLED else "completed"
        return code
    except TrainError as e:
        events.emit("error", message=str(e))
        code = e.code
        raise
    except KeyboardInterrupt:
        status, code = "cancelled", EXIT_CANCELLED
        events.emit("error", message="interrupted")
        return code
    except Exception as e:
        events.emit("error", message=f"{type(e).__name__}: {e}")
        if "out of memory" in str(e).lower():
            raise TrainError("out of memory: lower --batch-size or --max-length, use --method lora, "
                             "or --gradient-checkpointing") from e
        raise
    finally:
        events.emit("end", status=status, duration_s=round(time.time() - started, 2), exit_code=code)
        events.close()
        cancel.restore()


def _train(data, run_dir: Path, settings: TrainSettings, validation, force, resume, config, events: Events,
           cancel: Cancel, started: float) -> int:
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from tunelint.config import load_config

    from . import evaluate as ev
    from .plot import plot_losses

    config = config or load_config(start=Path(data).resolve().parent)
    lint_gate([data] + ([validation] if validation else []), force, config)
    train_ex = load_examples(data)
    val_ex = load_examples(validation) if validation else []
    device = detect()
    torch.manual_seed(settings.seed)
    model, tok, base = load_model(settings, train_ex + val_ex, run_dir, device)
    train_enc, train_info = preflight(tok, train_ex, settings, "training data")
    val_enc, val_info = preflight(tok, val_ex, settings, "validation data") if val_ex else ([], {})
    dry_run = settings.model == "tiny"

    peft_config = None
    if settings.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    steps_per_epoch = math.ceil(len(train_enc) / (settings.batch_size * settings.grad_accum * world))
    total_steps = settings.max_steps if settings.max_steps > 0 else math.ceil(steps_per_epoch * settings.epochs)
    args = SFTConfig(
        output_dir=str(run_dir / "checkpoints"), num_train_epochs=settings.epochs, max_steps=settings.max_steps,
        learning_rate=settings.lr, per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size, gradient_accumulation_steps=settings.grad_accum,
        max_length=settings.max_length, packing=settings.packing, bf16=device.bf16, fp16=device.fp16,
        use_cpu=device.kind == "cpu", logging_steps=settings.logging_steps, save_strategy="steps",
        save_steps=settings.checkpoint_steps, save_total_limit=2,
        report_to=[], seed=settings.seed, gradient_checkpointing=settings.gradient_checkpointing,
        eval_strategy="no", ddp_backend="gloo" if device.kind == "cpu" and world > 1 else None,
        dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="cosine", warmup_steps=0.05,
        eval_packing=False, use_liger_kernel=False,
        # batches of similar lengths: padding is wasted compute, and chat examples vary a lot
        train_sampling_strategy="group_by_length" if not settings.packing else "random",
    )
    columns = lambda enc: Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in enc])  # noqa: E731
    train_ds = columns(train_enc)
    eval_ds = columns(val_enc) if val_enc else None
    trained_tokens = train_info["trainable_tokens"]
    log(f"tunelint: {'DRY RUN with a tiny model built from the data; ' if dry_run else ''}model {settings.model}, "
        f"{settings.method}, {device.name} ({device.precision}), {len(train_enc)} training examples, "
        f"{trained_tokens:,} trainable tokens per epoch, {total_steps} steps")

    class Progress(TrainerCallback):
        def __init__(self):
            self.t0 = None
            self.loss = None

        def on_train_begin(self, args_, state, control, **kw):
            self.t0 = time.time()

        def on_log(self, args_, state, control, logs=None, **kw):
            logs = dict(logs or {})
            if "loss" in logs:
                self.loss = logs["loss"]
            events.emit("log", step=state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float))})

        def on_step_end(self, args_, state, control, **kw):
            total = state.max_steps or total_steps
            elapsed = time.time() - (self.t0 or time.time())
            progress = state.global_step / total if total else 0.0
            eta = elapsed / progress * (1 - progress) if progress else None
            events.emit("step", step=state.global_step, total_steps=total, epoch=round(state.epoch or 0, 4),
                        progress=round(progress, 4), eta_s=round(eta, 1) if eta is not None else None, loss=self.loss)
            if cancel.requested:
                control.should_training_stop = True
                control.should_save = True

    # on a CPU, the loss on trained positions only (trainer/loss.py); elsewhere TRL's fused LM head
    trainer_class = selective_trainer_class(SFTTrainer) if device.kind == "cpu" else SFTTrainer
    trainer = trainer_class(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tok,
                          peft_config=peft_config, callbacks=[Progress()])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # stdout carries only events (--events -); progress goes there
    events.emit("start", run_dir=str(run_dir.resolve()), model=settings.model, method=settings.method,
                device=device.kind, device_name=device.name, precision=device.precision, dry_run=dry_run,
                train_examples=len(train_enc), eval_examples=len(val_enc), total_steps=total_steps,
                trainable_tokens=trained_tokens, world_size=world)
    metrics: dict = {"model": settings.model, "method": settings.method, "device": device.kind,
                     "precision": device.precision, "dry_run": dry_run, "train_examples": len(train_enc),
                     "eval_examples": len(val_enc), "preflight": {"train": train_info, "validation": val_info}}
    dev = trainer.model.device
    base_losses = []
    if eval_ds is not None:
        before = trainer.evaluate()
        metrics["eval_loss_before"] = before["eval_loss"]
        metrics["perplexity_before"] = _ppl(before["eval_loss"])
        events.emit("eval", phase="before", eval_loss=before["eval_loss"], perplexity=metrics["perplexity_before"])
        if is_main_process():
            base_losses = ev.example_losses(trainer.model, val_enc, dev)

    checkpoint = None
    if resume:
        from transformers.trainer_utils import get_last_checkpoint

        checkpoint = get_last_checkpoint(str(run_dir / "checkpoints"))
        if checkpoint is None:
            raise TrainError(f"--resume: no checkpoint in {run_dir / 'checkpoints'}")
        log(f"tunelint: resuming from {checkpoint}")
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    train_s = time.time() - t0
    cancelled = cancel.requested
    if cancelled:
        trainer.save_model(str(run_dir / "checkpoints" / f"checkpoint-{trainer.state.global_step}"))
        events.emit("artifact", kind="checkpoint", path=str(run_dir / "checkpoints"))
    epochs_done = trainer.state.epoch or 0
    metrics.update({
        "train_loss": result.training_loss, "steps": trainer.state.global_step, "epochs": epochs_done,
        "train_tokens": int(trained_tokens * epochs_done), "train_runtime_s": round(train_s, 3),
        "train_tokens_per_second": round(trained_tokens * epochs_done / train_s, 2) if train_s > 0 else None,
    })
    main = is_main_process()
    if eval_ds is not None and not cancelled:
        after = trainer.evaluate()  # every rank: the evaluation is shared between them
        metrics["eval_loss_after"] = after["eval_loss"]
        metrics["perplexity_after"] = _ppl(after["eval_loss"])
        events.emit("eval", phase="after", eval_loss=after["eval_loss"], perplexity=metrics["perplexity_after"])
    if not main:
        _leave_process_group()  # waits for rank 0's per-example evaluation and saving
        return EXIT_CANCELLED if cancelled else 0
    if eval_ds is not None and not cancelled:
        after_losses = ev.example_losses(trainer.model, val_enc, dev)
        by_line = {e.line: e for e in val_ex}
        records = []
        with open(run_dir / "eval_results.jsonl", "w", encoding="utf-8") as f:
            for enc, loss, base_loss in zip(val_enc, after_losses, base_losses):
                ex = by_line[enc.line]
                gen = ev.generate(trainer.model, tok, ex, dev, settings.eval_max_new_tokens)
                rec = ev.record(ex, loss, base_loss, gen)
                records.append(rec)
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                events.emit("example", **rec)
        events.emit("artifact", kind="eval_results", path=str(run_dir / "eval_results.jsonl"))
        if records:
            metrics["exact_match"] = sum(r["exact_match"] for r in records) / len(records)
            metrics["token_f1"] = sum(r["token_f1"] for r in records) / len(records)
    target = run_dir / ("adapter" if settings.method == "lora" else "model")
    trainer.save_model(str(target))
    tok.save_pretrained(str(target))
    events.emit("artifact", kind="adapter" if settings.method == "lora" else "model", path=str(target))
    metrics["duration_s"] = round(time.time() - started, 2)
    metrics["status"] = "cancelled" if cancelled else "completed"
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    events.emit("artifact", kind="metrics", path=str(run_dir / "metrics.json"))
    (run_dir / "config.json").write_text(json.dumps({
        "data": os.path.abspath(data), "validation": os.path.abspath(validation) if validation else None,
        "base_model": base, "settings": settings.__dict__, "learning_rate": settings.lr,
        "device": device.__dict__, "versions": library_versions(), "dry_run": dry_run,
    }, indent=2, default=str) + "\n")
    png = plot_losses(trainer.state.log_history, run_dir / "loss.png", dry_run)
    if png:
        events.emit("artifact", kind="plot", path=str(png))
    _leave_process_group()
    return EXIT_CANCELLED if cancelled else 0


def _leave_process_group() -> None:
    """Under torchrun: every rank waits for the others to finish, then leaves the process group.
    A rank that exited while the group's threads still ran could abort ("terminate called
    without an active exception") and fail the whole launch."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _ppl(loss: float) -> float | None:
    return round(math.exp(loss), 4) if loss is not None and loss < 50 else None
