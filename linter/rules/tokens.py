"""TL7xx: token counts against the target's limit, with the configured tokenizer."""

from __future__ import annotations

from collections.abc import Iterator

from ..example import Example
from ..registry import rule
from ..violation import Violation
from .conversation import trained


@rule("TL701", "too-many-tokens", "error")
def too_many_tokens(ex: Example) -> Iterator[Violation]:
    """The example has more tokens than the limit (`max_tokens`, else the profile's).

    **Why is this bad?** Services reject or truncate it; truncation drops the end, which is
    usually the answer. OpenAI truncates such examples at the end, and `tunelint train` cuts
    them at its `max_length`: tunelint calls it an error (stricter) because what is cut is the
    answer. Counts use the configured tokenizer (`o200k_base` by default).
    """
    t = ex.tokens
    limit = ex.options["max_tokens"]
    if t is not None and t.total > limit:
        yield Violation(f"{t.total} tokens, over the limit of {limit} ({ex.options['tokenizer']})", (), part="value")


@rule("TL702", "no-trainable-tokens", "error", formats={"chat"})
def no_trainable_tokens(ex: Example) -> Iterator[Violation]:
    """The example has trained assistant turns, but they contain zero tokens.

    **Why is this bad?** An all-zero loss mask: the example is processed and teaches nothing.
    (Examples with no trained assistant turn at all are TL201.)
    """
    t = ex.tokens
    if t is None or t.trainable > 0:
        return
    if any(isinstance(m, dict) and trained(m) and not m.get("tool_calls") for m in ex.chat):
        yield Violation("trained assistant turns have 0 tokens", ("messages",), part="key")


@rule("TL703", "answer-truncated", "error", formats={"chat", "prompt_completion"})
def answer_truncated(ex: Example) -> Iterator[Violation]:
    """The last trained assistant turn (or the completion) would be cut by truncation at the
    token limit.

    **Why is this bad?** Truncation keeps the beginning, so the model learns a half answer (or
    none, if the turn starts past the limit), and it never sees the end of the turn.
    """
    t = ex.tokens
    limit = ex.options["max_tokens"]
    if t is None or t.last_assistant_end <= limit or t.last_assistant_start < 0:
        return
    if ex.format == "prompt_completion":
        at: tuple = ("completion",)
    else:
        msgs = ex.chat
        at = ("messages", max(i for i, m in enumerate(msgs) if isinstance(m, dict) and trained(m)))
    if t.last_assistant_start >= limit:
        msg = (f"the last assistant turn starts at token {t.last_assistant_start}, past the limit of {limit}: "
               "it is cut entirely")
    else:
        kept = limit - t.last_assistant_start
        msg = (f"the last assistant turn (tokens {t.last_assistant_start}-{t.last_assistant_end}) is cut at {limit}: "
               f"{kept} of {t.last_assistant_end - t.last_assistant_start} tokens kept")
    yield Violation(msg, at)
