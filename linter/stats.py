"""Dataset summary: distributions people check before training, and OpenAI's billing estimate."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .engine import FileReport
from .profiles import get_profile

# OpenAI's cookbook ("Data preparation and analysis for chat model fine-tuning"): the default
# number of epochs it picks, and the per-example cap used for billing estimates.
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25_000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
MAX_TOKENS_PER_EXAMPLE = 65_536


def distribution(values: Sequence[int]) -> dict | None:
    """min, max, mean, p50, p90, p95 (nearest-rank percentiles) of a list of counts."""
    if not values:
        return None
    v = sorted(values)
    n = len(v)

    def pct(p: float) -> int:
        return v[max(0, math.ceil(p / 100 * n) - 1)]

    return {"min": v[0], "max": v[-1], "mean": round(sum(v) / n, 1), "p50": pct(50), "p90": pct(90), "p95": pct(95)}


def default_epochs(n_examples: int) -> int:
    """The number of epochs OpenAI picks by default for a dataset of this size."""
    epochs = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // max(n_examples, 1))
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return epochs


def summarize(report: FileReport) -> dict:
    s = report.stats
    settings = report.settings
    out: dict = {
        "lines": s.lines,
        "examples": s.examples,
        "formats": dict(s.formats),
        "tokenizer": settings.tokenizer,
        "max_tokens": settings.limit,
        "messages_per_example": distribution(s.messages),
        "tokens_per_example": distribution(s.tokens),
        "trainable_tokens_per_example": distribution(s.trainable),
        "over_limit": sum(1 for t in s.tokens if t > settings.limit),
        "cache": {"analysed": s.analysed, "cached": s.cached},
    }
    if settings.tokenizer and not settings.tokenizer.startswith("hf:"):
        out["token_note"] = (f"{settings.tokenizer} counts with OpenAI's per-message overhead; tool definitions "
                             "and call arguments counted as JSON text; images not counted")
        out["trainable_note"] = "trainable = tokens of assistant turns with weight != 0 (content and tool calls)"
    if get_profile(settings.profile).billing and s.tokens:
        epochs = default_epochs(len(s.tokens))
        billed = sum(min(MAX_TOKENS_PER_EXAMPLE, t) for t in s.tokens)
        out["billing"] = {"billed_tokens_per_epoch": billed, "default_epochs": epochs,
                          "billed_tokens_total": billed * epochs,
                          "note": "OpenAI's documented default-epoch heuristic; pass n_epochs to change it"}
    return out
