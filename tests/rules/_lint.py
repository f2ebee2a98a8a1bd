"""Helpers shared by the per-rule tests: lint a document, pick findings by code, compute the
exact 1-based span of a key or value in a line we wrote, apply a finding's fix."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from tunelint.linter.engine import FileReport, Linter
from tunelint.linter.findings import Finding
from tunelint.linter.fix import apply_to_text
from tunelint.linter.settings import Settings

FAST = Settings(tokenizer=None)
_LINTER = Linter(use_cache=False, jobs=1)


def dumps(obj: object) -> str:
    """One JSONL line, written the usual way (", " and ": " separators, ASCII escapes)."""
    return json.dumps(obj)


def lint(text: str, settings: Settings = FAST, path: str = "train.jsonl") -> FileReport:
    if not text.endswith("\n") and text:
        text += "\n"
    return _LINTER.lint_text(text, path, settings)


def lint_files(paths: Iterable[Path | str], settings: Settings = FAST) -> list[FileReport]:
    return _LINTER.lint_paths([str(p) for p in paths], lambda p: settings)


def findings(text: str, code: str, settings: Settings = FAST) -> list[Finding]:
    return [f for f in lint(text, settings).findings if f.code == code]


def codes(text: str, settings: Settings = FAST) -> set[str]:
    return {f.code for f in lint(text, settings).findings}


def one(text: str, code: str, settings: Settings = FAST) -> Finding:
    """The single finding with `code`; fails if there is none or several."""
    found = findings(text, code, settings)
    got = [(f.line, f.column, f.message) for f in found]
    assert len(found) == 1, f"expected one {code}, got {got}"
    return found[0]


def none(text: str, code: str, settings: Settings = FAST) -> None:
    found = findings(text, code, settings)
    assert not found, f"{code} must not fire, got {[(f.line, f.column, f.message) for f in found]}"


def span(line: str, needle: str, nth: int = 0, after: str | None = None) -> tuple[int, int]:
    """1-based (column, end_column) of the `nth` occurrence of `needle` in `line` (after the
    first occurrence of `after`, when given); end exclusive, like Finding."""
    i = line.index(after) if after is not None else 0
    i = line.index(needle, i)
    for _ in range(nth):
        i = line.index(needle, i + 1)
    return i + 1, i + 1 + len(needle)


def key_span(line: str, key: str, nth: int = 0, after: str | None = None) -> tuple[int, int]:
    """Span of a key written as `"key":` (the quoted key, without the colon)."""
    start, _ = span(line, json.dumps(key) + ":", nth, after)
    return start, start + len(json.dumps(key))


def assert_at(f: Finding, line_no: int, cols: tuple[int, int]) -> None:
    where = (f.line, f.column, f.end_line, f.end_column)
    assert where == (line_no, cols[0], line_no, cols[1]), (
        f"{f.code} at {f.line}:{f.column}-{f.end_column}, "
        f"expected {line_no}:{cols[0]}-{cols[1]} ({f.message})")


def whole_line(line: str) -> tuple[int, int]:
    return 1, len(line) + 1


def fixed(text: str, finding: Finding) -> str:
    """The text with `finding`'s fix applied."""
    assert finding.fix is not None, f"{finding.code} has no fix"
    out, n = apply_to_text(text, [finding])
    assert n == 1
    return out


def parses(text: str) -> list[object]:
    """Every non-empty line parses as JSON; returns the values."""
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


# -- building blocks ---------------------------------------------------------------------------

def user(text: str = "What is the capital of France?", **kw) -> dict:
    return {"role": "user", "content": text, **kw}


def assistant(text: str | None = "Paris.", **kw) -> dict:
    return {"role": "assistant", "content": text, **kw}


def system(text: str = "You are a geography tutor.", **kw) -> dict:
    return {"role": "system", "content": text, **kw}


def chat(*messages: dict, **extra) -> str:
    """A chat example line; with no messages, a valid user/assistant pair."""
    return dumps({"messages": list(messages) or [user(), assistant()], **extra})


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["C", "F"]},
            },
            "required": ["city"],
        },
    },
}


def call(cid: str = "call_1", name: str = "get_weather",
         arguments: object = '{"city": "Paris"}') -> dict:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_answer(cid: str = "call_1", text: str = '{"temp_c": 18}') -> dict:
    return {"role": "tool", "tool_call_id": cid, "content": text}


def tool_chat(*calls: dict, answers: list[dict] | None = None, tools: object = None,
              final: bool = True) -> str:
    """user → assistant(tool_calls) → a tool answer per call → assistant, with the weather tool
    declared (unless `tools` says otherwise)."""
    calls = calls or (call(),)
    msgs = [user("Weather in Paris?"), assistant(None, tool_calls=list(calls))]
    if answers is None:
        answers = [tool_answer(c["id"]) for c in calls if isinstance(c, dict) and "id" in c]
    msgs += answers
    if final:
        msgs.append(assistant("It is 18 °C in Paris."))
    return dumps({"messages": msgs, "tools": tools if tools is not None else [WEATHER_TOOL]})
