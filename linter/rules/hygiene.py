"""TL6xx: text that will hurt training even though the JSON is fine."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..example import Example
from ..registry import rule
from ..violation import ReplaceValue, Violation

CONTROL_TOKEN_RE = re.compile(
    r"<\|(?:im_start|im_end|im_sep|endoftext|eot_id|start_header_id|end_header_id|begin_of_text"
    r"|end_of_text|eom_id|user|assistant|system|end|start|message|channel|return|call)\|>"
    r"|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>"
)
# what comes before the colon of a role marker, from the start of its line
ROLE_HEAD_RE = re.compile(r"(?:#{1,3}[ \t]*)?(?:User|Assistant|Human|Instruction|Response)[ \t]*")
ROLE_HEAD_MAX = 64  # characters: a longer line head is not a marker
_HEAD_ENDS = frozenset("rtne \t")  # User, Assistant, Human, Instruction, Response; or a blank
PLACEHOLDER_WHOLE = {
    "todo", "tbd", "fixme", "placeholder", "<placeholder>", "[placeholder]", "n/a", "...", "xxx",
    "lorem ipsum", "insert answer here", "your answer here", "answer here",
}
PLACEHOLDER_RE = re.compile(r"lorem ipsum dolor|\[(?:INSERT|TODO|PLACEHOLDER)\b[^\]]*\]", re.IGNORECASE)
# An unrendered template variable, when it is the whole text ("{{answer}}"); inside longer text
# it is more often a Jinja or Handlebars example than a failed render.
TEMPLATE_VAR_RE = re.compile(r"^\{\{?\s*[A-Za-z_][A-Za-z0-9_.]*\s*\}\}?$")


# the formats with an answer: a turn the model learns to write (a message, `completion`, `output`)
ANSWER_FORMATS = frozenset({"chat", "preference", "prompt_completion", "alpaca", "sharegpt"})


def _text(turn) -> str:
    """How a finding names the turn's text: by its role ("assistant text"), or by its field
    ("`completion`", "`text`")."""
    if turn.message is None and turn.path == ():
        return f"`{turn.content_path[0]}`"
    return f"{turn.role or 'message'} text"


def _has_control_chars(text: str) -> bool:
    # cheap substring tests first, and the regex only on the rare text that could match. Every
    # token has a "<" or a "]", and a one-character search is about 8x faster than a longer one
    return ("<" in text or "]" in text) and (
        "<|" in text or "INST]" in text or "<<" in text or "_of_turn>" in text)


def _role_marker(text: str) -> str | None:
    """The first role marker (`User:`, `### Response:`) that starts a line of `text`. Looks back
    from each colon to the start of its line: a colon is found at the speed of memchr, where
    the five role words, or a multi-line regex, cost several passes over every text."""
    i = text.find(":")
    while i != -1:
        # a marker's head ends in the last letter of a role word, or in a space or tab
        if i and text[i - 1] in _HEAD_ENDS:
            lo = max(0, i - ROLE_HEAD_MAX)
            start = text.rfind("\n", lo, i) + 1
            if (start or not lo) and ROLE_HEAD_RE.fullmatch(text, start, i):
                return text[start : i + 1]
        i = text.find(":", i + 1)
    return None


@rule("TL601", "template-tokens-in-text", "warning")
def template_tokens_in_text(ex: Example) -> Iterator[Violation]:
    """Chat-template control tokens inside the text of a message or field: `<|im_start|>`, `<|eot_id|>`,
    `[INST]`, `<<SYS>>`, `<start_of_turn>` and the like.

    **Why is this bad?** The text was already rendered with a template and is about to be
    rendered again. Tokenizers may turn the string into the real special token, so the model
    learns to end turns, or start fake ones, in the middle of an answer.
    """
    for turn, at, text in ex.texts():
        hit = _has_control_chars(text) and CONTROL_TOKEN_RE.search(text)
        if hit:
            yield Violation(f"chat-template token {hit.group()!r} inside {_text(turn)}", at)


@rule("TL602", "role-markers-in-text", "warning")
def role_markers_in_text(ex: Example) -> Iterator[Violation]:
    """A line inside the text of a message or field starts with a role marker such as `User:` or `Assistant:`.

    **Why is this bad?** Several turns were pasted into one message (a transcript flattened
    into a string): the model learns to write both sides of the conversation.
    """
    for turn, at, text in ex.texts():
        hit = _role_marker(text)
        if hit:
            yield Violation(f"{_text(turn)} contains a role marker {hit.strip()!r} at the start of a line", at)


@rule("TL603", "assistant-whitespace", "warning", formats=ANSWER_FORMATS, fixable=True)
def assistant_whitespace(ex: Example) -> Iterator[Violation]:
    """Assistant text (a completion, an output) starts or ends with whitespace (spaces,
    newlines).

    **Why is this bad?** The model learns to emit it: answers that begin with a blank line or end
    with trailing spaces, and a weaker end-of-turn signal.

    **Fix safety:** stripping is safe for answers; it is what the data almost always meant.
    """
    for turn in ex.turns():
        c = turn.content
        if turn.role != "assistant" or not isinstance(c, str) or not c.strip() or c == c.strip():
            continue
        where = ("leading and trailing" if c != c.lstrip() and c != c.rstrip()
                 else ("leading" if c != c.lstrip() else "trailing"))
        what = "assistant content" if turn.message is not None else f"`{turn.content_path[-1]}`"
        yield Violation(f"{where} whitespace in {what}", turn.content_path,
                        fix=ReplaceValue(turn.content_path, c.strip(), f"Strip whitespace from {what}"))


@rule("TL604", "placeholder-text", "warning")
def placeholder_text(ex: Example) -> Iterator[Violation]:
    """A message's (or a field's) text is a placeholder: `TODO`, `TBD`, `N/A`, `...`, lorem ipsum, an
    unrendered template variable like `{{answer}}` or `[INSERT ...]`.

    **Why is this bad?** A generation or templating step failed and the placeholder is about to
    be taught as the answer.
    """
    for turn, at, text in ex.texts():
        # a whole-text placeholder is short (stripping a long text only to measure it costs)
        t = text.strip() if len(text) <= 40 or text[0].isspace() or text[-1].isspace() else text
        if len(t) <= 40 and (t.lower() in PLACEHOLDER_WHOLE or TEMPLATE_VAR_RE.match(t)):
            yield Violation(f"{_text(turn)} is a placeholder: {t!r}", at)
            continue
        hit = ("[" in text or "psum" in text or "PSUM" in text) and PLACEHOLDER_RE.search(text)
        if hit:
            yield Violation(f"{_text(turn)} contains a placeholder {hit.group()!r}", at)
