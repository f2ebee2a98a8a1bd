"""What a token counter returns and raises, for every counter (tiktoken's in `tokens`, a Hugging
Face tokenizer's chat template in `hf_tokens`) and for the analyzer that calls them.

A leaf: it imports nothing of the linter, so `tokens` can load `hf_tokens` (lazily, for its
Jinja and tokenizers imports) without `hf_tokens` importing `tokens` back.
"""

from __future__ import annotations

from dataclasses import dataclass


class TokenizerUnavailable(RuntimeError):
    """The requested tokenizer cannot be loaded; the message says what to do."""


class ChatTemplateError(ValueError):
    """The chat template cannot render this example (it raised, e.g. "roles must alternate",
    or the example is not something a template can take); the message says why."""


@dataclass(slots=True)
class ExampleTokens:
    total: int
    trainable: int  # tokens of assistant turns that are trained on (weight != 0)
    last_assistant_start: int  # token offset where the last trained assistant turn starts, -1 if none
    last_assistant_end: int
    per_message: tuple[int, ...]
