"""TL2xx: the structure of a conversation."""

from __future__ import annotations

from collections.abc import Iterator

from ..example import Example, text_parts
from ..findings import Severity
from ..registry import rule
from ..violation import Violation

KNOWN_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def unknown_role(msgs: list) -> bool:
    """Structure rules stay quiet when a role is unknown: TL104 names it, and guessing what the
    conversation would be with the right role only adds noise."""
    return any(isinstance(m, dict) and m.get("role") not in KNOWN_ROLES for m in msgs)


def trained(m: dict) -> bool:
    return m.get("role") == "assistant" and m.get("weight", 1) != 0


@rule("TL201", "no-trainable-assistant", "error", formats={"chat"})
def no_trainable_assistant(ex: Example) -> Iterator[Violation]:
    """The example has no assistant message that is trained on.

    **Why is this bad?** Fine-tuning learns only from assistant turns. With none, or with every
    assistant turn at `weight: 0`, the example costs tokens and teaches nothing.
    """
    msgs = [m for m in ex.chat if isinstance(m, dict)]
    if not msgs:
        return
    assistants = [m for m in msgs if m.get("role") == "assistant"]
    if not assistants and unknown_role(msgs):
        return
    if not assistants:
        yield Violation("no assistant message: the example teaches nothing", ("messages",), part="key")
    elif not any(trained(m) for m in assistants):
        yield Violation("every assistant message has `weight: 0`: the example teaches nothing", ("messages",),
                        part="key")


@rule("TL202", "last-message-not-assistant", "warning", formats={"chat"})
def last_message_not_assistant(ex: Example) -> Iterator[Violation]:
    """The conversation does not end with an assistant message.

    **Why is this bad?** Turns after the last assistant message are never trained on. Mistral
    rejects such examples (an error under the `mistral` profile); elsewhere it is usually a
    truncated conversation or a missing answer.
    """
    msgs = ex.chat
    if not msgs or not isinstance(msgs[-1], dict):
        return
    last = msgs[-1]
    if last.get("role") != "assistant" and any(isinstance(m, dict) and m.get("role") == "assistant" for m in msgs):
        yield Violation(f"the conversation ends with a {last.get('role')!r} message, which is never trained on",
                        ("messages", len(msgs) - 1))


@rule("TL203", "system-not-first", "warning", formats={"chat", "preference"})
def system_not_first(ex: Example) -> Iterator[Violation]:
    """A system or developer message appears after the conversation has started.

    **Why is this bad?** Chat templates put the system prompt first; many (Llama, Mistral)
    raise an error or drop it elsewhere, so the instruction silently disappears.
    """
    msgs = ex.chat
    seen_other = False
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            continue
        if m.get("role") in ("system", "developer"):
            if seen_other:
                yield Violation(f"{m['role']} message at position {i}, after the conversation started",
                                (*_path(ex), i, "role"))
        else:
            seen_other = True


@rule("TL204", "consecutive-same-role", "warning", formats={"chat", "preference"})
def consecutive_same_role(ex: Example) -> Iterator[Violation]:
    """Two user (or two assistant, or two system) messages in a row.

    **Why is this bad?** Templates that require alternating roles (Llama 2, Mistral, Gemma)
    raise an error; others merge the turns. Usually a turn was lost, or one message was split.
    Consecutive tool messages (answers to parallel calls) are fine, and so is an assistant
    message with tool calls followed by another assistant message after the tool answers.
    An error under the `together` profile, whose check refuses it ("conversation roles must
    alternate"); Mistral and OpenAI accept it.
    """
    msgs = ex.chat
    prev, prev_calls = None, False
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            prev = None
            continue
        role = m.get("role")
        calls = bool(m.get("tool_calls") or m.get("function_call"))
        if (role == prev and role in ("user", "assistant", "system")
                and not (role == "assistant" and (calls or prev_calls))):
            yield Violation(f"two {role} messages in a row (positions {i - 1} and {i})", (*_path(ex), i, "role"))
        prev, prev_calls = role, calls


def _path(ex: Example) -> tuple:
    return ("messages",) if ex.format == "chat" else ("input", "messages")


@rule("TL205", "empty-content", "warning", formats={"chat", "preference"})
def empty_content(ex: Example) -> Iterator[Violation]:
    """A message's text is empty or only whitespace.

    **Why is this bad?** An empty user turn is a lost prompt; an empty assistant turn teaches the
    model to answer with nothing (an error for a trained assistant turn).
    """
    for path, m in ex.messages():
        c = m.get("content")
        if m.get("role") == "assistant" and (m.get("tool_calls") or m.get("function_call")):
            continue
        if isinstance(c, str) and not c.strip():
            sev = Severity.ERROR if trained(m) else None
            yield Violation(f"{m.get('role', 'message')} content is {'empty' if not c else 'only whitespace'}",
                            path + ("content",), severity=sev)
        elif isinstance(c, list):
            if not c:
                yield Violation("content is an empty array", path + ("content",))
                continue
            if not any(isinstance(p, dict) and p.get("type") != "text" for p in c) and not any(
                t.strip() for _, t in text_parts(m)
            ):
                yield Violation("every text part is empty", path + ("content",))


@rule("TL206", "assistant-without-content", "error", formats={"chat", "preference"})
def assistant_without_content(ex: Example) -> Iterator[Violation]:
    """An assistant message has neither `content` nor `tool_calls`.

    **Why is this bad?** There is nothing to train on and nothing for the conversation to
    continue from.
    """
    for path, m in ex.messages():
        if (m.get("role") == "assistant" and m.get("content") is None
                and not m.get("tool_calls") and not m.get("function_call")):
            yield Violation("assistant message has neither `content` nor `tool_calls`", path)


@rule("TL207", "no-user-message", "warning", formats={"chat"})
def no_user_message(ex: Example) -> Iterator[Violation]:
    """The conversation has an assistant answer but no user message before it.

    **Why is this bad?** The model learns to produce the answer from the system prompt alone,
    which is rarely what was meant; usually the user turn was lost.
    """
    msgs = [m for m in ex.chat if isinstance(m, dict)]
    roles = [m.get("role") for m in msgs]
    if "assistant" in roles and not unknown_role(msgs):
        first = roles.index("assistant")
        if not any(r in ("user", "tool", "function") for r in roles[:first]):
            yield Violation("no user message before the first assistant answer", ("messages", first))


@rule("TL208", "mixed-content-forms", "error", formats={"chat", "preference"})
def mixed_content_forms(ex: Example) -> Iterator[Violation]:
    """Some messages of one conversation have string content and others an array of parts,
    under a profile that refuses the mix (Together: "Messages in the conversation must be
    either all in multimodal or all in text-only format"). An array of text parts counts as an
    array. Other profiles accept the mix, and this rule says nothing there.

    **Fix:** write every message's content as an array of parts, e.g.
    `[{"type": "text", "text": "..."}]`.
    """
    if ex.profile.mixed_content:
        return
    for path, msgs in ex.conversations():
        first = None
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("content"), (str, list)):
                continue
            is_list = isinstance(m["content"], list)
            if first is None:
                first = (i, is_list)
            elif is_list != first[1]:
                kinds = ("an array of parts", "a string") if first[1] else ("a string", "an array of parts")
                yield Violation(f"message {i}'s content is {kinds[1]}, message {first[0]}'s is {kinds[0]}: the "
                                f"{ex.profile.name} profile takes one form per conversation", path + (i, "content"))
                break


@rule("TL209", "multiple-system-messages", "error", formats={"chat", "preference"})
def multiple_system_messages(ex: Example) -> Iterator[Violation]:
    """More than one system message in a conversation, under a profile that allows one (Mistral:
    "Multiple messages with role 'system' encountered. Only one is allowed."). Other profiles
    accept several, and this rule says nothing there.
    """
    if not ex.profile.single_system:
        return
    for path, msgs in ex.conversations():
        systems = [i for i, m in enumerate(msgs) if isinstance(m, dict) and m.get("role") == "system"]
        for i in systems[1:]:
            yield Violation(f"a second system message (the first is message {systems[0]}); the "
                            f"{ex.profile.name} profile allows one", path + (i, "role"))
