"""Which tokens of a rendered conversation are trained: the one answer the linter's trainable
count (`hf_tokens`, for `hf:` tokenizers: TL702, the hover) and the trainer's labels
(`tunelint.trainer.data`) both take, so the count is what gets trained by construction.

The callers differ in how they render and tokenize, so those are parameters: `render(messages,
tools, add_generation_prompt) -> str` renders the first messages of the conversation (the linter
renders in its own Jinja environment, the trainer with transformers' `apply_chat_template`);
`TokenView` holds the token ids and character offsets of the rendered conversation (from
`tokenizers`, or from transformers' `return_offsets_mapping`); `EndOfTurn` the tokens that end a
turn; `blocks`, the character spans of the template's `{% generation %}` blocks
(`chat_template.render_tracked`), or None.

Trained tokens, those of trained assistant turns (weight != 0):

* templates with `{% generation %}...{% endgeneration %}` blocks: the tokens of those blocks,
  as `return_assistant_tokens_mask=True` gives them (a token is in when its characters overlap a
  block), each block belonging to one assistant message (blocks outside any assistant message
  are trained too, as transformers' mask has them);
* other templates: for each assistant message, the tokens from the end of the generation
  prompt (the text `add_generation_prompt=True` renders for the conversation before it) to the
  end of the message's turn (the render of the conversation up to and including it), cut after
  its last end-of-turn token (EOS, generation_config.json's stop tokens, special tokens named
  like `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`), so the newline after `<|im_end|>` is not
  trained (a turn without any end-of-turn token keeps what the template writes after its
  content, up to where the next message begins). Templates that render a conversation's
  beginning differently once it goes on (Qwen3 drops earlier reasoning, Mistral moves the system
  prompt into the last user turn) do not give such prefixes: there the turn starts after the
  generation prompt's tail (what it renders after the previous message), or at the message's
  content (its text parts, for list contents) found in the rendered text, and ends after the
  end-of-turn token(s) that follow the content.

A trained turn found nowhere in the text is `unlocated`: none of its tokens is trained (the
linter estimates its size from its content so that it does not look empty).

`per_message` splits the tokens at the same prefix renders; it is approximate where they differ.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# renders the first messages of a conversation: (messages, tools, add_generation_prompt) -> text;
# may raise (any Exception) for a prefix the template refuses
Render = Callable[[list, object, bool], str]

# Special tokens whose name says they end a turn or a sequence.
_END_LIKE = re.compile(r"end|eot|eos|stop|return|^</s>$", re.IGNORECASE)


@dataclass(frozen=True)
class EndOfTurn:
    """The tokens that end a turn: their ids, and their texts longest first."""

    ids: frozenset[int]
    texts: tuple[str, ...]

    @classmethod
    def of(cls, eos_id: int | None, stop_ids: object, added: dict) -> EndOfTurn:
        """EOS (`eos_id`), generation_config.json's `eos_token_id` (`stop_ids`: an id or a list of
        ids; anything else is ignored), and the special added tokens named like an end. `added`:
        id -> added token (with `.content` and `.special`: `tokenizers`' get_added_tokens_decoder(),
        transformers' added_tokens_decoder)."""
        ids: set[int] = set()
        if isinstance(eos_id, int) and not isinstance(eos_id, bool):
            ids.add(eos_id)
        for i in stop_ids if isinstance(stop_ids, list) else [stop_ids]:
            if isinstance(i, int) and not isinstance(i, bool):
                ids.add(i)
        for i, token in added.items():
            if token.special and _END_LIKE.search(token.content):
                ids.add(i)
        texts = sorted((added[i].content for i in ids if i in added), key=len, reverse=True)
        return cls(frozenset(ids), tuple(texts))


class TokenView:
    """The token ids of one rendered text and their character offsets, with span lookups."""

    def __init__(self, text: str, ids: Sequence[int], offsets: Sequence[tuple[int, int]]):
        self.text = text
        self.ids = ids
        self.starts = [s for s, _ in offsets]
        self.ends = [e for _, e in offsets]
        self.sorted = self.starts == sorted(self.starts) and self.ends == sorted(self.ends)

    def token_range(self, s: int, e: int) -> tuple[int, int]:
        """Tokens whose characters overlap [s, e) (transformers' char_to_token on both ends)."""
        if self.sorted:
            a = bisect_right(self.ends, s)
            b = bisect_left(self.starts, e)
            return a, max(a, b)
        hits = [k for k in range(len(self.starts)) if self.starts[k] < e and self.ends[k] > s]
        return (hits[0], hits[-1] + 1) if hits else (0, 0)

    def first_token_at(self, s: int) -> int:
        """First token ending after character s."""
        if self.sorted:
            return bisect_right(self.ends, s)
        return next((k for k, e in enumerate(self.ends) if e > s), len(self.ends))

    def last_token_before(self, e: int) -> int:
        """Index just past the last token starting before character e."""
        if self.sorted:
            return bisect_left(self.starts, e)
        return max((k + 1 for k, s in enumerate(self.starts) if s < e), default=0)

    def char_end(self, k: int) -> int:
        return self.ends[k - 1] if k > 0 else 0

    def count_starting(self, a: int, b: int) -> int:
        if self.sorted:
            return bisect_left(self.starts, b) - bisect_left(self.starts, a)
        return sum(1 for s in self.starts if a <= s < b)

    def is_space(self, k: int) -> bool:
        piece = self.text[self.starts[k]:self.ends[k]]
        return piece == "" or piece.isspace()


class TrainedSpans:
    """The trained tokens of one conversation (`find`)."""

    def __init__(self, messages: list, tokens: TokenView, prefixes: _Prefixes, blocks: bool,
                 turns: dict[int, tuple[int, int]], extra: list[tuple[int, int]], unlocated: list[int]):
        self.messages = messages
        self.tokens = tokens
        # message index -> token range [a, b) of what assistant message i generates (weight 0 too)
        self.turns = turns
        self.extra = extra  # token ranges of generation blocks no assistant message could claim
        self.unlocated = unlocated  # assistant messages found nowhere in the text
        self.trained = [i for i, m in enumerate(messages)
                        if m.get("role") == "assistant" and m.get("weight", 1) != 0]
        self._prefixes = prefixes
        self._blocks = blocks
        self._mask: bytearray | None = None

    @property
    def mask(self) -> bytearray:
        """1 for each trained token of the rendered conversation, else 0."""
        if self._mask is None:
            mask = bytearray(len(self.tokens.ids))
            for i in self.trained:
                if i in self.turns:
                    a, b = self.turns[i]
                    mask[a:b] = b"\x01" * (b - a)
            for a, b in self.extra:
                mask[a:b] = b"\x01" * (b - a)
            self._mask = mask
        return self._mask

    @property
    def trainable(self) -> int:
        """How many tokens are trained."""
        return sum(self.mask)

    @property
    def last_turn(self) -> tuple[int, int]:
        """Token range of the last trained turn ((-1, -1) if none was located): the last trained
        assistant message's, else the last generation block outside any message."""
        if self.trained and self.trained[-1] in self.turns:
            return self.turns[self.trained[-1]]
        if self.extra:
            return self.extra[-1]
        return -1, -1

    def per_message(self) -> tuple[int, ...]:
        """Tokens of each message (those starting in its part of the text)."""
        tokens = self.tokens
        if self._blocks:
            bounds = self._prefixes.boundaries({})
        else:
            bounds = self._prefixes.boundaries({i: tokens.char_end(b) for i, (_, b) in self.turns.items()})
        return tuple(tokens.count_starting(bounds[k], bounds[k + 1]) for k in range(len(self.messages)))


def find(messages: list, tools, tokens: TokenView, render: Render, ends: EndOfTurn,
         blocks: list[tuple[int, int]] | None = None) -> TrainedSpans:
    """The trained tokens of a conversation rendered as `tokens.text` (add_generation_prompt=False)
    and tokenized as `tokens`. `messages` and `tools` as `render` takes them; `blocks`: the
    character spans of the template's generation blocks in the text, None without any."""
    prefixes = _Prefixes(render, messages, tools, tokens.text, ends)
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    turns: dict[int, tuple[int, int]] = {}
    extra: list[tuple[int, int]] = []
    unlocated: list[int] = []
    if blocks:
        for owner, rng in _assign_blocks(blocks, assistants, prefixes, messages, tokens):
            if owner is None:
                extra.append(rng)
            elif owner in turns:
                turns[owner] = (min(turns[owner][0], rng[0]), max(turns[owner][1], rng[1]))
            else:
                turns[owner] = rng
    else:
        cursor = 0
        for i in assistants:
            rng = _locate_turn(i, messages, prefixes, tokens, ends.ids, cursor)
            if rng is None:
                unlocated.append(i)
                continue
            turns[i] = rng
            cursor = tokens.char_end(rng[1])
    return TrainedSpans(messages, tokens, prefixes, bool(blocks), turns, extra, unlocated)


def _assign_blocks(blocks, assistants, prefixes, msgs, view):
    """Yield (message index or None, token range) for each generation block."""
    ranges = [view.token_range(s, e) for s, e in blocks]
    if len(blocks) == len(assistants):
        yield from zip(assistants, ranges, strict=True)
        return
    starts = prefixes.boundaries({})[1:-1]
    for (s, _), rng in zip(blocks, ranges, strict=True):
        k = bisect_right(starts, s)  # the message whose region holds the block's start
        yield (k if msgs[k].get("role") == "assistant" else None), rng


def _locate_turn(i, msgs, prefixes, view, end_ids, cursor) -> tuple[int, int] | None:
    """Token range of what assistant message i generates: its content and end-of-turn token."""
    full = prefixes.full
    ids = view.ids
    start = None
    prompt = prefixes.get(i, True)  # the conversation before it, with the generation prompt
    before = prefixes.get(i, False)
    if prompt is not None and full.startswith(prompt) and len(prompt) >= cursor and (
        before is None or len(prompt) >= len(before)
    ):
        start = len(prompt)
    texts = content_texts(msgs[i].get("content"))
    if start is not None:
        found = _find_texts(full, texts, start)
    else:
        # the prefix renders differently inside the whole conversation (e.g. Mistral moves the
        # system prompt into the last user turn): anchor on the end of the generation prompt
        # (what it renders after the previous message), then on the content
        search_from = max(cursor, prefixes.consistent_len(i))
        tail = _prompt_tail(prompt, msgs[i - 1] if i else None) if prompt is not None else ""
        anchor = full.find(tail, search_from) if tail.strip() else -1
        if anchor >= 0:
            search_from = anchor + len(tail)
        found = _find_texts(full, texts, search_from)
        if found is not None:
            start = search_from if anchor >= 0 and not full[search_from:found[0]].strip() else found[0]
        elif anchor >= 0:
            start = search_from
        else:
            return None
    first = view.first_token_at(start)
    after = prefixes.get(i + 1, False) if i + 1 < len(msgs) else full
    if after is not None and full.startswith(after) and len(after) > start:
        # the turn's region is known: it ends at its last end-of-turn token
        last = view.last_token_before(len(after))
        for k in range(last - 1, first - 1, -1):
            if ids[k] in end_ids:
                return first, k + 1
        return first, last
    if found is not None:
        return first, _extend_to_end(view.last_token_before(found[1]), view, end_ids)
    # no content to find (tool calls only) nor known region: up to the first end-of-turn token
    for k in range(first, len(ids)):
        if ids[k] in end_ids:
            return first, _extend_to_end(k, view, end_ids)
    return None


def _skip_turn_end(text: str, pos: int, end_texts: tuple[str, ...]) -> int:
    """Character offset past the end-of-turn tokens (and the newlines after them) at pos."""
    j = pos
    while j < len(text) and text[j] in " \t\n":
        j += 1
    matched = False
    while True:
        hit = next((t for t in end_texts if text.startswith(t, j)), None)
        if hit is None:
            break
        j += len(hit)
        matched = True
    if not matched:
        return pos
    while j < len(text) and text[j] == "\n":
        j += 1
    return j


def _extend_to_end(k: int, view: TokenView, end_ids: frozenset[int]) -> int:
    """Token index just past the end-of-turn token(s) at k (after whitespace), else k."""
    ids = view.ids
    j = k
    while j < len(ids) and ids[j] not in end_ids and view.is_space(j):
        j += 1
    if j >= len(ids) or ids[j] not in end_ids:
        return k
    while j < len(ids) and ids[j] in end_ids:
        j += 1
    return j


class _Prefixes:
    """Renders of the first k messages, made on demand and kept for one example."""

    def __init__(self, render: Render, msgs: list, tools, full: str, ends: EndOfTurn):
        self.render, self.msgs, self.tools, self.full, self.ends = render, msgs, tools, full, ends
        self._cache: dict[tuple[int, bool], str | None] = {(len(msgs), False): full}
        self._bounds: dict[tuple, list[int]] = {}

    def get(self, k: int, generation_prompt: bool) -> str | None:
        key = (k, generation_prompt)
        if key not in self._cache:
            try:
                self._cache[key] = self.render(self.msgs[:k], self.tools, generation_prompt)
            except Exception:  # a prefix the template refuses (e.g. it must end with a user turn)
                self._cache[key] = None
        return self._cache[key]

    def consistent_len(self, k: int) -> int:
        """Length of the render of the first k messages where it is a prefix of the full text, else 0."""
        r = self.get(k, False) if k else ""
        return len(r) if r is not None and self.full.startswith(r) else 0

    def boundaries(self, turn_ends: dict[int, int]) -> list[int]:
        """Character offsets where each message's part of the full text starts, plus the end.
        Where a prefix renders differently (templates that treat the last message specially),
        the message is taken to end after its located turn (`turn_ends`: message index ->
        character offset), else after its content and end-of-turn tokens: approximate there."""
        key = tuple(sorted(turn_ends.items()))
        if key in self._bounds:
            return self._bounds[key]
        full = self.full
        n = len(self.msgs)
        out = [0]
        for k in range(1, n):
            r = self.get(k, False)
            b = out[-1]
            if r is not None and full.startswith(r):
                b = max(b, len(r))
            elif r is not None:
                # the last message renders differently when it is last: the texts agree up to
                # somewhere in it; it ends after its content and end-of-turn tokens
                b = max(b, _common_prefix(r, full))
                if k - 1 in turn_ends:
                    end = turn_ends[k - 1]
                    while end < len(full) and full[end] == "\n":
                        end += 1
                    b = max(b, end)
                else:
                    found = _find_texts(full, content_texts(self.msgs[k - 1].get("content")), out[-1])
                    if found is not None and found[1] > b:
                        b = _skip_turn_end(full, found[1], self.ends.texts)
            out.append(b)
        out.append(len(full) + 1)  # past the end, so that a token with empty offsets at the end counts
        self._bounds[key] = out
        return out


def content_texts(content) -> list[str]:
    """The non-blank texts of a message's content: the string, or the text parts of a list."""
    if isinstance(content, str):
        return [content] if content.strip() else []
    if isinstance(content, list):
        texts = (p.get("text") for p in content if isinstance(p, dict))
        return [t for t in texts if isinstance(t, str) and t.strip()]
    return []


def _find_texts(full: str, texts: list[str], start: int) -> tuple[int, int] | None:
    """Where the texts appear in order from `start` (each as given, else stripped), or None."""
    if not texts:
        return None
    first = None
    pos = start
    for t in texts:
        at = full.find(t, pos)
        if at < 0:
            t = t.strip()
            at = full.find(t, pos)
            if at < 0:
                return None
        if first is None:
            first = at
        pos = at + len(t)
    return first, pos


def _prompt_tail(prompt: str, previous: dict | None) -> str:
    """The end of a generation prompt: what it renders after the previous message's content
    (e.g. "[/INST]", "<|im_end|>\n<|im_start|>assistant\n"); "" when that is not clear."""
    texts = content_texts(previous.get("content")) if previous else []
    if not texts:
        return ""
    cut = prompt.rfind(texts[-1])
    if cut < 0:
        cut = prompt.rfind(texts[-1].strip())
        if cut < 0:
            return ""
        return prompt[cut + len(texts[-1].strip()):][-200:]
    return prompt[cut + len(texts[-1]):][-200:]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on equal prefixes: O(n) comparisons in C
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
