"""Exact token counts with a local Hugging Face tokenizer, rendered through its chat template.

`hf:<folder>` names a folder holding `tokenizer.json` and a chat template (the `chat_template`
of `tokenizer_config.json`, or `chat_template.jinja`, or `additional_chat_templates/*.jinja`).
Each example is rendered the way `transformers`' `apply_chat_template` renders it (the same
sandboxed Jinja environment, variables and special tokens; add_generation_prompt=False) and
encoded with `tokenizers` without adding special tokens, as `apply_chat_template` does, so the
total is the number of input ids the trainer sees. Neither transformers nor torch is imported.

Trainable tokens, the tokens of trained assistant turns (weight != 0), are found by
`assistant_spans` (its docstring has the method: generation blocks, else the prefix renders and
the end-of-turn tokens: EOS, generation_config.json's stop tokens, special tokens named like an
end), the same code the trainer's labels come from (`tunelint.trainer.data`): here it is given
this module's renderer and the `tokenizers` encoding. A trained turn found nowhere in the text
(no tokens of it are trained) counts its content's tokens, so that it never looks empty (TL702).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from . import assistant_spans
from .chat_template import GENERATION_TAG, compile_template, prepare_messages, prepare_tools, render, render_tracked
from .token_counts import ChatTemplateError, ExampleTokens, TokenizerUnavailable

# The special tokens transformers passes to every chat template (`special_tokens_map`).
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_MIN_JINJA = (3, 1, 6)  # older versions have known sandbox escapes; templates are untrusted code


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
                compile_template(source)
            except jinja2.TemplateSyntaxError as e:
                raise TokenizerUnavailable(f"the chat template {name!r} in {folder} is not valid Jinja: {e}") from e

        eos = self._special.get("eos_token")
        gen = _read_json(folder / "generation_config.json") or {}
        self._ends = assistant_spans.EndOfTurn.of(self._tok.token_to_id(eos) if eos is not None else None,
                                                   gen.get("eos_token_id"), self._tok.get_added_tokens_decoder())
        self._memo: dict[str, int] = {}
        digest = hashlib.sha256(raw)
        digest.update(json.dumps([self._templates, self._special], sort_keys=True).encode())
        self.fingerprint = digest.hexdigest()  # what counts depend on, for cache keys

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
        msgs, tool_list = prepare_messages(messages), prepare_tools(tools)
        return render(self._source_for(tool_list), msgs, tool_list, add_generation_prompt, self._special)

    def trained_spans(self, messages: list, tools: object = None) -> assistant_spans.TrainedSpans:
        """The rendered conversation's tokens and which of them are trained (the trainer's labels
        for the same tokenizer, by construction)."""
        msgs, tool_list = prepare_messages(messages), prepare_tools(tools)
        source = self._source_for(tool_list)
        special = self._special
        blocks = None
        if GENERATION_TAG.search(source):
            full, blocks = render_tracked(source, msgs, tool_list, special)
        else:
            full = render(source, msgs, tool_list, False, special)
        enc = self._tok.encode(full, add_special_tokens=False)

        def prefix(m, t, generation_prompt):
            return render(source, m, t, generation_prompt, special)

        tokens = assistant_spans.TokenView(full, enc.ids, enc.offsets)
        return assistant_spans.find(msgs, tool_list, tokens, prefix, self._ends, blocks)

    def count_messages(self, messages: list, tools: object = None) -> ExampleTokens:
        spans = self.trained_spans(messages, tools)
        trainable = spans.trainable
        # a trained turn that could not be found still has tokens: estimate them, so it never
        # looks empty (TL702)
        for i in spans.unlocated:
            if i in spans.trained:
                trainable += sum(self.count(t) for t in assistant_spans.content_texts(spans.messages[i].get("content")))
        start, end = spans.last_turn
        return ExampleTokens(len(spans.tokens.ids), trainable, start, end, spans.per_message())

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
