"""TL7xx: token counts against the limit, with the real o200k_base encoding (offline)."""

from __future__ import annotations

import json

import pytest

from tunelint.linter.settings import Settings
from tunelint.linter.tokens import make_counter

from ._lint import (
    FAST,
    assert_at,
    assistant,
    call,
    chat,
    codes,
    dumps,
    key_span,
    none,
    one,
    span,
    tool_answer,
    user,
    whole_line,
)

ANSWER = assistant("Paris is the capital and largest city of France.")
MSGS = [user(), ANSWER]


@pytest.fixture(scope="module")
def counted():
    """Token positions of MSGS, as the linter counts them."""
    return make_counter("o200k_base").count_messages(MSGS)


def limit(n: int, **kw) -> Settings:
    return Settings(tokenizer="o200k_base", max_tokens=n, **kw)


# -- TL701 too-many-tokens ---------------------------------------------------------------------


def test_example_over_max_tokens_is_too_many_tokens_on_the_whole_line(counted):
    line = chat(*MSGS)
    f = one(line, "TL701", limit(counted.total - 1))
    assert_at(f, 1, whole_line(line))
    assert f.message == f"{counted.total} tokens, over the limit of {counted.total - 1} (o200k_base)"


def test_example_at_max_tokens_is_not_too_many_tokens(counted):
    none(chat(*MSGS), "TL701", limit(counted.total))


def test_default_limit_is_the_profiles():
    line = chat(user("word " * 5000), assistant("ok"))
    assert "over the limit of 4096" in one(line, "TL701", Settings(profile="hf")).message
    none(line, "TL701", Settings(profile="openai"))


def test_preference_example_over_max_tokens_is_too_many_tokens():
    line = dumps({"input": {"messages": [user()]}, "preferred_output": [ANSWER],
                  "non_preferred_output": [assistant("Lyon.")]})
    assert_at(one(line, "TL701", limit(10)), 1, whole_line(line))


@pytest.mark.parametrize("obj", [
    {"prompt": "Summarise: " + "word " * 60, "completion": "Words."},
    {"text": "word " * 60},
])
def test_non_chat_example_over_max_tokens_is_too_many_tokens(obj):
    line = dumps(obj)
    assert_at(one(line, "TL701", limit(20, profile="together")), 1, whole_line(line))


def test_no_token_rules_without_a_tokenizer():
    line = chat(user("word " * 5000), assistant(""))
    assert not {c for c in codes(line, Settings(tokenizer=None, profile="hf")) if c.startswith("TL7")}


# -- TL702 no-trainable-tokens -----------------------------------------------------------------


def test_empty_trained_assistant_turn_is_no_trainable_tokens_at_messages_key():
    line = chat(user(), assistant(""))
    f = one(line, "TL702", limit(4096))
    assert_at(f, 1, key_span(line, "messages"))


def test_assistant_turn_with_text_has_trainable_tokens():
    none(chat(user(), assistant("Paris.")), "TL702", limit(4096))


def test_tool_call_only_assistant_turns_are_not_no_trainable_tokens():
    line = chat(user(), assistant(None, tool_calls=[call()]))
    none(line, "TL702", limit(4096))


def test_untrained_assistant_turns_are_left_to_no_trainable_assistant():
    line = chat(user(), assistant("", weight=0))
    none(line, "TL702", limit(4096))
    assert "TL201" in codes(line, limit(4096))


# -- TL703 answer-truncated --------------------------------------------------------------------


def test_limit_inside_the_last_answer_is_answer_truncated_at_that_message(counted):
    cut = counted.last_assistant_start + 2
    line = chat(*MSGS)
    f = one(line, "TL703", limit(cut))
    assert_at(f, 1, span(line, dumps(ANSWER)))
    kept, size = 2, counted.last_assistant_end - counted.last_assistant_start
    assert f"{kept} of {size} tokens kept" in f.message


def test_limit_before_the_last_answer_starts_is_answer_cut_entirely(counted):
    line = chat(*MSGS)
    f = one(line, "TL703", limit(counted.last_assistant_start))
    assert "cut entirely" in f.message


def test_truncation_is_reported_at_the_last_trained_answer_not_an_untrained_one():
    msgs = [user(), ANSWER, user("And Spain?"), assistant("Madrid.", weight=0)]
    line = chat(*msgs)
    c = make_counter("o200k_base").count_messages(msgs)
    f = one(line, "TL703", limit(c.last_assistant_end - 1))
    assert_at(f, 1, span(line, dumps(ANSWER)))


def test_answer_ending_at_the_limit_is_not_truncated(counted):
    none(chat(*MSGS), "TL703", limit(counted.last_assistant_end))


def test_long_tool_answer_after_the_last_trained_turn_does_not_truncate_it():
    line = chat(user(), ANSWER, assistant(None, tool_calls=[call()], weight=0),
                tool_answer(text=json.dumps(["x"] * 50)), assistant("18 °C.", weight=0))
    none(line, "TL703", limit(40))


def test_token_rules_are_quiet_without_tokenizer():
    none(chat(*MSGS), "TL703", FAST)


def test_limit_inside_a_completion_is_answer_truncated_at_the_completion():
    prompt, completion = "Capital of France?", "Paris is the capital and largest city of France."
    c = make_counter("o200k_base").count_messages([user(prompt), assistant(completion)])
    line = dumps({"prompt": prompt, "completion": completion})
    f = one(line, "TL703", limit(c.last_assistant_start + 2, profile="together"))
    assert_at(f, 1, span(line, json.dumps(completion)))
    assert f"2 of {c.last_assistant_end - c.last_assistant_start} tokens kept" in f.message
    none(line, "TL703", limit(c.last_assistant_end, profile="together"))
