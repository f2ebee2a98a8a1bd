"""The memory preflight: will this run fit, decided before any weight is loaded.

From the model's config alone (transformers' `AutoConfig`, then the model built on the meta
device with accelerate's `init_empty_weights`: every parameter's shape, no storage, no download
of the weights) and the settings, `estimate()` adds up the peak of a training step:

* weights: every parameter in the precision it is loaded in (QLoRA: the linear layers in NF4 with
  double quantisation, ~4.13 bits a weight; peft's k-bit preparation makes the rest fp32);
* trainable state: per trained parameter its gradient and AdamW's two moments (LoRA adapters are
  fp32 under peft, bf16 under TRL's QLoRA path; a full fine-tune keeps them in the weights' dtype),
  and the optimizer step's temporaries (the foreach AdamW works on a copy the size of the trained
  parameters);
* activations: what autograd keeps for the backward pass per token and layer of a Llama-style
  block (`ACTIVATION_TERMS`: 8·hidden + 3·kv + 4·intermediate values, the two RMSNorms' fp32
  copies; with LoRA one more output-sized tensor per adapted linear layer, as measured), or with
  gradient checkpointing each layer's input plus one layer recomputed; an
  eager attention's (heads × length²) scores; the logits of the positions the loss is taken on,
  with their fp32 copy and gradient;
* tokens per step: batch size × max length (the worst batch; padding-free packing does not pad,
  so its worst batch is the same).

`check()` compares the estimate with the free memory of the device (CUDA:
`torch.cuda.mem_get_info`; a CPU: the system's available memory) and raises a `TrainError` with
the estimate and the settings that would make it fit, unless forced. `measured()` is the peak
after the run (CUDA: `torch.cuda.max_memory_allocated`; a CPU: the peak resident memory above
the resident memory before the weights were loaded), for `metrics.json`'s `memory`
(trainer/contract.py), so every run checks the estimate. tests/trainer/test_memory.py holds it
to the peak RSS of CPU runs of small models.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field

from .settings import TrainError

GIB = 1024**3
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 4 bits + an 8-bit absmax per 64 (double quant: fp32 per 256 of those)
HEADROOM = 0.92  # the share of the free memory a run may plan to use (allocator fragmentation, CUDA workspaces)
DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass
class Shapes:
    """What the estimate needs of a model: from its config and its parameters on the meta device."""

    params: int  # every parameter
    linear: list[tuple[int, int]]  # (in, out) of each nn.Linear inside the decoder layers
    linear_params: int  # parameters of those linears (what QLoRA quantises)
    head_params: int  # the output embedding (not quantised; counted once when tied)
    hidden: int
    intermediate: int
    kv: int  # key/value width: kv heads × head dim
    heads: int
    layers: int
    vocab: int


@dataclass
class Estimate:
    """Bytes by part and in all; `tokens` the tokens of the largest step."""

    parts: dict[str, int]
    tokens: int
    trainable_params: int
    params: int
    total: int = 0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.total = sum(self.parts.values())

    def describe(self) -> str:
        shown = ", ".join(f"{k} {gib(v)}" for k, v in self.parts.items() if v)
        return f"{gib(self.total)} ({shown})"

    def to_json(self) -> dict:
        return {"estimate_bytes": self.total, "parts": self.parts, "tokens_per_step": self.tokens,
                "trainable_params": self.trainable_params, "params": self.params}


def gib(n: float) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 1024**2:.1f} MiB"


def model_config(name: str):
    """The model's config (config.json only: no weight is downloaded or loaded)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(name)
    except OSError as e:
        hint = ("it is not a local folder, and the Hugging Face hub could not provide it (offline, a typo, "
                "or a gated model: `huggingface-cli login`)")
        raise TrainError(f"cannot load model {name!r}: {hint}. ({str(e).splitlines()[0]})") from None


def shapes(config) -> Shapes:
    """The parameters of the model of `config`, built on the meta device (no memory, no weights)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(config)
    params = sum(p.numel() for p in model.parameters())  # tied weights are one parameter
    linear: list[tuple[int, int]] = []
    head = model.get_output_embeddings()
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module is not head:
            linear.append((module.in_features, module.out_features))
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden = text.hidden_size
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    kv = (getattr(text, "num_key_value_heads", None) or heads) * head_dim
    intermediate = getattr(text, "intermediate_size", None) or 4 * hidden
    head_params = head.weight.numel() if head is not None else 0
    tied = head is not None and head.weight is model.get_input_embeddings().weight
    return Shapes(params=params, linear=linear, linear_params=sum(i * o for i, o in linear),
                  head_params=0 if tied else head_params, hidden=hidden, intermediate=intermediate, kv=kv,
                  heads=heads, layers=text.num_hidden_layers, vocab=text.vocab_size)


def estimate(s: Shapes, *, method: str, batch_size: int, max_length: int, gradient_checkpointing: bool,
             precision: str, lora_r: int, logit_positions: float = 1.0, attention: str = "sdpa") -> Estimate:
    """The peak memory of a training step. `precision`: the weights' and activations' (bf16,
    fp16, fp32); `logit_positions`: the share of positions whose logits are kept (the CPU loss
    keeps the trained ones only, trainer/loss.py); `attention`: eager keeps the score matrices."""
    b = DTYPE_BYTES[precision]
    tokens = batch_size * max_length
    parts: dict[str, int] = {}
    if method == "qlora":
        parts["weights"] = int(s.linear_params * NF4_BYTES + (s.params - s.linear_params) * 4)
    else:
        parts["weights"] = s.params * b
    if method == "full":
        trainable = s.params
        # gradient + AdamW's two moments in the weights' dtype, and foreach AdamW's temporaries
        parts["gradients"] = trainable * b
        parts["optimizer"] = 2 * trainable * b
        parts["optimizer_step"] = trainable * b
    else:
        trainable = sum(lora_r * (i + o) for i, o in s.linear)
        state = 2 if method == "qlora" else 4  # TRL casts a quantised model's adapters to bf16
        parts["gradients"] = trainable * state
        parts["optimizer"] = 2 * trainable * state
        parts["optimizer_step"] = trainable * state
    per_layer = ACTIVATION_TERMS(s) * b + 2 * 3 * s.hidden * 4  # the RMSNorms compute in fp32
    if method != "full":
        # peft's adapted layers keep about one more output-sized tensor each (measured on CPU:
        # tests/trainer/test_memory.py), and the adapters' A outputs
        outputs = sum(o for _, o in s.linear) // max(s.layers, 1)
        per_layer += outputs * b + len(s.linear) // max(s.layers, 1) * lora_r * 4
    if gradient_checkpointing:
        acts = tokens * (s.layers * s.hidden * b + per_layer)
    else:
        acts = tokens * s.layers * per_layer
    if attention == "eager":
        acts += batch_size * s.heads * max_length * max_length * b * 2 * (1 if gradient_checkpointing else s.layers)
    parts["activations"] = int(acts)
    # logits (model dtype), their fp32 copy for the loss, and its gradient
    parts["logits"] = int(tokens * logit_positions * s.vocab * (b + 4 + 4))
    if method == "qlora":  # one linear dequantised at a time, in the compute dtype, and its gradient's input
        parts["workspace"] = max((i * o for i, o in s.linear), default=0) * 2 * 2
    return Estimate(parts=parts, tokens=tokens, trainable_params=int(trainable), params=s.params)


def ACTIVATION_TERMS(s: Shapes) -> int:  # noqa: N802 (a formula, named as in the docs)
    """Values autograd keeps per token and decoder layer (Llama-style): the block's input and the
    first norm's output, q, k, v, the rotated q and k, the attention's output, the second norm's
    input and output (8 × hidden, 3 × kv), and the MLP's gate, up, SiLU(gate) and product (4 ×
    intermediate)."""
    return 8 * s.hidden + 3 * s.kv + 4 * s.intermediate


def free_bytes(kind: str) -> int | None:
    """Free memory of the device training runs on (CUDA: the current device's; otherwise the
    system's available memory); None when unknown."""
    if kind == "cuda":
        import os

        import torch

        free, _total = torch.cuda.mem_get_info(int(os.environ.get("LOCAL_RANK", "0")))  # this process's GPU
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def options_to_fit(s: Shapes, free: int, *, method: str, batch_size: int, max_length: int,
                   gradient_checkpointing: bool, precision: str, lora_r: int, logit_positions: float,
                   cuda: bool) -> list[str]:
    """The changes (one at a time, then together) whose estimate fits in `free`, in words."""
    base = dict(method=method, batch_size=batch_size, max_length=max_length,
                gradient_checkpointing=gradient_checkpointing, precision=precision, lora_r=lora_r,
                logit_positions=logit_positions)

    def fits(**change) -> Estimate | None:
        e = estimate(s, **{**base, **change})
        return e if e.total <= free * HEADROOM else None

    out = []
    if not gradient_checkpointing and (e := fits(gradient_checkpointing=True)):
        out.append(f"--gradient-checkpointing ({gib(e.total)})")
    for bs in range(batch_size - 1, 0, -1):
        if e := fits(batch_size=bs):
            out.append(f"--batch-size {bs} (with --grad-accum to keep the batch; {gib(e.total)})")
            break
    for ml in (2048, 1024, 512, 256, 128):
        if ml < max_length and (e := fits(max_length=ml)):
            out.append(f"--max-length {ml} ({gib(e.total)})")
            break
    if method == "full" and (e := fits(method="lora")):
        out.append(f"--method lora ({gib(e.total)})")
    if method != "qlora" and cuda and (e := fits(method="qlora")):
        out.append(f"--method qlora ({gib(e.total)})")
    if not out:
        for change in ({"gradient_checkpointing": True, "batch_size": 1},
                       {"gradient_checkpointing": True, "batch_size": 1, "method": "qlora" if cuda else "lora"}):
            if e := fits(**change):
                words = ["--gradient-checkpointing", "--batch-size 1"] + (
                    [f"--method {change['method']}"] if "method" in change and change["method"] != method else [])
                out.append(" ".join(words) + f" ({gib(e.total)})")
                break
    return out


def check(est: Estimate, free: int | None, *, force: bool, where: str, suggestions: list[str]) -> str | None:
    """TrainError when `est` does not fit in `free` (unless forced); the message said, or None."""
    if free is None or est.total <= free * HEADROOM:
        return None
    msg = (f"this run needs about {est.describe()}, and {where} has {gib(free)} free "
           f"(the preflight plans for {HEADROOM:.0%} of it).")
    fix = ("; ".join(suggestions) if suggestions
           else "no single setting makes it fit: a smaller model, or a larger device")
    if force:
        return msg + " Training anyway (--force)."
    raise TrainError(f"{msg} What would fit: {fix}. Or pass --force to try anyway.")


def rss_bytes() -> int:
    """The process's resident memory now."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The process's peak resident memory since it started. On Linux this is VmHWM, the high-water
    mark of this program's own memory: `getrusage`'s ru_maxrss survives exec, so a trainer started
    from a large parent (a test runner, the language server) would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def measured(kind: str, rss_before: int | None) -> dict:
    """The run's measured peak: CUDA's allocator peak, or the peak RSS above `rss_before`."""
    if kind == "cuda":
        import torch

        return {"measured_peak_bytes": int(torch.cuda.max_memory_allocated()),
                "measured_by": "torch.cuda.max_memory_allocated"}
    if rss_before is None:
        return {}
    return {"measured_peak_bytes": max(0, peak_rss_bytes() - rss_before),
            "measured_by": "peak RSS above the RSS before the weights were loaded"}


def report(est: Estimate, free: int | None, measure: dict) -> dict:
    """`metrics.json`'s `memory`."""
    out = {**est.to_json(), "free_bytes": free, **measure}
    if measure.get("measured_peak_bytes"):
        out["measured_over_estimate"] = round(measure["measured_peak_bytes"] / est.total, 3)
    return out
