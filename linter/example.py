"""One parsed line: its format and a uniform way for rules to walk its conversations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .profiles import Profile

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
class Example:
    obj: dict
    format: str
    profile: Profile
    options: dict[str, Any]
    tokens: Any = None  # ExampleTokens when a tokenizer is configured
    _conversations: list | None = None
    _messages: list | None = None

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
