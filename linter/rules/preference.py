"""TL5xx: preference (DPO) examples: input / preferred_output / non_preferred_output."""

from __future__ import annotations

from collections.abc import Iterator

from ..example import Example, content_text
from ..registry import rule
from ..violation import Violation


@rule("TL501", "preference-input-shape", "error", formats={"preference"})
def preference_input_shape(ex: Example) -> Iterator[Violation]:
    """`input` must be `{"messages": [...]}` ending before an assistant turn (its last message
    is the user's).

    **Why is this bad?** The preferred and non-preferred outputs are two candidate next
    assistant turns; an input that already ends with an answer makes the pair meaningless.
    """
    inp = ex.obj.get("input")
    if not isinstance(inp, dict) or not isinstance(inp.get("messages"), list) or not inp["messages"]:
        yield Violation('`input` must be an object with a non-empty `messages` array', ("input",))
        return
    last = inp["messages"][-1]
    if isinstance(last, dict) and last.get("role") == "assistant":
        yield Violation("`input` ends with an assistant message; it must end before the assistant turn",
                        ("input", "messages", len(inp["messages"]) - 1, "role"))


@rule("TL502", "preference-output-shape", "error", formats={"preference"})
def preference_output_shape(ex: Example) -> Iterator[Violation]:
    """`preferred_output` and `non_preferred_output` must each be an array holding exactly one
    assistant message.
    """
    for key in ("preferred_output", "non_preferred_output"):
        out = ex.obj.get(key)
        if key not in ex.obj:
            yield Violation(f"`{key}` is missing", ())
            continue
        if not isinstance(out, list):
            yield Violation(f"`{key}` must be an array with one assistant message", (key,))
            continue
        if len(out) != 1:
            yield Violation(f"`{key}` has {len(out)} messages; it must have exactly one", (key,))
        elif isinstance(out[0], dict) and out[0].get("role") != "assistant":
            yield Violation(f"`{key}` must be an assistant message, not {out[0].get('role')!r}", (key, 0, "role"))


@rule("TL503", "identical-preference-outputs", "warning", formats={"preference"})
def identical_preference_outputs(ex: Example) -> Iterator[Violation]:
    """The preferred and non-preferred outputs are the same text.

    **Why is this bad?** The pair carries no preference signal; DPO gets a zero gradient from it.
    """
    a, b = ex.obj.get("preferred_output"), ex.obj.get("non_preferred_output")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) == 1:
        if isinstance(a[0], dict) and isinstance(b[0], dict) and _said(a[0]) == _said(b[0]):
            yield Violation("preferred and non-preferred outputs are identical", ("non_preferred_output",))


def _said(m: dict) -> tuple:
    """What an output message says: its text, and the functions it calls with their arguments
    (two outputs that differ only in a call's arguments are a real preference)."""
    calls = m.get("tool_calls")
    if isinstance(calls, list):
        calls = [c.get("function") if isinstance(c, dict) else c for c in calls]
    return content_text(m).strip(), calls
