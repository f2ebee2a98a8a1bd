"""What only a CUDA GPU gets: QLoRA (`--method qlora`), padding-free batches, Liger kernels
(`--liger`), flash attention. Each is checked before anything is loaded, with a message that says
what is missing; on a CPU the trainer keeps its length-grouped padded batches.

* QLoRA: the base model in 4 bits with bitsandbytes (NF4, double quantisation, bf16 compute:
  fp16 on a GPU without bf16), peft's `prepare_model_for_kbit_training` (the other weights in
  fp32, the inputs' gradients on, gradient checkpointing as `--gradient-checkpointing` says),
  then LoRA on every linear layer as for `--method lora`.
* Padding-free: TRL's `padding_free` concatenates a batch's examples into one row and gives
  position ids that restart at 0 at each example, and no attention mask. Flash attention (when
  `flash_attn` is installed) reads the boundaries from them; otherwise transformers' SDPA
  attention builds a block-diagonal mask from the position ids (`masking_utils`
  `find_packed_sequence_indices`), so no example attends to another either way. The label at
  each example's first position is -100: no loss term crosses an example's start.
* Liger: TRL's `use_liger_kernel` (Liger's RMSNorm, RoPE, SwiGLU kernels; TRL keeps its own
  chunked LM-head loss).
"""

from __future__ import annotations

import importlib.util

from .settings import TrainError, TrainSettings


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check(settings: TrainSettings, device_kind: str) -> None:
    """TrainError (exit 2) for a CUDA-only option off CUDA, or without its package."""
    if settings.method == "qlora":
        if device_kind != "cuda":
            raise TrainError(f"--method qlora needs a CUDA GPU (bitsandbytes' 4-bit kernels); this machine trains on "
                             f"{'a CPU' if device_kind == 'cpu' else device_kind.upper()}. Use --method lora (or "
                             "full) here, or run on a machine with an NVIDIA GPU")
        if not _installed("bitsandbytes"):
            raise TrainError("--method qlora needs the bitsandbytes package, which is not installed: "
                             "`pip install 'tunelint[gpu]'` (or `pip install bitsandbytes`)")
    if settings.liger:
        if device_kind != "cuda":
            raise TrainError("--liger needs a CUDA GPU (Liger's kernels are Triton kernels); leave it off here")
        if not _installed("liger_kernel"):
            raise TrainError("--liger needs the liger-kernel package, which is not installed: "
                             "`pip install 'tunelint[gpu]'` (or `pip install liger-kernel`)")


def attention_implementation(device_kind: str) -> str | None:
    """flash_attention_2 on CUDA when flash-attn is installed, else SDPA (both honour the position
    ids of padding-free batches); None (transformers' default) elsewhere."""
    if device_kind != "cuda":
        return None
    return "flash_attention_2" if _installed("flash_attn") else "sdpa"


def padding_free(settings: TrainSettings, device_kind: str) -> bool:
    """Padding-free batches: on CUDA, unless turned off. (`--packing` packs, padding-free too.)"""
    return device_kind == "cuda" and settings.padding_free and not settings.packing


def quantization_config(bf16: bool):
    """bitsandbytes NF4 with double quantisation, computing in bf16 (fp16 without bf16)."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float16)


def load_quantized(path: str, bf16: bool, attention: str | None):
    """The model at `path` in 4 bits on this process's GPU (not yet prepared: `prepare_kbit`)."""
    import os

    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"attn_implementation": attention} if attention else {}
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=quantization_config(bf16), dtype=torch.bfloat16 if bf16 else torch.float16,
        device_map={"": int(os.environ.get("LOCAL_RANK", "0"))}, **kwargs)
    return model


def prepare_kbit(model, gradient_checkpointing: bool):
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
