"""Exact token counts with a local Hugging Face tokenizer, rendered through its chat template.

`hf:<folder>` names a folder holding `tokenizer.json` and a chat template (the `chat_template`
of `tokenizer_config.json`, or `chat_template.jinja`, or `additional_chat_templates/*.jinja`).
Each example is rendered the way `transformers`' `apply_chat_template` renders it (the same
sandboxed Jinja environment, variables and special tokens; add_generation_prompt=False) and
encoded with `tokenizers` without adding special tokens, as `apply_chat_template` does, so the
total is the number of input ids the trainer sees. Neither transformers nor torch is imported.

Trainable tokens, the tokens of trained assistant turns (weight != 0):

* templates with `{% generation %}...{% endgeneration %}` blocks: the tokens of those blocks,
  as `return_assistant_tokens_mask=True` gives them (a token is in when its characters overlap a
  block), each block belonging to one assistant message;
* other templates: for each assistant message, the tokens from the end of the generation
  prompt (the text `add_generation_prompt=True` renders for the conversation before it) to the
  end of the message's turn (the render of the conversation up to and including it), cut after
  its last end-of-turn token (EOS, generation_config.json's stop tokens, special tokens named
  like `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`), so the newline after `<|im_end|>` is not
  trained. Templates that render a conversation's beginning differently once it goes on (Qwen3
  drops earlier reasoning, Mistral moves the system prompt into the last user turn) do not give
  such prefixes: there the turn starts after the generation prompt's tail (what it renders
  after the previous message), or at the message's content found in the rendered text, and ends
  after the end-of-turn token(s) that follow the content.

`per_message` splits the tokens at the same prefix renders; it is approximate where they differ.

The trainer marks the tokens it trains on with its own, transformers-based version of the same
method (`tunelint.trainer.data`, whose docstring says where and why the two differ); on templates
whose prefixes render as prefixes they mark the same tokens (tests/trainer/test_spans.py).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import re
import secrets
from bisect import bisect_left, bisect_right
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from .token_counts import ChatTemplateError, ExampleTokens, TokenizerUnavailable

# The special tokens transformers passes to every chat template (`special_tokens_map`).
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Message fields transformers (v5) copies a message's reasoning into before rendering.
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
# Special tokens whose name says they end a turn or a sequence.
_END_LIKE = re.compile(r"end|eot|eos|stop|return|^</s>$", re.IGNORECASE)
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")
_MIN_JINJA = (3, 1, 6)  # older versions have known sandbox escapes; templates are untrusted code


# Set while rendering for generation spans: the (start, end) markers `{% generation %}` blocks
# wrap their output in. A ContextVar, so one compiled template serves every thread.
_MARKERS: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("tunelint_gen_markers", default=None)


@lru_cache(maxsize=16)
def _compile(source: str):
    """The template compiled in transformers' chat-template environment (cached by source)."""
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationBlocks(jinja2.ext.Extension):
        """`{% generation %}...{% endgeneration %}`: renders its body unchanged, wrapped in markers
        while a tracked render is active (transformers' AssistantTracker records the same spans)."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_block"), [], [], body).set_lineno(lineno)

        def _block(self, caller):
            text = caller()
            markers = _MARKERS.get()
            return text if markers is None else f"{markers[0]}{text}{markers[1]}"

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # like transformers: no HTML escaping, and the json.dumps options exposed
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    class TemplateDict:
        """`dict(...)` and `dict.fromkeys(...)` without exposing the dict type itself."""

        def __call__(self, *args, **kwargs):
            return dict(*args, **kwargs)

        def fromkeys(self, *args, **kwargs):
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        """`namespace(...)` that refuses underscore-prefixed attributes."""

        def __init__(*args, **kwargs):
            self, args = args[0], args[1:]
            attrs = dict(*args, **kwargs)
            for name in attrs:
                TemplateNamespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name, value):
            TemplateNamespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name):
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"chat templates cannot store underscore-prefixed attributes on a namespace ({name!r})"
                )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlocks, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env.from_string(source)


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TokenizerUnavailable(f"cannot read {path}: {e}") from e
    return data if isinstance(data, dict) else None


def _token_text(value) -> str | None:
    """A special token from a config: a string, or an AddedToken dict with "content"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _load_templates(folder: Path, config: dict) -> dict[str, str]:
    """Named templates the way transformers loads them: template files, when any exist, replace
    the templates of tokenizer_config.json; a single template is named "default"."""
    files: dict[str, str] = {}
    main = folder / "chat_template.jinja"
    if main.is_file():
        files["default"] = main.read_text(encoding="utf-8")
    extra = folder / "additional_chat_templates"
    if extra.is_dir():
        for f in sorted(extra.glob("*.jinja")):
            files[f.name.removesuffix(".jinja")] = f.read_text(encoding="utf-8")
    if files:
        return files
    value = config.get("chat_template")
    if isinstance(value, str) and value:
        return {"default": value}
    if isinstance(value, list):
        named = {t["name"]: t["template"] for t in value
                 if isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("template"), str)}
        if named:
            return named
    processor = _read_json(folder / "chat_template.json")  # processors (multimodal models) keep it here
    if processor and isinstance(processor.get("chat_template"), str):
        return {"default": processor["chat_template"]}
    return {}


class HFTemplateCounter:
    """Exact counts for a local Hugging Face tokenizer folder and its chat template."""

    exact_template = True

    def __init__(self, path, template: str | None = None):
        """`path`: the tokenizer folder. `template`: the name of one of its templates to always
        use (default: "tool_use" for examples with tools where there is one, else "default")."""
        folder = Path(path).expanduser()
        self.name = f"hf:{folder}"
        if folder.is_file() and folder.name in ("tokenizer.json", "tokenizer_config.json"):
            folder = folder.parent
        if not folder.is_dir():
            raise TokenizerUnavailable(
                f"tokenizer folder {folder} does not exist: hf:<path> needs a local folder with the model's "
                "tokenizer.json and tokenizer_config.json (e.g. `huggingface-cli download <model> tokenizer.json "
                "tokenizer_config.json --local-dir <folder>`)"
            )
        try:
            import jinja2
            from tokenizers import Tokenizer
        except ImportError as e:
            raise TokenizerUnavailable(
                f"hf: tokenizers need the `tokenizers` and `jinja2` packages ({e}); pip install 'tunelint[hf]'"
            ) from e
        version = tuple(int(p) for p in re.findall(r"\d+", jinja2.__version__)[:3])
        if version < _MIN_JINJA:
            raise TokenizerUnavailable(
                f"jinja2 {jinja2.__version__} is too old to render untrusted chat templates safely; "
                "pip install -U 'jinja2>=3.1.6'"
            )
        tok_file = folder / "tokenizer.json"
        if not tok_file.is_file():
            slow = [n for n in ("tokenizer.model", "vocab.json", "merges.txt", "vocab.txt") if (folder / n).is_file()]
            hint = (f"it has only {', '.join(slow)}: convert it once with transformers "
                    "(AutoTokenizer.from_pretrained(folder).save_pretrained(folder)) to write tokenizer.json"
                    if slow else "download the model's tokenizer.json into it")
            raise TokenizerUnavailable(f"{folder} has no tokenizer.json; {hint}")
        raw = tok_file.read_bytes()
        try:
            self._tok = Tokenizer.from_str(raw.decode("utf-8"))
        except Exception as e:
            raise TokenizerUnavailable(f"cannot load {tok_file}: {e}") from e
        # counts are of the whole example: never truncated or padded, whatever tokenizer.json says
        self._tok.no_truncation()
        self._tok.no_padding()

        config = _read_json(folder / "tokenizer_config.json") or {}
        special = dict(config)
        legacy = _read_json(folder / "special_tokens_map.json")
        if legacy and "added_tokens_decoder" not in config:  # transformers merges it only then
            special.update(legacy)
        self._special: dict[str, str] = {}
        for key in SPECIAL_TOKEN_NAMES:
            text = _token_text(special.get(key))
            if text is not None:
                self._special[key] = text
        named = special.get("extra_special_tokens")  # named model-specific tokens (e.g. image_token)
        if isinstance(named, dict):
            for key, value in named.items():
                text = _token_text(value)
                if isinstance(key, str) and text is not None:
                    self._special[key] = text

        try:
            self._templates = _load_templates(folder, config)
        except (OSError, UnicodeDecodeError) as e:
            raise TokenizerUnavailable(f"cannot read the chat template in {folder}: {e}") from e
        if not self._templates:
            raise TokenizerUnavailable(
                f"{folder} has no chat template: tokenizer_config.json has no \"chat_template\" and there is no "
                "chat_template.jinja. Add the model's chat template (copy the instruct model's "
                "tokenizer_config.json or chat_template.jinja), or count with o200k_base/cl100k_base instead"
            )
        if template is not None and template not in self._templates:
            raise TokenizerUnavailable(
                f"{folder} has no chat template named {template!r}; it has {', '.join(sorted(self._templates))}"
            )
        self._template_name = template
        for name, source in self._templates.items():
            try:
                _compile(source)
            except jinja2.TemplateSyntaxError as e:
                raise TokenizerUnavailable(f"the chat template {name!r} in {folder} is not valid Jinja: {e}") from e

        self._end_ids = self._end_of_turn_ids(folder)
        added = self._tok.get_added_tokens_decoder()
        self._end_texts = sorted((added[i].content for i in self._end_ids if i in added), key=len, reverse=True)
        self._nonce = secrets.token_hex(8)
        self._markers = (f"\x00<gen {self._nonce}>", f"\x00</gen {self._nonce}>")
        self._memo: dict[str, int] = {}
        digest = hashlib.sha256(raw)
        digest.update(json.dumps([self._templates, self._special], sort_keys=True).encode())
        self.fingerprint = digest.hexdigest()  # what counts depend on, for cache keys

    def _end_of_turn_ids(self, folder: Path) -> frozenset[int]:
        """EOS, the stop tokens of generation_config.json, and special tokens named like an end."""
        ids: set[int] = set()
        eos = self._special.get("eos_token")
        if eos is not None and self._tok.token_to_id(eos) is not None:
            ids.add(self._tok.token_to_id(eos))
        gen = _read_json(folder / "generation_config.json") or {}
        stop = gen.get("eos_token_id")
        for i in stop if isinstance(stop, list) else [stop]:
            if isinstance(i, int) and not isinstance(i, bool):
                ids.add(i)
        for i, added in self._tok.get_added_tokens_decoder().items():
            if added.special and _END_LIKE.search(added.content):
                ids.add(i)
        return frozenset(ids)

    # -- counting -------------------------------------------------------------------------------

    def count(self, text: str) -> int:
        memo = self._memo
        n = memo.get(text)
        if n is None:
            n = len(self._tok.encode(text, add_special_tokens=False).ids)
            if len(memo) > 200_000:
                memo.clear()
            memo[text] = n
        return n

    def render(self, messages: list, tools: object = None, add_generation_prompt: bool = False) -> str:
        """The text the chat template makes of a conversation (what gets tokenized)."""
        msgs, tool_list = _prepare(messages), _prepare_tools(tools)
        return self._render(self._source_for(tool_list), msgs, tool_list, add_generation_prompt)

    def count_messages(self, messages: list, tools: object = None) -> ExampleTokens:
        msgs, tool_list = _prepare(messages), _prepare_tools(tools)
        source = self._source_for(tool_list)
        spans = None
        if _GENERATION_TAG.search(source):
            full, spans = self._render_tracked(source, msgs, tool_list)
        else:
            full = self._render(source, msgs, tool_list, False)
        enc = self._tok.encode(full, add_special_tokens=False)
        ids = enc.ids
        view = _Tokens(full, enc.offsets)
        prefixes = _Prefixes(self, source, msgs, tool_list, full)
        assistants = [i for i, m in enumerate(msgs) if m.get("role") == "assistant"]
        # message index -> token range of what is trained in it
        turns: dict[int, tuple[int, int]] = {}
        extra: list[tuple[int, int]] = []  # generation blocks no assistant message could claim
        unlocated: list[int] = []
        if spans:
            bounds = prefixes.boundaries({})
            for owner, rng in self._assign_spans(spans, assistants, bounds, msgs, view):
                if owner is None:
                    extra.append(rng)
                elif owner in turns:
                    turns[owner] = (min(turns[owner][0], rng[0]), max(turns[owner][1], rng[1]))
                else:
                    turns[owner] = rng
        else:
            cursor = 0
            for i in assistants:
                rng = self._locate_turn(i, msgs, prefixes, view, ids, cursor)
                if rng is None:
                    unlocated.append(i)
                    continue
                turns[i] = rng
                cursor = view.char_end(rng[1])
            bounds = prefixes.boundaries({i: view.char_end(b) for i, (_, b) in turns.items()})
        per = tuple(view.count_starting(bounds[k], bounds[k + 1]) for k in range(len(msgs)))

        trained = [i for i in assistants if msgs[i].get("weight", 1) != 0]
        mask = bytearray(len(ids))
        for i in trained:
            if i in turns:
                a, b = turns[i]
                mask[a:b] = b"\x01" * (b - a)
        for a, b in extra:
            mask[a:b] = b"\x01" * (b - a)
        trainable = sum(mask)
        # a trained turn that could not be found still has tokens: estimate them, so it never
        # looks empty (TL702)
        for i in trained:
            if i in unlocated:
                trainable += sum(self.count(t) for t in _content_texts(msgs[i].get("content")))
        last_start = last_end = -1
        if trained and trained[-1] in turns:
            last_start, last_end = turns[trained[-1]]
        elif extra:  # generation blocks outside assistant messages: the last of them
            last_start, last_end = extra[-1]
        return ExampleTokens(len(ids), trainable, last_start, last_end, per)

    # -- rendering ------------------------------------------------------------------------------

    def _source_for(self, tools) -> str:
        templates = self._templates
        if self._template_name is not None:
            return templates[self._template_name]
        if len(templates) == 1:
            return next(iter(templates.values()))
        if tools is not None and "tool_use" in templates:
            return templates["tool_use"]
        if "default" in templates:
            return templates["default"]
        raise ChatTemplateError(
            f"the tokenizer has several chat templates ({', '.join(sorted(templates))}) and none named default"
        )

    def _render(self, source: str, msgs: list, tools, add_generation_prompt: bool, markers=None) -> str:
        import jinja2

        template = _compile(source)
        token = _MARKERS.set(markers)
        try:
            return template.render(messages=msgs, tools=tools, documents=None,
                                   add_generation_prompt=add_generation_prompt, **self._special)
        except jinja2.TemplateError as e:
            raise ChatTemplateError(f"chat template error: {e.message or type(e).__name__}") from e
        except Exception as e:  # a template crashing on odd data (None + str, ...) is about the example
            raise ChatTemplateError(f"the chat template failed on this example: {type(e).__name__}: {e}") from e
        finally:
            _MARKERS.reset(token)

    def _render_tracked(self, source: str, msgs: list, tools) -> tuple[str, list[tuple[int, int]] | None]:
        """The rendered text and the character spans of its generation blocks (None when the
        markers did not come out intact, e.g. a block inside a filtered section)."""
        start, end = self._markers
        marked = self._render(source, msgs, tools, False, self._markers)
        pieces = re.split(f"({re.escape(start)}|{re.escape(end)})", marked)
        text: list[str] = []
        pos = depth = 0
        open_at = 0
        spans: list[tuple[int, int]] = []
        ok = True
        for piece in pieces:
            if piece == start:
                if depth == 0:
                    open_at = pos
                depth += 1
            elif piece == end:
                if depth == 0:
                    ok = False
                    continue
                depth -= 1
                if depth == 0 and pos > open_at:
                    spans.append((open_at, pos))
            else:
                text.append(piece)
                pos += len(piece)
        full = "".join(text)
        if "\x00" in full and self._nonce in full.lower():  # a marker altered by a filter: no spans
            return self._render(source, msgs, tools, False), None
        return full, (spans if ok and depth == 0 else None)

    # -- trainable spans ------------------------------------------------------------------------

    def _assign_spans(self, spans, assistants, bounds, msgs, view):
        """Yield (message index or None, token range) for each generation block."""
        ranges = [view.token_range(s, e) for s, e in spans]
        if len(spans) == len(assistants):
            yield from zip(assistants, ranges, strict=True)
            return
        starts = bounds[1:-1]
        for (s, _), rng in zip(spans, ranges, strict=True):
            k = bisect_right(starts, s)  # the message whose region holds the block's start
            yield (k if msgs[k].get("role") == "assistant" else None), rng

    def _locate_turn(self, i, msgs, prefixes, view, ids, cursor) -> tuple[int, int] | None:
        """Token range of what assistant message i generates: its content and end-of-turn token."""
        full = prefixes.full
        start = None
        prompt = prefixes.get(i, True)  # the conversation before it, with the generation prompt
        before = prefixes.get(i, False)
        if prompt is not None and full.startswith(prompt) and len(prompt) >= cursor and (
            before is None or len(prompt) >= len(before)
        ):
            start = len(prompt)
        texts = _content_texts(msgs[i].get("content"))
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
                if ids[k] in self._end_ids:
                    return first, k + 1
            return first, last
        if found is not None:
            return first, self._extend_to_end(view.last_token_before(found[1]), view, ids)
        # no content to find (tool calls only) nor known region: up to the first end-of-turn token
        for k in range(first, len(ids)):
            if ids[k] in self._end_ids:
                return first, self._extend_to_end(k, view, ids)
        return None

    def _skip_turn_end(self, text: str, pos: int) -> int:
        """Character offset past the end-of-turn tokens (and the newlines after them) at pos."""
        j = pos
        while j < len(text) and text[j] in " \t\n":
            j += 1
        matched = False
        while True:
            hit = next((t for t in self._end_texts if text.startswith(t, j)), None)
            if hit is None:
                break
            j += len(hit)
            matched = True
        if not matched:
            return pos
        while j < len(text) and text[j] == "\n":
            j += 1
        return j

    def _extend_to_end(self, k: int, view, ids) -> int:
        """Token index just past the end-of-turn token(s) at k (after whitespace), else k."""
        j = k
        while j < len(ids) and ids[j] not in self._end_ids and view.is_space(j):
            j += 1
        if j >= len(ids) or ids[j] not in self._end_ids:
            return k
        while j < len(ids) and ids[j] in self._end_ids:
            j += 1
        return j


class _Prefixes:
    """Renders of the first k messages, made on demand and kept for one example."""

    def __init__(self, counter: HFTemplateCounter, source, msgs, tools, full: str):
        self.counter, self.source, self.msgs, self.tools, self.full = counter, source, msgs, tools, full
        self._cache: dict[tuple[int, bool], str | None] = {(len(msgs), False): full}

    def get(self, k: int, generation_prompt: bool) -> str | None:
        key = (k, generation_prompt)
        if key not in self._cache:
            try:
                self._cache[key] = self.counter._render(self.source, self.msgs[:k], self.tools, generation_prompt)
            except ChatTemplateError:
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
                    found = _find_texts(full, _content_texts(self.msgs[k - 1].get("content")), out[-1])
                    if found is not None and found[1] > b:
                        b = self.counter._skip_turn_end(full, found[1])
            out.append(b)
        out.append(len(full) + 1)  # past the end, so that a token with empty offsets at the end counts
        return out


class _Tokens:
    """Token offsets of one encoding, with character-span lookups."""

    def __init__(self, text: str, offsets):
        self.text = text
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


def _prepare(messages) -> list[dict]:
    """The messages as transformers hands them to the template: keys with None values dropped,
    reasoning copied to `reasoning_content` and `thinking`."""
    if not isinstance(messages, list):
        raise ChatTemplateError("messages must be a list")
    if not messages:
        raise ChatTemplateError("cannot apply a chat template to an empty conversation")
    out = []
    for n, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ChatTemplateError(f"message {n} is not an object, a chat template cannot render it")
        m = {k: v for k, v in m.items() if v is not None}
        reasoning = next((m[k] for k in _REASONING_FIELDS if m.get(k) is not None), None)
        if reasoning is not None:
            m = {"thinking": reasoning, **m, "reasoning_content": reasoning}
        out.append(m)
    return out


def _prepare_tools(tools):
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ChatTemplateError("tools must be a list of JSON schemas (objects)")
    return tools


def _content_texts(content) -> list[str]:
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
    texts = _content_texts(previous.get("content")) if previous else []
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
