"""Training throughput: tunelint's training path against a hand-written "seed-style" PyTorch
loop and TRL's SFTTrainer with its defaults, in one run, on the same data, tokenizer and model.

The tiny Llama-style model and byte-level BPE tokenizer are built ONCE with ``trainer/tiny.py``
(``tiny.build``, the call ``tunelint train --model tiny`` makes, same seed and max_length). Every
row trains a fresh ``copy.deepcopy`` of that model: full fine-tune, fp32, CPU,
``torch.set_num_threads(2)``, the same batch size and number of optimizer steps.

* ``tunelint train (full)``: ``tunelint.trainer.train_recipe.train()`` in process, called as the CLI calls
  it for ``tunelint train DATA --model tiny --method full --max-steps N --batch-size B
  --max-length L --seed S`` (config lookup, lint gate, preflight, assistant-only masks, the
  ``SFTConfig`` train_recipe.py builds, its callbacks, events and checkpoints). Two patches, both
  benchmark-only: ``run.load_model`` returns the copy of the shared model (``tiny.build`` would
  rebuild the identical one, untimed), and ``trl.SFTTrainer`` is a subclass whose ``train()``
  carries the benchmark's clock (train_recipe.py's own ``train_runtime_s`` times that same call).
* ``seed-style loop``: the naive script. Every example is rendered with the chat template and
  tokenised with ``padding="max_length"``; ``labels = input_ids`` (pad positions are not set to
  -100, so the loss covers them); plain ``torch.optim.AdamW``; ``loss.item()`` every step; no
  Trainer.
* ``TRL SFTTrainer defaults``: ``SFTTrainer`` on the conversational dataset
  ``{"messages": [...]}`` with the tokenizer's chat template. Only what the run needs is set:
  ``use_cpu``, ``bf16=False``, ``max_length``, ``per_device_train_batch_size``, ``max_steps``,
  ``report_to=[]``, ``seed`` (42, TRL's default too) and ``output_dir``. The rest is TRL's default:
  ``gradient_checkpointing=True``, loss on every token, ``logging_steps=10``, no packing.

The timed part is the training only: ``trainer.train()``, or the loop. Model building,
tokenisation and dataset preparation (the TRL row's constructor) are not timed.

Tokens are counted at the model's input (a forward pre-hook), from the batches actually trained
on:

* trained tokens: positions whose label is not -100 (tunelint: the assistant tokens, as in its
  metrics.json; TRL defaults: every token; seed-style: every non-pad token, although its loss also
  covers the pad positions);
* assistant tokens: the tokens of the trained assistant answers (tunelint's mask) in those
  batches, the useful tokens learned from. **The fair comparison**;
* positions computed: batch size x padded length, summed over the steps (what the model ran on).

    python bench/train_speed.py --quick        # 30 steps a row, one run: ~20 s on 2 quiet cores
    python bench/train_speed.py                # 100 steps a row, 5 interleaved runs: ~2 min
    python bench/train_speed.py --variants --repeat 2   # + rows that say where the time goes

On a busy machine (a test suite beside it) the rows slow down 5-15x, unevenly: the table flags
them; rerun on a quiet machine.

Timings are reported, never asserted. It exits 1 only if a row crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from _proc import busy_s

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

DEFAULT_DATA = str(ROOT.parent / "shared" / "data" / "real" / "gsm8k_train.jsonl")
DEFAULT_EVAL_DATA = str(ROOT.parent / "shared" / "data" / "real" / "gsm8k_validation.jsonl")
THREADS = 2


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# machine


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def git_describe() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


class Clock:
    """Wall and CPU seconds of a block, and the share of the machine other processes used."""

    def __enter__(self):
        self.b0, self.c0, self.t0 = busy_s(), own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = own_cpu_s() - self.c0
        b1 = busy_s()
        ncpu = os.cpu_count() or 1
        self.other = (None if self.b0 is None or b1 is None or self.wall <= 0
                      else max(0.0, (b1 - self.b0 - self.cpu) / (self.wall * ncpu)))
        return False


# ------------------------------------------------------------------------------------------------
# token accounting


class Tally:
    """What the model was fed during one row's training, counted at the model's input."""

    def __init__(self, assistant_of: dict[tuple, int]):
        self.assistant_of = assistant_of  # token ids of an example -> its assistant tokens
        self.examples = self.trained = self.assistant = self.positions = self.real = 0
        self.unmatched = 0
        self.stamps: list[float] = []

    def hook(self, module, args, kwargs):
        """Forward pre-hook on the model: one call per training micro-batch."""
        import torch

        if not module.training:
            return None
        self.stamps.append(time.perf_counter())
        ids = kwargs.get("input_ids", args[0] if args else None)
        labels = kwargs.get("labels")
        mask = kwargs.get("attention_mask")
        pos = kwargs.get("position_ids")
        self.positions += ids.numel()
        rows = ids.tolist()
        if mask is not None:  # padded batch (right padding)
            seqs = [r[:n] for r, n in zip(rows, mask.sum(-1).tolist(), strict=False)]
        elif pos is not None:  # padding-free (packed): a sequence starts where position_ids is 0
            seqs = []
            for r, p in zip(rows, pos.tolist(), strict=False):
                starts = [i for i, x in enumerate(p) if x == 0] + [len(p)]
                seqs += [r[s:e] for s, e in zip(starts, starts[1:], strict=False) if e > s]
        else:
            seqs = rows
        for s in seqs:
            n = self.assistant_of.get(tuple(s))
            if n is None:
                self.unmatched += 1
                n = 0
            self.examples += 1
            self.assistant += n
            self.real += len(s)
        keep = kwargs.get("logits_to_keep")
        if labels is None and isinstance(keep, torch.Tensor) and keep.dtype == torch.bool:
            self.trained += int(keep.sum())  # tunelint's CPU loss: the trained positions only
        elif labels is None:
            self.trained += sum(len(s) for s in seqs)
        elif mask is not None:  # the seed loop's pad labels are not counted as trained tokens
            self.trained += int(((labels != -100) & mask.bool()).sum())
        else:
            self.trained += int((labels != -100).sum())
        return None

    def attach(self, model):
        return model.register_forward_pre_hook(self.hook, with_kwargs=True)

    def median_step(self) -> float | None:
        """Median time from one training forward to the next: a whole step, robust to bursts."""
        gaps = [b - a for a, b in zip(self.stamps, self.stamps[1:], strict=False)]
        return statistics.median(gaps) if gaps else None


# ------------------------------------------------------------------------------------------------
# rows


def row_tunelint(a, model, tok, assistant_of, work: Path, label: str, patch_args=None,
                 fused_loss: bool = False, **overrides) -> dict:
    """`tunelint train DATA --model tiny --method full ...` in process, timed around
    trainer.train(). `overrides` are training settings (tunelint.toml's [tool.tunelint.train]).
    Two "what if" patches, off by default: `patch_args` sets SFTConfig fields over train_recipe.py's, and
    `fused_loss` keeps TRL's fused LM-head loss (what train_recipe.py uses on a GPU) instead of the
    trained-positions loss train_recipe.py uses on a CPU (trainer/loss.py)."""
    import trl

    from tunelint.config import load_config
    from tunelint.trainer import train_recipe as run_mod
    from tunelint.trainer.settings import resolve

    data = a.data
    config = load_config(None, Path(data).resolve().parent)  # as the CLI does
    cli = {"model": "tiny", "method": "full", "max_steps": a.steps, "batch_size": a.batch_size,
           "max_length": a.max_length, "seed": a.seed, **overrides}
    settings = resolve(config.train, cli)
    tally = Tally(assistant_of)
    holder = {}
    original_sft = trl.SFTTrainer

    class TimedSFTTrainer(original_sft):
        """train_recipe.py's trainer, unchanged, with the benchmark's clock around train() (where train_recipe.py
        puts its own train_runtime_s) and the token count at the model's input."""

        def __init__(self, *args_, **kw):
            for k, v in (patch_args or {}).items():
                setattr(kw["args"], k, v)
            super().__init__(*args_, **kw)

        def train(self, *args_, **kw):
            holder["trainer"] = self
            handle = tally.attach(self.model)
            try:
                with Clock() as clock:
                    result = super().train(*args_, **kw)
            finally:
                handle.remove()
            holder["clock"] = clock
            return result

    fresh = copy.deepcopy(model)
    original_load, original_loss = run_mod.load_model, run_mod.selective_trainer_class
    run_mod.load_model = lambda settings_, examples, run_dir, device: (fresh, tok, "tiny (shared)")
    if fused_loss:
        run_mod.selective_trainer_class = lambda base: base
    trl.SFTTrainer = TimedSFTTrainer
    out = work / f"tunelint-{label}"
    try:
        code = run_mod.train(data, str(out), settings, overwrite=True, config=config)
    finally:
        run_mod.load_model, run_mod.selective_trainer_class = original_load, original_loss
        trl.SFTTrainer = original_sft
    if code != 0:
        raise RuntimeError(f"tunelint train exited {code}")
    metrics = json.loads((out / "metrics.json").read_text())
    clock = holder["clock"]
    if tally.trained != tally.assistant:
        say(f"   note: tunelint trained {tally.trained} tokens, {tally.assistant} assistant tokens")
    if settings.checkpoint_steps >= a.steps:
        note = f"logging_steps={settings.logging_steps}, no mid-run checkpoint"
    else:
        note = (f"logging_steps={settings.logging_steps}, "
                f"checkpoint every {settings.checkpoint_steps} steps")
    if settings.packing:
        note += ", packing (TRL bfd, padding-free)"
    strategy = holder["trainer"].args.train_sampling_strategy
    note += f", {strategy} batches"
    for k, v in (patch_args or {}).items():
        note += f" ({k}={v!r}: benchmark patch)"
    if fused_loss:
        note += ", TRL's fused LM-head loss as on a GPU (benchmark patch)"
    return {"wall": clock.wall, "cpu": clock.cpu, "other": clock.other,
            "steps": holder["trainer"].state.global_step, "tally": tally, "note": note,
            "own_runtime": metrics.get("train_runtime_s"),
            "own_tps": metrics.get("train_tokens_per_second")}


def row_seed(a, examples, model, tok, assistant_of, lr: float) -> dict:
    """The naive loop: pad everything to max_length, labels = input_ids, AdamW, no Trainer."""
    import torch

    texts = [tok.apply_chat_template(ex.messages, tools=ex.tools, tokenize=False)
             for ex in examples]
    enc = tok(texts, padding="max_length", truncation=True, max_length=a.max_length,
              add_special_tokens=False, return_tensors="pt")
    input_ids, attention = enc["input_ids"], enc["attention_mask"]
    m = copy.deepcopy(model)
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=lr)
    g = torch.Generator().manual_seed(a.seed)
    order: list[int] = []
    losses = []
    tally = Tally(assistant_of)
    handle = tally.attach(m)
    with Clock() as clock:
        for _ in range(a.steps):
            while len(order) < a.batch_size:  # shuffled epochs, like DataLoader(shuffle=True)
                order.extend(torch.randperm(len(examples), generator=g).tolist())
            idx, order = order[: a.batch_size], order[a.batch_size:]
            ids, mask = input_ids[idx], attention[idx]
            labels = ids.clone()  # the naive part: pad positions are in the loss too
            out = m(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(out.loss.item())
    handle.remove()
    return {"wall": clock.wall, "cpu": clock.cpu, "other": clock.other, "steps": a.steps,
            "tally": tally, "note": f"padded to {a.max_length}; pad positions in the loss"}


def row_plain_masked(a, encoded, model, tok, assistant_of, lr: float) -> dict:
    """A diagnostic: the seed-style loop fed batches built as tunelint builds them (assistant-only
    labels, length-grouped batches padded to their longest example, transformers'
    LengthGroupedSampler as train_recipe.py asks for). What tunelint's data handling is worth without the
    Trainer and TRL's loss."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    m = copy.deepcopy(model)
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=lr)
    g = torch.Generator().manual_seed(a.seed)
    sampler = LengthGroupedSampler(a.batch_size, lengths=[len(e.input_ids) for e in encoded],
                                   generator=g)
    order: list[int] = []
    pad = tok.pad_token_id
    tally = Tally(assistant_of)
    handle = tally.attach(m)
    with Clock() as clock:
        for _ in range(a.steps):
            while len(order) < a.batch_size:
                order.extend(iter(sampler))
            idx, order = order[: a.batch_size], order[a.batch_size:]
            batch = [encoded[i] for i in idx]
            width = max(len(e.input_ids) for e in batch)
            ids = torch.tensor([e.input_ids + [pad] * (width - len(e.input_ids)) for e in batch])
            labels = torch.tensor([e.labels + [-100] * (width - len(e.labels)) for e in batch])
            mask = torch.tensor([[1] * len(e.input_ids) + [0] * (width - len(e.input_ids))
                                 for e in batch])
            out = m(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            out.loss.item()
    handle.remove()
    return {"wall": clock.wall, "cpu": clock.cpu, "other": clock.other, "steps": a.steps,
            "tally": tally, "note": "length-grouped; no Trainer: AdamW, no clipping, no scheduler, "
                                    "no logging, the model's own loss"}


def row_trl(a, examples, model, tok, assistant_of, work: Path, label: str, **overrides) -> dict:
    """SFTTrainer with its defaults on the conversational dataset."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    ds = Dataset.from_list([{"messages": ex.messages} for ex in examples])
    args = SFTConfig(output_dir=str(work / f"trl-{label}"), use_cpu=True, bf16=False,
                     max_length=a.max_length, per_device_train_batch_size=a.batch_size,
                     max_steps=a.steps, report_to=[], seed=a.seed, **overrides)
    trainer = SFTTrainer(model=copy.deepcopy(model), args=args, train_dataset=ds,
                         processing_class=tok)
    tally = Tally(assistant_of)
    handle = tally.attach(trainer.model)
    with contextlib.redirect_stdout(sys.stderr), Clock() as clock:  # its log lines: not the table's
        trainer.train()
    handle.remove()
    note = (f"gradient_checkpointing={args.gradient_checkpointing}, "
            f"logging_steps={args.logging_steps:g}")
    return {"wall": clock.wall, "cpu": clock.cpu, "other": clock.other,
            "steps": trainer.state.global_step, "tally": tally, "note": note}


def warm_up(model, tok, examples, a, work: Path) -> None:
    """Untimed: a few plain steps and a 2-step SFTTrainer run, so that the first timed row does
    not pay the kernels', the allocator's and the Trainer's lazy imports' first use."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    m = copy.deepcopy(model)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    texts = [tok.apply_chat_template(ex.messages, tokenize=False)
             for ex in examples[: a.batch_size]]
    enc = tok(texts, padding=True, truncation=True, max_length=a.max_length,
              add_special_tokens=False, return_tensors="pt")
    for _ in range(3):
        out = m(**enc, labels=enc["input_ids"])
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    ds = Dataset.from_list([{"messages": ex.messages} for ex in examples[: 4 * a.batch_size]])
    args = SFTConfig(output_dir=str(work / "warm-up"), use_cpu=True, bf16=False,
                     max_length=a.max_length, per_device_train_batch_size=a.batch_size,
                     max_steps=2, report_to=[], save_strategy="no", disable_tqdm=True,
                     gradient_checkpointing=False)
    with contextlib.redirect_stdout(sys.stderr):
        SFTTrainer(model=copy.deepcopy(model), args=args, train_dataset=ds,
                   processing_class=tok).train()


# ------------------------------------------------------------------------------------------------
# report


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


COLUMNS = ["method", "steps", "examples", "train s", "median step s", "CPU s", "other load",
           "positions computed", "pad share", "trained tokens", "trained tok/s",
           "assistant tokens", "**assistant tok/s**", "notes"]


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * len(COLUMNS)) + "|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['name']} | crashed: {r['error']} |" + " |" * (len(COLUMNS) - 2))
            continue
        t = r["tally"]
        pad = 1 - t.real / t.positions if t.positions else 0.0
        other = "?" if r["other"] is None else f"{100 * r['other']:.0f}%"
        med = r.get("median")
        note = r["note"]
        if t.unmatched:
            note += f"; {t.unmatched} sequences not matched to a mask"
        cells = [r["name"], str(r["steps"]), str(t.examples), f"{r['wall']:.2f}",
                 "?" if med is None else f"{med:.3f}", f"{r['cpu']:.1f}", other,
                 fmt_int(t.positions), f"{100 * pad:.0f}%", fmt_int(t.trained),
                 fmt_int(t.trained / r["wall"]), fmt_int(t.assistant),
                 f"**{fmt_int(t.assistant / r['wall'])}**", note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> str:
    by = {r["key"]: r for r in rows if not r.get("error")}
    out = ["| comparison | **assistant tok/s** | trained tok/s | assistant tok/s from the median "
           "step (noise check) | target (assistant tok/s) |", "|---|---|---|---|---|"]

    def rate(r, what, median=False):
        seconds = r["wall"]
        if median:
            seconds = r["median"] * r["steps"] if r.get("median") else None
        return getattr(r["tally"], what) / seconds if seconds else None

    def line(a_key, b_key, label, target):
        if a_key not in by or b_key not in by:
            return
        ra, rb = by[a_key], by[b_key]
        asst = rate(ra, "assistant") / rate(rb, "assistant")
        trained = rate(ra, "trained") / rate(rb, "trained")
        ma, mb = rate(ra, "assistant", True), rate(rb, "assistant", True)
        robust = f"{ma / mb:.2f}×" if ma and mb else "?"
        mark = ""
        if target:
            mark = f"≥ {target:g}×: " + ("met" if asst >= target else "**not met**")
        out.append(f"| {label} | **{asst:.2f}×** | {trained:.2f}× | {robust} | {mark} |")

    line("tunelint", "seed", "tunelint vs seed-style loop", 2.0)
    line("tunelint", "trl", "tunelint vs TRL SFTTrainer defaults", 1.0)
    names = {r["key"]: r["name"] for r in rows}
    for a_key, b_key in [("v:quiet", "tunelint"), ("v:random", "tunelint"),
                         ("v:fusedloss", "tunelint"),
                         ("v:packing", "tunelint"), ("v:plain", "seed"), ("tunelint", "v:plain"),
                         ("v:trl-nogc", "trl")]:
        if a_key in names and b_key in names:
            line(a_key, b_key, f"{names[a_key]} vs {names[b_key]}", None)
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="chat JSONL (default: the GSM8K sample)")
    p.add_argument("--quick", action="store_true", help="30 steps, one run per row")
    p.add_argument("--steps", type=int, help="optimizer steps per row (default 100; 30 --quick)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=THREADS, help="torch.set_num_threads (2)")
    p.add_argument("--variants", action="store_true",
                   help="also the rows quiet, random, fusedloss, packing, plain and trl-nogc")
    p.add_argument("--repeat", type=int,
                   help="runs per row, interleaved; the fastest is reported (default 5; 1 --quick)")
    p.add_argument("--hidden", type=int, default=64,
                   help="tiny.build hidden size (64, tunelint's tiny model; larger: a diagnostic)")
    p.add_argument("--layers", type=int, default=2, help="tiny.build layers (2, as tunelint)")
    p.add_argument("--only", help="comma-separated rows: tunelint, seed, trl, quiet, random, "
                                  "fusedloss, packing, plain, trl-nogc (default: the first "
                                  "three; all with --variants)")
    p.add_argument("--eval-data", default=DEFAULT_EVAL_DATA,
                   help="validation JSONL for the batched-evaluation row (default: the GSM8K validation sample)")
    p.add_argument("--eval-examples", type=int, default=64,
                   help="validation examples in the batched-evaluation row (0: no such row)")
    p.add_argument("--eval-max-new-tokens", type=int, default=64)
    p.add_argument("--eval-batch-size", type=int, default=16)
    p.add_argument("--results", default=str(HERE / "results" / "train_speed.md"))
    p.add_argument("--work-dir", help="for the run folders (default: a temporary one, removed)")
    a = p.parse_args(argv)
    a.steps = a.steps or (30 if a.quick else 100)
    a.repeat = a.repeat or (1 if a.quick else 5)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    import logging
    import warnings

    import torch
    import transformers

    torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    logging.getLogger("trl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    from tunelint.trainer import tiny
    from tunelint.trainer.data import encode, load_examples
    from tunelint.trainer.settings import TrainSettings

    load_before = loadavg()
    examples = load_examples(a.data)
    texts = [m.get("content") for ex in examples for m in ex.messages
             if isinstance(m.get("content"), str)]
    tmp = tempfile.TemporaryDirectory(prefix="train-speed-") if not a.work_dir else None
    work = Path(a.work_dir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    # the call `tunelint train --model tiny` makes (trainer/train_recipe.py load_model); untimed
    model, tok = tiny.build(texts, work / "base-model", max_length=max(a.max_length, 64),
                            seed=a.seed, hidden=a.hidden, layers=a.layers)
    build_s = time.perf_counter() - t
    encoded = [encode(tok, ex, a.max_length) for ex in examples]
    assistant_of = {tuple(e.input_ids): e.trained for e in encoded}
    n_params = sum(p.numel() for p in model.parameters())
    lens = [len(e.input_ids) for e in encoded]
    share = sum(e.trained for e in encoded) / sum(lens)
    data_line = (f"{len(examples)} examples, mean {sum(lens) / len(lens):.0f} tokens, max "
                 f"{max(lens)} after truncation to {a.max_length}, {share:.0%} of the tokens in "
                 "assistant answers")
    say(f"model: {n_params:,} parameters, vocab {len(tok)}, built in {build_s:.1f} s; {data_line}")
    warm_up(model, tok, examples, a, work)

    lr = TrainSettings(model="tiny", method="full").lr  # tunelint's rate for the tiny model
    every = [
        ("tunelint", "tunelint train (full)",
         lambda: row_tunelint(a, model, tok, assistant_of, work, "default")),
        ("seed", "seed-style loop (pad to max_length)",
         lambda: row_seed(a, examples, model, tok, assistant_of, lr)),
        ("trl", "TRL SFTTrainer defaults",
         lambda: row_trl(a, examples, model, tok, assistant_of, work, "defaults")),
        ("v:quiet", "tunelint, logging_steps=10, no mid-run checkpoint",
         lambda: row_tunelint(a, model, tok, assistant_of, work, "quiet", logging_steps=10,
                              checkpoint_steps=10**6)),
        ("v:random", "tunelint, random batches",
         lambda: row_tunelint(a, model, tok, assistant_of, work, "random",
                              patch_args={"train_sampling_strategy": "random"})),
        ("v:fusedloss", "tunelint with TRL's fused loss (its GPU path)",
         lambda: row_tunelint(a, model, tok, assistant_of, work, "fusedloss", fused_loss=True)),
        ("v:packing", "tunelint --packing",
         lambda: row_tunelint(a, model, tok, assistant_of, work, "packing", packing=True)),
        ("v:plain", "plain loop, tunelint's batches",
         lambda: row_plain_masked(a, [e for e in encoded if e.trained], model, tok,
                                  assistant_of, lr)),
        ("v:trl-nogc", "TRL defaults, gradient_checkpointing=False",
         lambda: row_trl(a, examples, model, tok, assistant_of, work, "nogc",
                         gradient_checkpointing=False)),
    ]
    if a.only:
        wanted = set(a.only.split(","))
        plan = [e for e in every if e[0].removeprefix("v:") in wanted]
    else:
        plan = [e for e in every if a.variants or not e[0].startswith("v:")]

    best: dict[str, dict] = {}
    walls: dict[str, list[float]] = {key: [] for key, _, _ in plan}
    medians: dict[str, list[float | None]] = {key: [] for key, _, _ in plan}
    failed = False
    for round_ in range(1, a.repeat + 1):  # interleaved: a burst of other work hits every row
        for key, name, fn in plan:
            if best.get(key, {}).get("error"):
                continue
            say(f"== {name}: {a.steps} steps, batch {a.batch_size}, max_length {a.max_length}"
                + (f" (round {round_}/{a.repeat})" if a.repeat > 1 else ""))
            try:
                r = fn()
            except Exception as e:  # a crashed row is reported, the others still run
                traceback.print_exc()
                failed = True
                best[key] = {"key": key, "name": name,
                             "error": f"{type(e).__name__}: {str(e)[:120]}"}
                continue
            r.update(key=key, name=name)
            walls[key].append(r["wall"])
            medians[key].append(r["tally"].median_step())
            if key not in best or r["wall"] < best[key]["wall"]:
                best[key] = r
            other = "?" if r["other"] is None else f"{100 * r['other']:.0f}%"
            say(f"   {r['wall']:.2f} s, {r['tally'].assistant / r['wall']:,.0f} assistant tok/s, "
                f"other load {other}, torch threads {torch.get_num_threads()}")
    rows = [best[key] for key, _, _ in plan if key in best]
    eval_part = ""
    if a.eval_examples > 0:  # the batched-evaluation row, on the same model (the rows above trained copies of it)
        import _eval_speed

        say(f"== per-example evaluation: {a.eval_examples} examples, one at a time, then batched")
        try:
            tuned = _eval_speed.trained_copy(model, encoded)  # untimed
            ev = _eval_speed.run(tuned, tok, load_examples(a.eval_data)[: a.eval_examples], a.max_length,
                                 a.eval_max_new_tokens, a.eval_batch_size)
            eval_part = f"\nEvaluation data: `{a.eval_data}`.\n\n" + _eval_speed.table(ev) + "\n"
            if ev["same_gen"] != ev["examples"] or ev["same_loss"] != ev["examples"]:
                failed = True
                say("batched evaluation: the records differ from one at a time")
        except Exception as e:
            traceback.print_exc()
            failed = True
            eval_part = f"\nper-example evaluation: crashed: {type(e).__name__}: {str(e)[:120]}\n"
    for r in rows:
        known = [m for m in medians.get(r["key"], []) if m is not None]
        r["median"] = min(known) if known else None  # the least disturbed round's
        if len(walls[r["key"]]) > 1:
            r["note"] += "; runs " + ", ".join(f"{w:.1f}" for w in walls[r["key"]]) + " s"
    load_after = loadavg()

    import accelerate
    import trl

    header = (
        f"# Training throughput (`{' '.join(['bench/train_speed.py'] + sys.argv[1:])}`)\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M')}, tunelint {git_describe()}, {cpu_name()}, "
        f"{os.cpu_count()} CPUs, torch {torch.__version__} ({a.threads} threads), transformers "
        f"{transformers.__version__}, trl {trl.__version__}, accelerate {accelerate.__version__}, "
        f"Python {platform.python_version()}. Load average before {load_before}, after "
        f"{load_after}.\n\n"
        f"Data: `{a.data}` ({data_line}). Model: `trainer/tiny.py`, built once "
        f"({n_params:,} parameters, hidden {a.hidden}, {a.layers} layers, vocab {len(tok)}), "
        f"seed {a.seed}. Every row: full fine-tune, "
        f"fp32, CPU, batch {a.batch_size}, {a.steps} optimizer steps, max_length {a.max_length}. "
        "`train s`: the training only (`trainer.train()`, or the loop), the fastest of the runs. "
        "`other load`: the share of all CPUs other processes used meanwhile; above ~10% the "
        "row is slowed down.\n"
    )
    own = [r for r in rows if r["key"] == "tunelint" and r.get("own_runtime")]
    footer = ""
    if own:
        r = own[0]
        footer = (f"\ntunelint's own metrics.json: train_runtime_s {r['own_runtime']}, "
                  f"train_tokens_per_second {r['own_tps']} (counted from the batches "
                  "trained on).\n")
    busy = [r["name"] for r in rows if not r.get("error") and (r["other"] or 0) > 0.10]
    if busy:
        footer += ("\n**Other processes used more than 10% of the CPUs during: "
                   + ", ".join(busy) + ".** With 2 torch threads on 2 cores, any other work "
                   "stalls every parallel op: these rows are slowed down, unevenly. Rerun on a "
                   "quiet machine before quoting them.\n")
    body = header + "\n" + table(rows) + "\n\n" + ratios(rows) + "\n" + footer + eval_part
    print(body)
    out = Path(a.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body)
    say(f"written to {out}")
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
