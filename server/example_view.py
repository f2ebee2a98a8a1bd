"""One JSONL line as a conversation: its messages in every format (chat, preference,
prompt/completion, ShareGPT, Alpaca, text) with the JSON path of each editable string (a
message's text, a tool call's arguments), the chat conversation the trainer makes of it, and
where each message's value lies on the line (for mapping diagnostics onto messages).

The one walk that `tunelint/preview` (server/preview.py) and "Edit message as text"
(server/edit_text.py) both read. No LSP types here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson

from tunelint.linter.example import detect_format
from tunelint.linter.to_chat import SHAREGPT_ROLES, ConvertError, to_chat


class NotAnExample(ValueError):
    """The line is not a JSON object in a known format; the message says why (and `column`,
    0-based in the line, where the JSON breaks, for a parse error)."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.column = column


@dataclass
class Entry:
    """One message (or a field that plays a role) as the preview shows it."""

    path: tuple  # the message object's path, or the field's
    role: str | None
    section: str | None = None  # preference: input / preferred / non_preferred; prompt/completion lists
    message: dict | None = None  # the message object (None for a field of the example)
    text: str | None = None  # the text, for a field or a string content
    text_path: tuple | None = None  # the string value to edit as text
    chat_index: int | None = None  # its message in `View.chat` (for token counts), if it has one
    counted_with: str | None = None  # Alpaca's input: counted with the instruction (one user message)
    editable: list[tuple[tuple, str]] = field(default_factory=list)  # (path, "text" | "arguments")


@dataclass
class View:
    obj: dict
    format: str
    entries: list[Entry]
    chat: list  # the conversation the trainer renders (to_chat), [] when none
    tools: list | None
    chat_error: str | None = None  # why the example converts to no conversation
    rejected: list | None = None  # preference: input + non_preferred_output, for its token counts


def strip_line(line: str) -> tuple[str, int]:
    """The line's JSON text without its CR and BOM, and the BOM's offset (0 or 1)."""
    body = line[:-1] if line.endswith("\r") else line
    if body.startswith("\ufeff"):
        return body[1:], 1
    return body, 0


def parse(line: str) -> dict:
    """The line's JSON object, or NotAnExample (with the column of a parse error)."""
    body, bom = strip_line(line)
    if not body.strip():
        raise NotAnExample("this line is empty")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        try:
            json.loads(body)
        except json.JSONDecodeError as exact:  # orjson's message has no column
            raise NotAnExample(f"not valid JSON: {exact.msg} (column {exact.colno + bom})",
                               exact.pos + bom) from None
        except RecursionError:
            pass
        raise NotAnExample(f"not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise NotAnExample(f"this line is a JSON {type(obj).__name__ if obj is not None else 'null'}, "
                           "not an example (a JSON object)")
    return obj


def view(line: str) -> View:
    obj = parse(line)
    fmt = detect_format(obj)
    if fmt is None:
        raise NotAnExample("this line is not an example in a known format (messages, conversations, "
                           "instruction/output, prompt/completion, input/preferred_output, text)")
    tools = obj.get("tools") if isinstance(obj.get("tools"), list) else None
    entries: list[Entry] = []
    chat: list = []
    error = None
    rejected = None
    if fmt == "chat":
        msgs = obj.get("messages")
        if isinstance(msgs, list):
            entries = [_message(("messages", i), m, None, i) for i, m in enumerate(msgs)]
            chat = msgs
        else:
            error = "`messages` is not an array"
    elif fmt == "preference":
        inp = obj.get("input") if isinstance(obj.get("input"), dict) else {}
        tools = inp.get("tools") if isinstance(inp.get("tools"), list) else tools
        prompt = inp.get("messages") if isinstance(inp.get("messages"), list) else []
        entries = [_message(("input", "messages", i), m, "input", i) for i, m in enumerate(prompt)]
        for key, section in (("preferred_output", "preferred"), ("non_preferred_output", "non_preferred")):
            out = obj.get(key)
            if isinstance(out, list):
                entries += [_message((key, i), m, section, len(prompt) + i) for i, m in enumerate(out)]
        pref = obj.get("preferred_output")
        non = obj.get("non_preferred_output")
        chat = [*prompt, *(pref if isinstance(pref, list) else [])]
        rejected = [*prompt, *non] if isinstance(non, list) else None
    elif fmt == "sharegpt":
        n = 0
        if isinstance(obj.get("system"), str) and obj["system"].strip():
            entries.append(_field(("system",), "system", obj["system"], 0))
            n = 1
        conv = obj.get("conversations")
        for i, t in enumerate(conv if isinstance(conv, list) else []):
            if isinstance(t, dict):
                role = SHAREGPT_ROLES.get(t.get("from"), t.get("from") if isinstance(t.get("from"), str) else None)
                e = _field(("conversations", i, "value"), role, t.get("value"), n + i)
                e.path, e.message = ("conversations", i), t
                entries.append(e)
            else:
                entries.append(Entry(("conversations", i), None, text=json.dumps(t, ensure_ascii=False)))
    elif fmt == "alpaca":
        n = 0
        if isinstance(obj.get("system"), str) and obj["system"].strip():
            entries.append(_field(("system",), "system", obj["system"], 0))
            n = 1
        entries.append(_field(("instruction",), "user", obj.get("instruction"), n))
        if "input" in obj:
            e = _field(("input",), "user", obj.get("input"), None)
            e.counted_with = "instruction"
            entries.append(e)
        entries.append(_field(("output",), "assistant", obj.get("output"), n + 1))
    elif fmt == "prompt_completion":
        p, c = obj.get("prompt"), obj.get("completion")
        if isinstance(p, list) or isinstance(c, list):  # TRL's conversational prompt/completion
            k = 0
            for key, value in (("prompt", p), ("completion", c)):
                for i, m in enumerate(value if isinstance(value, list) else []):
                    entries.append(_message((key, i), m, key, k))
                    chat.append(m)
                    k += 1
        else:
            entries = [_field(("prompt",), "user", p, 0), _field(("completion",), "assistant", c, 1)]
    else:  # text
        entries = [_field(("text",), None, obj.get("text"), None)]
    if fmt in ("sharegpt", "alpaca") or (fmt == "prompt_completion" and not chat):
        try:
            chat = to_chat(obj, fmt)["messages"]
        except ConvertError as e:
            error, chat = f"the trainer cannot convert this {fmt} example: {e}", []
            for entry in entries:
                entry.chat_index = None
    return View(obj, fmt, entries, chat, tools, error, rejected)


def _field(path: tuple, role: str | None, value, chat_index: int | None) -> Entry:
    e = Entry(path, role, chat_index=chat_index)
    if isinstance(value, str):
        e.text, e.text_path = value, path
        e.editable.append((path, "text"))
    elif value is not None:
        e.text = json.dumps(value, ensure_ascii=False)
    return e


def _message(path: tuple, m, section: str | None, chat_index: int) -> Entry:
    if not isinstance(m, dict):
        return Entry(path, None, section, text=json.dumps(m, ensure_ascii=False), chat_index=chat_index)
    role = m.get("role")
    e = Entry(path, role if isinstance(role, str) else None, section, m, chat_index=chat_index)
    content = m.get("content")
    if isinstance(content, str):
        e.text, e.text_path = content, path + ("content",)
        e.editable.append((e.text_path, "text"))
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                e.editable.append((path + ("content", i, "text"), "text"))
    for j, call, fn in tool_calls(m):
        if "arguments" in fn:
            e.editable.append((arguments_path(path, j, call, fn), "arguments"))
    return e


def tool_calls(m: dict):
    """(index, call, function) of a message's tool calls: OpenAI's {"function": {"name",
    "arguments"}}, or the name and arguments on the call itself."""
    calls = m.get("tool_calls")
    for j, call in enumerate(calls if isinstance(calls, list) else []):
        if isinstance(call, dict):
            yield j, call, call["function"] if isinstance(call.get("function"), dict) else call


def arguments_path(message_path: tuple, j: int, call: dict, fn: dict) -> tuple:
    return message_path + ("tool_calls", j) + (("function",) if fn is not call else ()) + ("arguments",)


def image_url(part: dict) -> str | None:
    """The image of a content part: OpenAI's image_url.url, or an `image` / `url` string."""
    img = part.get("image_url")
    if isinstance(img, dict) and isinstance(img.get("url"), str):
        return img["url"]
    if isinstance(img, str):
        return img
    for key in ("url", "image"):
        if isinstance(part.get(key), str):
            return part[key]
    return None


def pretty_arguments(value) -> tuple[str, str | None]:
    """A tool call's arguments pretty-printed (a JSON string parsed first), and why they do not
    parse (None when they do)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError as e:
            return value, f"the arguments are not valid JSON: {e}"
        return json.dumps(parsed, indent=2, ensure_ascii=False), None
    return json.dumps(value, indent=2, ensure_ascii=False), None


def trained(entry: Entry) -> bool:
    """Whether the trainer trains this turn: an assistant turn without `weight: 0` (for
    preference data, the preferred output's)."""
    if entry.role != "assistant" or entry.section in ("input", "non_preferred", "prompt"):
        return False
    m = entry.message
    return not (m is not None and m.get("weight", 1) == 0)
