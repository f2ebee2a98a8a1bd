"""Peak dense bf16 tensor-core throughput of common GPUs, and the model FLOPs utilisation (MFU).

MFU = 6 × parameters × tokens / seconds / peak FLOP/s (the forward and backward pass of a
decoder cost about 6 FLOPs per parameter and token; Kaplan et al. 2020, "Scaling Laws for Neural
Language Models", §2.1; PaLM, Chowdhery et al. 2022, appendix B, which named it MFU). Tokens are
the non-padding input tokens trained on: padding is compute the model wasted, not work done.
For LoRA the same 6 × N convention is kept (the frozen weights still run forward and pass
gradients back), so LoRA and full fine-tunes are compared on one scale.

The peaks are the vendors' datasheet figures for dense bf16 (fp16 where the chip has no bf16)
tensor math **without** structured sparsity (datasheets print the sparse figure, twice this, with
an asterisk), and for GeForce cards with fp32 accumulation (what training uses):

| GPU | dense bf16 TFLOP/s | source |
| --- | --- | --- |
| B200 | 2250 | NVIDIA DGX B200 datasheet (72 PFLOPS sparse FP16/BF16 for 8 GPUs) |
| H100 SXM, H200 | 989 | NVIDIA H100 / H200 datasheets (1,979 sparse) |
| H100 NVL, H200 NVL | 835 | same datasheets (1,671 sparse) |
| H100 PCIe | 756 | H100 datasheet (1,513 sparse) |
| A100 (SXM, PCIe) | 312 | NVIDIA A100 datasheet (624 sparse) |
| L40S | 362 | NVIDIA L40S datasheet (733 sparse) |
| L40 | 181 | NVIDIA L40 datasheet (362 sparse) |
| L4 | 121 | NVIDIA L4 datasheet (242 sparse) |
| A10 | 125 | NVIDIA A10 datasheet (250 sparse) |
| RTX 6000 Ada | 364 | NVIDIA RTX 6000 Ada datasheet (728 sparse, FP16/BF16 with FP32 accumulate) |
| RTX A6000 | 155 | NVIDIA RTX A6000 datasheet (310 sparse) |
| GeForce RTX 5090 | 209 | NVIDIA Blackwell GPU architecture whitepaper (FP16/BF16, FP32 accumulate) |
| GeForce RTX 4090 | 165 | NVIDIA Ada GPU architecture whitepaper, appendix (FP32 accumulate) |
| GeForce RTX 3090 | 71 | NVIDIA Ampere GA102 whitepaper, appendix (BF16, FP32 accumulate) |
| V100 (no bf16) | 125 | NVIDIA V100 datasheet (fp16 tensor) |
| T4 (no bf16) | 65 | NVIDIA T4 datasheet (fp16 tensor) |

A device missing from the table gets no MFU (metrics.json says why), never a guess.
"""

from __future__ import annotations

# (what the CUDA device name contains, the peak in TFLOP/s); the first match wins, so the more
# specific names come first
PEAK_TFLOPS: tuple[tuple[str, float | None], ...] = (
    ("B200", 2250.0),
    ("H200 NVL", 835.0),
    ("H100 NVL", 835.0),
    ("H100 PCIe", 756.0),
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
    ("L4", 121.0),
    ("A10G", None),  # AWS's variant of the A10: no datasheet figure
    ("A10", 125.0),  # after A100: "A100" also contains "A10"
    ("RTX 6000 Ada", 364.0),
    ("RTX A6000", 155.0),
    ("RTX 5090", 209.0),
    ("RTX 4090", 165.0),
    ("RTX 3090", 71.0),
    ("V100", 125.0),
    ("T4", 65.0),
)


def peak_flops(device_name: str) -> float | None:
    """The device's peak dense bf16 FLOP/s from the table, or None when it is not in it."""
    for part, tflops in PEAK_TFLOPS:
        if part.lower() in device_name.lower():
            return tflops * 1e12 if tflops else None
    return None


def mfu(params: int, tokens: int, seconds: float, peak: float | None) -> float | None:
    """6 × params × tokens / seconds / peak, or None without a peak or a time."""
    if not peak or seconds <= 0:
        return None
    return 6 * params * tokens / seconds / peak
