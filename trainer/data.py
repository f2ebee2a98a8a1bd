"""Examples from JSONL with their line numbers, tokenised with an assistant-only loss mask.

The mask is the linter's (`tunelint.linter.assistant_spans`: one algorithm, so the linter's
trainable count for an `hf:` tokenizer is what is trained here, tests/trainer/test_spans.py),
given what only the trainer has: the conversation rendered by transformers' own
`apply_chat_template` (its prefixes too), the token ids and character offsets transformers'
tokenizer gives for that text (whatever tokenizer transformers loads), and the end-of-turn tokens
of that tokenizer (EOS, the stop tokens of the model folder's generation_config.json, special
tokens named like an end). Templates with `{% generation %}` blocks: the blocks are tracked by
rendering again in the linter's template environment (`tunelint.linter.chat_template`), used
only when that text is transformers' to the character (else the prefix method). Turns with
`weight: 0` are not trained. Labels are -100 by position, never by token id, so pad == eos is
harmless.

What this mask trains, unlike the trainer's own method before it (which found each turn with
its own prefix renders, EOS only, and the string content's text as the fallback), fixture by
fixture in tests/trainer/test_spans.py:

* generation-block templates: the blocks' tokens (the same tokens as before on the tiny model's
  template and CHATML_GENERATION);
* the end of a turn: its last end-of-turn token (before: its last EOS, else its text up to
  trailing whitespace; the same tokens on every fixture that has an end-of-turn token, EOS or
  not). A turn without any end-of-turn token keeps the whitespace the template writes after its
  content, up to where the next message begins (before: cut after the content);
* templates that render earlier turns differently once the conversation goes on (Mistral's
  system prompt in the last user turn, Qwen3's reasoning): the turn starts after the generation
  prompt's tail, so what the template writes before the content (the space after `[/INST]`) is
  trained; the content is searched from there (before: from the previous trained turn, so an
  answer whose text also starts the user turn before it trained the user's text, a prompt, and
  not the answer nor its end-of-turn token); list contents are found by their text parts
  (before: such a turn was not trained at all).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson

from tunelint.linter import assistant_spans, chat_template
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
                                     "(the trainer does supervised fine-tuning)", EXIT_DATA)
                try:
                    chat = to_chat(obj, fmt)
                except ConvertError as e:
                    raise TrainError(f"{path}:{number}: {e}", EXIT_DATA) from None
                out.append(TrainingExample(number, chat["messages"], obj.get("tools")))
    except FileNotFoundError:
        raise TrainError(f"{path}: no such file") from None
    if not out:
        raise TrainError(f"{path}: no examples")
    return out


def _render(tokenizer, messages, tools, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False,
                                         add_generation_prompt=generation_prompt)


_ENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def end_of_turn(tokenizer) -> assistant_spans.EndOfTurn:
    """The tokens that end a turn for this tokenizer, as the linter finds them for its folder."""
    ends = _ENDS.get(tokenizer)
    if ends is None:
        ends = assistant_spans.EndOfTurn.of(tokenizer.eos_token_id if tokenizer.eos_token else None,
                                            _generation_config(tokenizer).get("eos_token_id"),
                                            tokenizer.added_tokens_decoder)
        _ENDS[tokenizer] = ends
    return ends


def _generation_config(tokenizer) -> dict:
    """generation_config.json of the folder (or Hub cache) the tokenizer was loaded from, or {}."""
    name = getattr(tokenizer, "name_or_path", "") or ""
    path: object = Path(name) / "generation_config.json"
    if not (name and Path(name).is_dir()):
        try:
            from huggingface_hub import try_to_load_from_cache

            path = try_to_load_from_cache(name, "generation_config.json") if name else None
        except Exception:
            path = None
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _generation_blocks(tokenizer, ex: TrainingExample, full: str) -> list[tuple[int, int]] | None:
    """Character spans of the template's `{% generation %}` blocks in `full`, or None (no blocks, or
    the linter's environment renders this example differently from transformers)."""
    try:
        source = tokenizer.get_chat_template(None, ex.tools)
    except Exception:
        return None
    if not isinstance(source, str) or not chat_template.GENERATION_TAG.search(source):
        return None
    try:
        msgs, tools = chat_template.prepare_messages(ex.messages), chat_template.prepare_tools(ex.tools)
        text, blocks = chat_template.render_tracked(source, msgs, tools, dict(tokenizer.special_tokens_map))
    except Exception:  # a template the linter's environment cannot render: no blocks
        return None
    return blocks if text == full else None


def encode(tokenizer, ex: TrainingExample, max_length: int) -> Encoded:
    """The example's input ids and labels (-100 where not trained), cut to max_length."""
    try:
        full = _render(tokenizer, ex.messages, ex.tools)
    except Exception as e:  # the template's own error, e.g. roles must alternate
        raise TrainError(f"line {ex.line}: the chat template rejects this example: {e}", EXIT_DATA) from None
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    tokens = assistant_spans.TokenView(full, ids, enc["offset_mapping"])
    spans = assistant_spans.find(ex.messages, ex.tools, tokens, partial(_render, tokenizer), end_of_turn(tokenizer),
                                 _generation_blocks(tokenizer, ex, full))
    labels = [t if m else -100 for t, m in zip(ids, spans.mask, strict=True)]
    return Encoded(ex.line, ids[:max_length], labels[:max_length], len(ids), spans.last_turn)
