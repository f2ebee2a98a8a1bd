"""Chat templates rendered the way transformers' `apply_chat_template` renders them, without
transformers: the same sandboxed Jinja environment (filters, globals, `{% generation %}`), the
same message preparation (keys with None values dropped, reasoning copied under the names
templates read).

`render_tracked` also gives the character spans of the template's `{% generation %}` blocks (the
spans transformers' AssistantTracker records for `return_assistant_tokens_mask=True`). The linter
renders every `hf:` example here; the trainer renders with transformers itself and uses
`render_tracked` only for the blocks, when its text is the trainer's (`tunelint.trainer.data`).
Neither torch nor transformers is imported; jinja2 is imported when a template is compiled.
"""

from __future__ import annotations

import contextvars
import json
import re
import secrets
from datetime import datetime
from functools import lru_cache

from .token_counts import ChatTemplateError

# Message fields transformers (v5) copies a message's reasoning into before rendering.
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")

# Set while rendering for generation spans: the (start, end) markers `{% generation %}` blocks
# wrap their output in. A ContextVar, so one compiled template serves every thread.
_MARKERS: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("tunelint_gen_markers", default=None)
# The markers' nonce: example text cannot forge a marker it does not know.
_NONCE = secrets.token_hex(8)
_TRACKING = (f"\x00<gen {_NONCE}>", f"\x00</gen {_NONCE}>")


@lru_cache(maxsize=16)
def compile_template(source: str):
    """The template compiled in transformers' chat-template environment (cached by source).
    Raises jinja2.TemplateSyntaxError for a template that is not valid Jinja."""
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


def render(source: str, msgs: list, tools, add_generation_prompt: bool, special: dict[str, str],
           markers: tuple[str, str] | None = None) -> str:
    """The template's text for prepared messages and tools (`prepare_messages`, `prepare_tools`),
    with the special tokens (`special`: bos_token, eos_token, ...) as variables. Raises
    ChatTemplateError when the template raises or fails on the example."""
    import jinja2

    template = compile_template(source)
    token = _MARKERS.set(markers)
    try:
        return template.render(messages=msgs, tools=tools, documents=None,
                               add_generation_prompt=add_generation_prompt, **special)
    except jinja2.TemplateError as e:
        raise ChatTemplateError(f"chat template error: {e.message or type(e).__name__}") from e
    except Exception as e:  # a template crashing on odd data (None + str, ...) is about the example
        raise ChatTemplateError(f"the chat template failed on this example: {type(e).__name__}: {e}") from e
    finally:
        _MARKERS.reset(token)


def render_tracked(source: str, msgs: list, tools, special: dict[str, str]) -> tuple[str, list[tuple[int, int]] | None]:
    """The rendered conversation (add_generation_prompt=False) and the character spans of its
    outermost non-empty generation blocks, in order (None when the markers did not come out
    intact, e.g. a block inside a filtered section)."""
    start, end = _TRACKING
    marked = render(source, msgs, tools, False, special, _TRACKING)
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
    if "\x00" in full and _NONCE in full.lower():  # a marker altered by a filter: no spans
        return render(source, msgs, tools, False, special), None
    return full, (spans if ok and depth == 0 else None)


def prepare_messages(messages) -> list[dict]:
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


def prepare_tools(tools):
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ChatTemplateError("tools must be a list of JSON schemas (objects)")
    return tools
