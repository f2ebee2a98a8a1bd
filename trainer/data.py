"""Examples from JSONL with their line numbers, tokenised with an assistant-only loss mask.

The mask is template-agnostic: the conversation is rendered once with the model's chat template;
each trained assistant turn spans from the end of the prompt rendered with the generation prompt
to the end of the conversation rendered up to and including that turn, cut after its end-of-turn
token — so the end-of-turn token is trained, whatever the template. Turns with `weight: 0` are
not trained. Labels are -100 by position, never by token id, so pad == eos is harmless.

The linter counts the same tokens without transformers (`tunelint.linter.hf_tokens`, for `hf:`
tokenizers: the trainable count and TL702), by the same method; on templates whose conversation
prefixes render as prefixes the two mark the same tokens (tests/trainer/test_spans.py). They are
two on purpose: this one marks the ids transformers itself renders and tokenizes, with whatever
tokenizer transformers loads (slow ones too), while the linter needs a `tokenizer.json` and
renders templates in its own Jinja environment so that the linter and the server never import
transformers. Where they differ:

* templates with `{% generation %}` blocks: the linter takes the blocks, this the prefix renders
  (the same tokens on the tiny model's template: tests/trainer/test_masks.py);
* the end of a turn: here the tokenizer's EOS (without one in the turn, its text up to trailing
  whitespace); the linter also stops at generation_config.json's stop tokens and at special
  tokens named like an end (`<|eot_id|>`, `<end_of_turn>`);
* templates that render earlier turns differently once the conversation goes on (Mistral's
  system prompt in the last user turn): here the turn is its text content, found in the render
  (string contents only); the linter starts it after the generation prompt's tail, so it also
  trains what the template writes before the content (the space after `[/INST]`), and finds the
  text parts of list contents.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tunelint.linter.example import detect_format
from tunelint.linter.to_chat import ConvertError, to_chat

from .contract import EXIT_DATA
from .settings import TrainError


@dataclass
class TrainingExample:
    """One example as the trainer takes it: chat messages (other formats converted), its tools,
    and where it is in its file. (`tunelint.linter.example.Example` is one line as the rules see it.)"""

    line: int  # 1-based line in the source file
    messages: list[dict]
    tools: list | None = None


@dataclass
class Encoded:
    line: int
    input_ids: list[int]
    labels: list[int]  # -100 where not trained
    full_length: int  # before truncation
    last_turn: tuple[int, int]  # token span of the last trained turn (before truncation), (-1, -1) if none

    @property
    def trained(self) -> int:
        return sum(1 for x in self.labels if x != -100)


def load_examples(path: str) -> list[TrainingExample]:
    """Chat examples (other formats converted) with their line numbers. Never writes the file."""
    out = []
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise TrainError(f"{path}:{number}: invalid JSON ({e.msg}); run `tunelint check {path}`",
                                     EXIT_DATA) from None
                fmt = detect_format(obj) if isinstance(obj, dict) else None
                if fmt is None or fmt == "preference" or fmt == "text":
                    raise TrainError(f"{path}:{number}: not a chat, ShareGPT, Alpaca or prompt/completion example "
                                     "(the trainer does supervised fine-tuning)", 1)
                try:
                    chat = to_chat(obj, fmt)
                except ConvertError as e:
                    raise TrainError(f"{path}:{number}: {e}", 1) from None
                out.append(TrainingExample(number, chat["messages"], obj.get("tools")))
    except FileNotFoundError:
        raise TrainError(f"{path}: no such file") from None
    if not out:
        raise TrainError(f"{path}: no examples")
    return out


def _render(tokenizer, messages, tools, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                         add_generation_prompt=generation_prompt)


def trained_spans(tokenizer, ex: TrainingExample, full: str) -> list[tuple[int, int]]:
    """Character spans of the trained assistant turns in the rendered conversation."""
    spans = []
    cursor = 0
    for i, m in enumerate(ex.messages):
        if m.get("role") != "assistant" or m.get("weight", 1) == 0:
            continue
        prompt = _render(tokenizer, ex.messages[:i], ex.tools, True) if i else ""
        upto = _render(tokenizer, ex.messages[: i + 1], ex.tools)
        content = m.get("content") if isinstance(m.get("content"), str) else ""
        if full.startswith(prompt) and full.startswith(upto) and len(upto) > len(prompt):
            start, end = len(prompt), len(upto)
            # the turn ends with its end-of-turn token: what the template puts after it (a newline)
            # is never generated, so it is not trained
            eos = tokenizer.eos_token or ""
            k = full.rfind(eos, start, end) if eos else -1
            end = k + len(eos) if k >= 0 else start + len(full[start:end].rstrip())
        else:  # templates that re-render earlier turns: find the content itself
            at = full.find(content, cursor) if content else -1
            if at < 0:
                continue
            start, end = at, at + len(content)
            eos = tokenizer.eos_token or ""
            if eos and full.startswith(eos, end):
                end += len(eos)
        spans.append((start, end))
        cursor = end
    return spans


def encode(tokenizer, ex: TrainingExample, max_length: int) -> Encoded:
    try:
        full = _render(tokenizer, ex.messages, ex.tools)
    except Exception as e:  # the template's own error, e.g. roles must alternate
        raise TrainError(f"line {ex.line}: the chat template rejects this example: {e}", 1) from None
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [-100] * len(ids)
    spans = trained_spans(tokenizer, ex, full)
    last = (-1, -1)
    for start, end in spans:
        first = None
        for t, (a, b) in enumerate(offsets):
            if b > start and a < end:
                labels[t] = ids[t]
                first = t if first is None else first
                last = (first, t + 1)
    return Encoded(ex.line, ids[:max_length], labels[:max_length], len(ids), last)
