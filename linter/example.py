"""One parsed line: its format and a uniform way for rules to walk its conversations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .profiles import Profile
from .to_chat import SHAREGPT_ROLES

FORMATS = ("chat", "preference", "prompt_completion", "sharegpt", "alpaca", "text")

FORMAT_LABELS = {
    "chat": "chat (messages)",
    "preference": "preference (input / preferred_output / non_preferred_output)",
    "prompt_completion": "prompt/completion",
    "sharegpt": "ShareGPT (conversations with from/value)",
    "alpaca": "Alpaca (instruction/input/output)",
    "text": "plain text",
}


def detect_format(obj: dict) -> str | None:
    """The format a JSON object is written in, judged by its keys; None if none fits."""
    if "messages" in obj:
        return "chat"
    if "input" in obj and ("preferred_output" in obj or "non_preferred_output" in obj):
        return "preference"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "prompt_completion"
    if "text" in obj:
        return "text"
    return None


@dataclass(slots=True)
class Turn:
    """One turn of an example in any format: a message, or a field that plays a role (`prompt`
    is the user's, `completion` the assistant's, `text` nobody's). Read-only by convention (not
    `frozen`, whose `__init__` costs three times as much: every line makes several)."""

    path: tuple  # the message's path; () for a field of the example
    role: str | None
    content: Any  # a string, an array of parts, or whatever the data holds
    content_path: tuple
    message: dict | None  # the message object; None for a field

    def texts(self) -> Iterator[tuple[tuple, str]]:
        """(path, text) of the turn's text, whether a string or an array of parts."""
        c = self.content
        if isinstance(c, str):
            yield self.content_path, c
        elif isinstance(c, list):
            for i, part in enumerate(c):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield self.content_path + (i, "text"), part["text"]

    def parts(self) -> Iterator[tuple[tuple, object]]:
        """(path, part) of each content part, when the content is an array."""
        if isinstance(self.content, list):
            for i, part in enumerate(self.content):
                yield self.content_path + (i,), part


# the fields that play a role in the formats without messages
_FIELD_ROLES = {
    "prompt_completion": (("prompt", "user"), ("completion", "assistant")),
    "text": (("text", None),),
    "alpaca": (("instruction", "user"), ("input", "user"), ("output", "assistant")),
}


@dataclass(slots=True)
class Example:
    obj: dict
    format: str
    profile: Profile
    options: dict[str, Any]
    tokens: Any = None  # ExampleTokens when a tokenizer is configured
    # the line as read (its text or UTF-8 bytes): content rules test it for a cheap sign (an "@",
    # non-ASCII) before they walk the texts
    line: str | bytes = ""
    _conversations: list | None = None
    _messages: list | None = None
    _turns: list | None = None
    _texts: list | None = None
    _scanned: list | None = None  # the content rules' texts with their signs (rules/content.py)

    def conversations(self) -> list[tuple[tuple, list]]:
        """(path, messages) for each message list that rules about messages should read."""
        if self._conversations is None:
            self._conversations = list(self._find_conversations())
        return self._conversations

    def _find_conversations(self) -> Iterator[tuple[tuple, list]]:
        o = self.obj
        if self.format == "chat":
            if isinstance(o.get("messages"), list):
                yield ("messages",), o["messages"]
        elif self.format == "preference":
            inp = o.get("input")
            if isinstance(inp, dict) and isinstance(inp.get("messages"), list):
                yield ("input", "messages"), inp["messages"]
            for key in ("preferred_output", "non_preferred_output"):
                if isinstance(o.get(key), list):
                    yield (key,), o[key]

    def messages(self) -> list[tuple[tuple, dict]]:
        """(path, message) for every message that is a JSON object. Computed once: every rule
        about messages walks this list."""
        if self._messages is None:
            self._messages = [(path + (i,), m) for path, msgs in self.conversations()
                              for i, m in enumerate(msgs) if isinstance(m, dict)]
        return self._messages

    def turns(self) -> list[Turn]:
        """Every turn the example carries, in every format: its messages (chat, preference input
        and outputs), `prompt` and `completion`, `text`, Alpaca's fields, ShareGPT's turns. The
        one walk for rules that read a turn's role and content whatever the format."""
        if self._turns is None:
            self._turns = list(self._find_turns())
        return self._turns

    def texts(self) -> list[tuple[Turn, tuple, str]]:
        """(turn, path, text) for every text of every turn (`Turn.texts`), in order. Computed
        once: the rules that read every text walk this list."""
        if self._texts is None:
            self._texts = [(turn, at, text) for turn in self.turns() for at, text in turn.texts()]
        return self._texts

    def _find_turns(self) -> Iterator[Turn]:
        o, fmt = self.obj, self.format
        if fmt in ("chat", "preference"):
            for path, m in self.messages():
                role = m.get("role")
                yield Turn(path, role if isinstance(role, str) else None, m.get("content"), path + ("content",), m)
        elif fmt in _FIELD_ROLES:
            for key, role in _FIELD_ROLES[fmt]:
                if key in o:
                    yield Turn((), role, o[key], (key,), None)
        elif fmt == "sharegpt" and isinstance(o.get("conversations"), list):
            for i, t in enumerate(o["conversations"]):
                if isinstance(t, dict):
                    path = ("conversations", i)
                    yield Turn(path, SHAREGPT_ROLES.get(t.get("from")), t.get("value"), path + ("value",), None)

    @property
    def chat(self) -> list:
        """The main conversation: `messages` for chat; the input messages for preference."""
        o = self.obj
        if self.format == "chat":
            m = o.get("messages")
        else:
            inp = o.get("input")
            m = inp.get("messages") if isinstance(inp, dict) else None
        return m if isinstance(m, list) else []


def text_parts(message: dict) -> Iterator[tuple[tuple, str]]:
    """(relative path, text) for the message's content, whether a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        yield ("content",), content
    elif isinstance(content, list):
        for i, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield ("content", i, "text"), part["text"]


def content_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(t for _, t in text_parts(message))
