"""TL1xx: the shape of an example and its messages.

Hand-written rather than one big JSON Schema: each rule points at the exact key or value and
says what is wrong in the user's words, and this runs on every line of every file, so it must be
cheap. (jsonschema validates what users supply: tool parameter schemas, see the TL3xx rules.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..example import FORMAT_LABELS, Example
from ..registry import rule
from ..violation import Violation

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _type_name(v: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null", int: "a number", float: "a number"}.get(type(v), type(v).__name__)


@rule("TL101", "messages-not-list", "error", formats={"chat"})
def messages_not_list(ex: Example) -> Iterator[Violation]:
    """`messages` must be a non-empty array.

    **Why is this bad?** A chat example is a list of turns; anything else is rejected.

    **Example:** `{"messages": {"role": "user", ...}}` (an object instead of an array),
    `{"messages": []}`.
    """
    m = ex.obj.get("messages")
    if not isinstance(m, list):
        yield Violation(f"`messages` must be an array of messages, not {_type_name(m)}", ("messages",))
    elif not m:
        yield Violation("`messages` is empty: an example needs at least one turn", ("messages",))


@rule("TL102", "message-not-object", "error", formats={"chat", "preference"})
def message_not_object(ex: Example) -> Iterator[Violation]:
    """Each message must be a JSON object with a `role`.

    **Example:** `"messages": ["Hi", "Hello!"]` (strings instead of objects).
    """
    for path, msgs in ex.conversations():
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                yield Violation(f"message {i} is {_type_name(m)}, expected an object with `role` and `content`",
                                path + (i,))


@rule("TL103", "missing-role", "error", formats={"chat", "preference"})
def missing_role(ex: Example) -> Iterator[Violation]:
    """A message has no `role`, or the role is not a string.

    **Why is this bad?** Without a role the trainer cannot tell prompt from answer.
    """
    for path, m in ex.messages():
        if "role" not in m:
            hint = " (ShareGPT uses `from`; run `tunelint convert`)" if "from" in m else ""
            yield Violation(f"message has no `role`{hint}", path)
        elif not isinstance(m["role"], str):
            yield Violation(f"`role` must be a string, not {_type_name(m['role'])}", path + ("role",))


@rule("TL104", "invalid-role", "error", formats={"chat", "preference"})
def invalid_role(ex: Example) -> Iterator[Violation]:
    """The role is not one of system, developer, user, assistant, tool (or legacy function), or
    the profile does not accept it.

    **Why is this bad?** Unknown roles are rejected on upload, or silently dropped by chat
    templates. `human`, `gpt`, `bot` come from other formats; roles are lower case.
    """
    allowed = ex.profile.roles
    for path, m in ex.messages():
        role = m.get("role")
        if not isinstance(role, str):
            continue
        if role not in CHAT_ROLES:
            fix = None
            guess = {"human": "user", "gpt": "assistant", "bot": "assistant", "model": "assistant",
                     "ai": "assistant", "User": "user", "Assistant": "assistant", "System": "system"}.get(role)
            if guess is None and role.lower() in CHAT_ROLES:
                guess = role.lower()
            msg = f"unknown role {role!r}; expected one of {', '.join(sorted(allowed))}"
            if guess:
                msg += f" (did you mean {guess!r}?)"
                from ..violation import ReplaceValue

                fix = ReplaceValue(path + ("role",), guess, f"Replace role with {guess!r}", safe=False)
            yield Violation(msg, path + ("role",), fix=fix)
        elif role not in allowed:
            yield Violation(f"role {role!r} is not accepted by the {ex.profile.name} profile", path + ("role",))


@rule("TL105", "invalid-content", "error", formats={"chat", "preference"})
def invalid_content(ex: Example) -> Iterator[Violation]:
    """`content` must be a string or an array of content parts (null only for an assistant
    message that makes tool calls), and must be present on every other message.

    **Example:** `"content": 42`, `"content": {"text": "..."}`, a user message without `content`.
    """
    for path, m in ex.messages():
        role = m.get("role")
        if "content" not in m:
            if role == "assistant" and (m.get("tool_calls") or m.get("function_call")):
                continue
            if role == "assistant":
                continue  # TL206 says it better
            yield Violation("message has no `content`", path)
            continue
        c = m["content"]
        if isinstance(c, (str, list)):
            continue
        if c is None and role == "assistant":
            continue
        yield Violation(f"`content` must be a string or an array of parts, not {_type_name(c)}", path + ("content",))


@rule("TL106", "unknown-key", "warning", formats={"chat", "preference"})
def unknown_key(ex: Example) -> Iterator[Violation]:
    """A key that the profile does not know, on the example or on a message.

    **Why is this bad?** Often a typo (`"contents"`, `"tool_call"`) that means the real field is
    missing; services reject unknown keys or ignore them silently.
    """
    allowed = ex.profile.example_keys
    supported = ex.format in ex.profile.formats  # else TL109 reports the whole example
    for key in ex.obj if supported else ():
        if key not in allowed:
            yield Violation(f"unknown key {key!r} on the example (the {ex.profile.name} profile accepts: "
                            f"{', '.join(sorted(k for k in allowed if k in _SHOWN_KEYS[ex.format]))})",
                            (key,), part="key")
    mkeys = ex.profile.message_keys
    for path, m in ex.messages():
        for key in m:
            if key not in mkeys:
                yield Violation(f"unknown key {key!r} on a message", path + (key,), part="key")


_SHOWN_KEYS = {
    "chat": {"messages", "tools", "functions", "parallel_tool_calls"},
    "preference": {"input", "preferred_output", "non_preferred_output"},
}


@rule("TL107", "invalid-name", "error", formats={"chat", "preference"})
def invalid_name(ex: Example) -> Iterator[Violation]:
    """A message's `name` must be a string of letters, digits, `_` or `-`, at most 64 long.

    **Why is this bad?** OpenAI rejects other names; spaces are the common mistake.
    """
    for path, m in ex.messages():
        if "name" in m and m.get("role") != "tool":
            name = m["name"]
            if not isinstance(name, str) or not NAME_RE.match(name):
                yield Violation(f"`name` {name!r} must match ^[a-zA-Z0-9_-]{{1,64}}$", path + ("name",))


@rule("TL108", "invalid-weight", "error", formats={"chat"})
def invalid_weight(ex: Example) -> Iterator[Violation]:
    """`weight` may appear only on assistant messages and must be 0 or 1.

    **Why is this bad?** `weight` says whether to train on an assistant turn. On another role it
    has no meaning and is rejected; `0.5`, `true` or `"1"` are rejected too.
    """
    for path, m in ex.messages():
        if "weight" not in m:
            continue
        w = m["weight"]
        if not ex.profile.allow_weight:
            yield Violation(f"the {ex.profile.name} profile does not accept `weight`", path + ("weight",), part="key")
        elif m.get("role") != "assistant":
            yield Violation(f"`weight` is only allowed on assistant messages, not {m.get('role')!r}",
                            path + ("weight",), part="key")
        elif isinstance(w, bool) or w not in (0, 1):
            yield Violation(f"`weight` must be 0 or 1, not {w!r}", path + ("weight",))


@rule("TL109", "format-not-supported", "error")
def format_not_supported(ex: Example) -> Iterator[Violation]:
    """The example's format is not one the profile trains on.

    **Why is this bad?** e.g. OpenAI fine-tuning takes chat and preference data only; ShareGPT
    and Alpaca must be converted (`tunelint convert`).
    """
    if ex.format not in ex.profile.formats:
        yield Violation(f"{FORMAT_LABELS[ex.format]} is not accepted by the {ex.profile.name} profile"
                        + (" (run `tunelint convert` to write chat format)"
                           if ex.format in ("sharegpt", "alpaca") else ""),
                        (), part="value")


_FIELDS = {
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
    "text": ("text",),
}


@rule("TL110", "invalid-field", "error", formats={"prompt_completion", "alpaca", "text", "sharegpt"})
def invalid_field(ex: Example) -> Iterator[Violation]:
    """A required text field of a non-chat format is missing, not a string, or empty
    (`prompt`/`completion`, `instruction`/`output`, `text`, ShareGPT `from`/`value`).
    """
    o = ex.obj
    if ex.format == "sharegpt":
        conv = o.get("conversations")
        if not isinstance(conv, list) or not conv:
            yield Violation("`conversations` must be a non-empty array", ("conversations",))
            return
        for i, turn in enumerate(conv):
            p = ("conversations", i)
            if not isinstance(turn, dict):
                yield Violation("each turn must be an object with `from` and `value`", p)
                continue
            if turn.get("from") not in ("system", "human", "user", "gpt", "assistant", "tool", "function_call",
                                        "observation"):
                yield Violation(f"unknown speaker `from`: {turn.get('from')!r}", p + ("from",))
            if not isinstance(turn.get("value"), str):
                yield Violation("`value` must be a string", p + ("value",) if "value" in turn else p)
        return
    for key in _FIELDS[ex.format]:
        v = o.get(key)
        if not isinstance(v, str):
            yield Violation(f"`{key}` must be a string, not {_type_name(v)}", (key,))
        elif not v.strip():
            yield Violation(f"`{key}` is empty", (key,))
    if ex.format == "alpaca" and "input" in o and not isinstance(o["input"], str):
        yield Violation("`input` must be a string", ("input",))
