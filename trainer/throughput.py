"""Throughput counted from the batches trained on: trained tokens (labels not -100), input
tokens that are not padding, and positions computed, per optimizer step and in all.

`counting_trainer_class(base)` adds the count to a Trainer class (`training_step` sees every
micro-batch, padded or padding-free); the progress callback turns it into `tokens_per_second`
(trained tokens) and, on CUDA, `mfu` (trainer/gpus.py) on the `step` events, and the recipe into
`metrics.json`'s `throughput` (trainer/contract.py)."""

from __future__ import annotations

from dataclasses import dataclass

IGNORE = -100


@dataclass
class Count:
    trained: int = 0  # label positions trained on (this process)
    tokens: int = 0  # input tokens that are not padding
    positions: int = 0  # positions computed (padding included)

    def add(self, inputs) -> None:
        ids = inputs.get("input_ids")
        if ids is None:
            return
        labels = inputs.get("labels")
        mask = inputs.get("attention_mask")
        self.positions += int(ids.numel())
        self.tokens += int(mask.sum()) if mask is not None else int(ids.numel())
        if labels is not None:
            # the label of each position is predicted at the one before: the first is never trained
            self.trained += int((labels[..., 1:] != IGNORE).sum())


def counting_trainer_class(base, count: Count):
    """`base` whose training steps add their batch to `count`."""

    class Counting(base):
        def training_step(self, model, inputs, *args, **kwargs):
            count.add(inputs)
            return super().training_step(model, inputs, *args, **kwargs)

    Counting.__name__ = Counting.__qualname__ = base.__name__
    return Counting
