"""TL1xx: the shape of an example and its messages.

Hand-written rather than one big JSON Schema: each rule points at the exact key or value and
says what is wrong in the user's words, and this runs on every line of every file, so it must be
cheap. (jsonschema validates what users supply: tool parameter schemas, see the TL3xx rules.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..example import FORMAT_LABELS, Example
from ..findings import Severity
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
    message that makes tool calls), and must be present on every other message. Where the
    profile takes arrays only from some roles, the others must be strings (Mistral: assistant
    and tool content).

    **Example:** `"content": 42`, `"content": {"text": "..."}`, a user message without `content`.
    """
    list_roles = ex.profile.list_content
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
        if isinstance(c, list) and role in CHAT_ROLES and role not in list_roles:
            yield Violation(f"the {ex.profile.name} profile takes {role} content as a string, not an array of parts",
                            path + ("content",))
            continue
        if isinstance(c, (str, list)):
            continue
        if c is None and role == "assistant":
            continue
        yield Violation(f"`content` must be a string or an array of parts, not {_type_name(c)}", path + ("content",))


@rule("TL106", "unknown-key", "warning", formats={"chat", "preference", "prompt_completion", "text"})
def unknown_key(ex: Example) -> Iterator[Violation]:
    """A key that the profile does not know: on the example, on a preference record's `input`,
    or on a message (or a key of another role's messages: `tool_call_id` on a user message).

    **Why is this bad?** Often a typo (`"contents"`, `"tool_call"`) that means the real field is
    missing; services reject unknown keys or ignore them silently. An error where the target
    refuses them: Together refuses any key on the example but its format's ("Found extra
    column"); tunelint holds a preference record's `input` to its keys too (stricter: Together's
    check does not look inside `input`). On messages Together, Mistral and OpenAI's API ignore
    unknown keys; tunelint warns (stricter), since a misspelt key means the real one is missing.
    """
    profile = ex.profile
    if ex.format not in profile.formats:  # TL109 reports the whole example
        return
    allowed = profile.example_keys.get(ex.format, frozenset())
    sev = Severity.ERROR if profile.unknown_example_keys_refused else None
    for key in ex.obj:
        if key not in allowed:
            yield Violation(f"unknown key {key!r} on the example (the {profile.name} profile accepts "
                            f"{', '.join(sorted(allowed))})", (key,), part="key", severity=sev)
    inp = ex.obj.get("input") if ex.format == "preference" else None
    for key in inp if isinstance(inp, dict) else ():
        if key not in profile.input_keys:
            yield Violation(f"unknown key {key!r} in `input` (the {profile.name} profile accepts "
                            f"{', '.join(sorted(profile.input_keys))})", ("input", key), part="key", severity=sev)
    every = _every_message_key(profile)
    for path, m in ex.messages():
        role = m.get("role")
        own = profile.message_keys.get(role) if isinstance(role, str) else None
        for key in m:
            if key not in every:
                yield Violation(f"unknown key {key!r} on a message", path + (key,), part="key")
            elif own is not None and key not in own and key not in _OWN_RULE:
                yield Violation(f"the {profile.name} profile does not take {key!r} on a {role} message",
                                path + (key,), part="key")


# keys whose misplacement another rule reports: weight (TL108), tool_calls (TL302)
_OWN_RULE = frozenset({"weight", "tool_calls"})


def _every_message_key(profile) -> frozenset[str]:
    return frozenset().union(*profile.message_keys.values())


@rule("TL107", "invalid-name", "error", formats={"chat", "preference"})
def invalid_name(ex: Example) -> Iterator[Violation]:
    """A message's `name` must be a string of letters, digits, `_` or `-`, at most 64 long.

    **Why is this bad?** Chat APIs and templates refuse or mangle other names; spaces are the
    common mistake. OpenAI's fine-tuning spec states this pattern for function names and none
    for message names: tunelint holds message names to it too (stricter), so that the name
    survives every template.
    """
    for path, m in ex.messages():
        if "name" in m and m.get("role") != "tool":
            name = m["name"]
            if not isinstance(name, str) or not NAME_RE.match(name):
                yield Violation(f"`name` {name!r} must match ^[a-zA-Z0-9_-]{{1,64}}$", path + ("name",))


@rule("TL108", "invalid-weight", "error", formats={"chat", "preference"})
def invalid_weight(ex: Example) -> Iterator[Violation]:
    """`weight` must be 0 or 1, on a message of a role the profile weights: assistant messages
    for OpenAI, Mistral and `tunelint train`, any message for Together.

    **Why is this bad?** `weight` says whether to train on a turn. Where the target does not
    read it, it has no meaning; `0.5`, `true` or `"1"` are refused. Per profile: OpenAI's schema
    says integer (`1.0` refused, stricter than a JSON reader would be: whether OpenAI takes it is
    not stated), Together refuses `1.0` and a non-zero weight on a message with images, OpenAI's
    preference outputs take no `weight`; Mistral reads `1.0`. `true` is refused everywhere
    (Together's and Mistral's Python checks let it through only because a bool is an int there).
    """
    rule = ex.profile.weight
    name = ex.profile.name
    for path, m in ex.messages():
        if "weight" not in m:
            continue
        w = m["weight"]
        at = path + ("weight",)
        role = m.get("role")
        if rule is None:
            yield Violation(f"the {name} profile does not accept `weight`", at, part="key")
        elif path[0] != "input" and ex.format == "preference" and not rule.outputs:
            yield Violation(f"the {name} profile takes no `weight` on {path[0]}", at, part="key")
        elif role not in rule.roles:
            where = ("assistant messages" if rule.roles == {"assistant"}
                     else "messages of " + ", ".join(sorted(rule.roles)))
            yield Violation(f"`weight` is only allowed on {where}, not on {role!r} (the {name} profile)", at,
                            part="key")
        elif isinstance(w, bool) or not isinstance(w, (int, float)) or w not in (0, 1):
            yield Violation(f"`weight` must be 0 or 1, not {w!r}", at)
        elif isinstance(w, float) and not rule.floats:
            yield Violation(f"`weight` must be the integer {int(w)}, not {w!r} (the {name} profile refuses floats)",
                            at)
        elif w and not rule.with_images and _has_image(m):
            yield Violation(f"a message with images must have weight 0 under the {name} profile", at)


def _has_image(m: dict) -> bool:
    c = m.get("content")
    return isinstance(c, list) and any(isinstance(p, dict) and p.get("type") == "image_url" for p in c)


@rule("TL109", "format-not-supported", "error")
def format_not_supported(ex: Example) -> Iterator[Violation]:
    """The example's format is not one the profile trains on.

    **Why is this bad?** e.g. OpenAI fine-tuning takes chat and preference data only; ShareGPT
    and Alpaca must be converted (`tunelint convert`). `tunelint train` (the `hf` profile)
    converts ShareGPT and Alpaca itself as it loads them; tunelint still asks for the converted
    file (stricter), so that the file checked is the file trained on.
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
    (`prompt`/`completion`, `instruction`/`output`, `text`, ShareGPT `from`/`value`). Where the
    profile takes content parts there (Together), `prompt` and `completion` may be arrays of
    parts. `text` is a string under every profile (Together's check happens to take parts
    there too, undocumented: tunelint is stricter).
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
        if isinstance(v, list) and ex.format == "prompt_completion" and ex.profile.parts_in_fields:
            if not v:
                yield Violation(f"`{key}` is an empty array", (key,))
            continue  # an array of content parts: TL4xx check the parts
        if not isinstance(v, str):
            yield Violation(f"`{key}` must be a string, not {_type_name(v)}", (key,))
        elif not v.strip():
            yield Violation(f"`{key}` is empty", (key,))
    if ex.format == "alpaca" and "input" in o and not isinstance(o["input"], str):
        yield Violation("`input` must be a string", ("input",))
