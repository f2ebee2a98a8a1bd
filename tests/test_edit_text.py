"""Edit message as text without a server: any text written back as a JSON string gives a line
that parses and holds exactly that text, with nothing else changed; tool-call arguments go back
compact; the value under the cursor is the one offered, in every format."""

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunelint.server import edit_text as et
from tunelint.server.runs import RunRefused

LINE = json.dumps({"messages": [
    {"role": "user", "content": "Hi \"you\"\n😀"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
    {"role": "assistant", "content": [{"type": "text", "text": "part"}]},
]}, ensure_ascii=False)


def write(line: str, path: tuple, kind: str, text: str) -> str:
    start, end, raw = et.value_span(line, path)
    return line[:start] + et.new_literal(raw, kind, text) + line[end:]


# every code point but lone surrogates (a JSON text's string holds them only escaped), plus them
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_any_text_written_back_parses_to_exactly_that_text(text):
    new = write(LINE, ("messages", 0, "content"), "text", text)
    assert "\n" not in new and "\r" not in new and "\u2028" not in new
    obj = json.loads(new)
    assert obj["messages"][0]["content"] == text
    want = json.loads(LINE)
    want["messages"][0]["content"] = text
    assert obj == want
    opened, _ = et.opened_text(et.value_span(new, ("messages", 0, "content"))[2], "text")
    assert opened == text
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert orjson.loads(new)["messages"][0]["content"] == text  # valid UTF-8 JSON too


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=8))
def test_arguments_go_back_as_compact_json(value):
    path = ("messages", 1, "tool_calls", 0, "function", "arguments")
    new = write(LINE, path, "arguments", json.dumps(value, indent=2))
    args = json.loads(new)["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == value
    assert args == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_arguments_that_do_not_parse_are_refused():
    path = ("messages", 1, "tool_calls", 0, "function", "arguments")
    with pytest.raises(RunRefused, match="not valid JSON"):
        write(LINE, path, "arguments", "{oops")


@pytest.mark.parametrize(("obj", "needle", "path", "kind"), [
    ({"messages": [{"role": "user", "content": "find me"}]}, "find", ("messages", 0, "content"), "text"),
    (json.loads(LINE), "part", ("messages", 2, "content", 0, "text"), "text"),
    (json.loads(LINE), "\\\"a", ("messages", 1, "tool_calls", 0, "function", "arguments"), "arguments"),
    ({"conversations": [{"from": "gpt", "value": "find me"}]}, "find", ("conversations", 0, "value"), "text"),
    ({"instruction": "x", "input": "find me", "output": "y"}, "find", ("input",), "text"),
    ({"prompt": "find me", "completion": "y"}, "find", ("prompt",), "text"),
    ({"input": {"messages": [{"role": "user", "content": "x"}]},
      "preferred_output": [{"role": "assistant", "content": "find me"}]}, "find", ("preferred_output", 0, "content"),
     "text"),
])
def test_the_value_under_the_cursor_is_offered(obj, needle, path, kind):
    line = json.dumps(obj)
    assert et.editable_at(line, line.index(needle)) == (path, kind)


def test_no_edit_is_offered_on_roles_or_broken_lines():
    line = json.dumps({"messages": [{"role": "user", "content": "x"}]})
    assert et.editable_at(line, line.index("user")) is None
    assert et.editable_at('{"messages": [', 3) is None
