"""Where training runs and in which precision: CUDA (bf16 where supported, else fp16), Apple
MPS (fp32), CPU (fp32: TRL's bf16 default is about 20x slower on a CPU)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Device:
    kind: str  # cuda | mps | cpu
    name: str
    precision: str  # bf16 | fp16 | fp32
    count: int = 1

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    @property
    def fp16(self) -> bool:
        return self.precision == "fp16"


def detect() -> Device:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return Device("cuda", name, precision, torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return Device("mps", "Apple MPS", "fp32")
    return Device("cpu", "CPU", "fp32")
