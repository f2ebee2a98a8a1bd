"""TL1xx: the shape of an example and its messages."""

from __future__ import annotations

import json

import pytest

from tunelint.linter.settings import Settings

from ._lint import (
    FAST,
    assert_at,
    assistant,
    chat,
    dumps,
    findings,
    fixed,
    key_span,
    none,
    one,
    parses,
    span,
    system,
    user,
    whole_line,
)

HF = Settings(tokenizer=None, profile="hf")
MISTRAL = Settings(tokenizer=None, profile="mistral")
TOGETHER = Settings(tokenizer=None, profile="together")


def preference(**over) -> str:
    obj = {"input": {"messages": [user()]}, "preferred_output": [assistant()],
           "non_preferred_output": [assistant("Lyon.")]}
    obj.update(over)
    return dumps(obj)


# -- TL101 messages-not-list -------------------------------------------------------------------


def test_messages_as_an_object_is_messages_not_list():
    line = dumps({"messages": {"role": "user", "content": "Hi"}})
    f = one(line, "TL101")
    assert_at(f, 1, span(line, '{"role": "user", "content": "Hi"}'))
    assert "not an object" in f.message


def test_empty_messages_array_is_messages_not_list():
    line = dumps({"messages": []})
    f = one(line, "TL101")
    assert_at(f, 1, span(line, "[]"))
    assert "empty" in f.message


def test_non_empty_messages_array_is_a_list():
    none(chat(), "TL101")


# -- TL102 message-not-object ------------------------------------------------------------------


def test_string_message_is_message_not_object():
    line = dumps({"messages": ["Hi", assistant()]})
    f = one(line, "TL102")
    assert_at(f, 1, span(line, '"Hi"'))
    assert "message 0 is a string" in f.message


def test_non_object_message_in_preference_output_is_message_not_object():
    line = preference(preferred_output=["Paris."])
    assert_at(one(line, "TL102"), 1, span(line, '"Paris."'))


def test_object_messages_are_not_message_not_object():
    none(chat(system(), user(), assistant()), "TL102")


# -- TL103 missing-role ------------------------------------------------------------------------


def test_message_without_role_is_missing_role_with_sharegpt_hint():
    msg = {"from": "human", "value": "Hi"}
    line = chat(msg, assistant())
    f = one(line, "TL103")
    assert_at(f, 1, span(line, json.dumps(msg)))
    assert "`from`" in f.message


def test_numeric_role_is_missing_role_at_the_value():
    line = chat({"role": 1, "content": "Hi"}, assistant())
    f = one(line, "TL103")
    assert_at(f, 1, span(line, "1", after='"role": '))
    assert "not a number" in f.message


def test_message_with_string_role_is_not_missing_role():
    none(chat(system(), user(), assistant()), "TL103")


# -- TL104 invalid-role ------------------------------------------------------------------------


def test_sharegpt_role_human_is_invalid_role_and_fix_replaces_it_with_user():
    line = chat({"role": "human", "content": "Hi"}, assistant())
    f = one(line, "TL104")
    assert_at(f, 1, span(line, '"human"'))
    assert "did you mean 'user'" in f.message
    assert f.fix is not None and not f.fix.safe
    after = fixed(line, f)
    assert parses(after)[0]["messages"][0]["role"] == "user"
    assert not findings(after, "TL104")


def test_capitalised_role_is_invalid_role_with_lowercase_guess():
    line = chat(user(), {"role": "ASSISTANT", "content": "Paris."})
    f = one(line, "TL104")
    assert_at(f, 1, span(line, '"ASSISTANT"'))
    assert "'assistant'" in f.message


def test_unguessable_role_is_invalid_role_without_fix():
    line = chat(user(), {"role": "narrator", "content": "Paris."})
    f = one(line, "TL104")
    assert f.fix is None


def test_developer_role_is_invalid_under_the_mistral_profile():
    line = chat({"role": "developer", "content": "Be brief."}, user(), assistant())
    f = one(line, "TL104", MISTRAL)
    assert_at(f, 1, span(line, '"developer"'))
    assert "mistral profile" in f.message


def test_developer_role_is_invalid_under_the_openai_profile():
    # OpenAI's SFT and DPO schemas do not list developer (only reinforcement fine-tuning does)
    line = chat({"role": "developer", "content": "Be brief."}, user(), assistant())
    f = one(line, "TL104")
    assert_at(f, 1, span(line, '"developer"'))
    assert "openai profile" in f.message


def test_developer_role_is_valid_under_the_hf_profile():
    none(chat({"role": "developer", "content": "Be brief."}, user(), assistant()), "TL104", HF)


# -- TL105 invalid-content ---------------------------------------------------------------------


def test_numeric_content_is_invalid_content():
    line = chat(user(42), assistant())
    f = one(line, "TL105")
    assert_at(f, 1, span(line, "42"))


def test_object_content_is_invalid_content():
    line = chat({"role": "user", "content": {"text": "Hi"}}, assistant())
    assert_at(one(line, "TL105"), 1, span(line, '{"text": "Hi"}'))


def test_user_message_without_content_is_invalid_content_at_the_message():
    line = chat({"role": "user"}, assistant())
    assert_at(one(line, "TL105"), 1, span(line, '{"role": "user"}'))


def test_null_user_content_is_invalid_content():
    line = chat(user(None), assistant())
    assert_at(one(line, "TL105"), 1, span(line, "null"))


def test_null_assistant_content_with_tool_calls_and_content_parts_are_valid_content():
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    line = chat(user([{"type": "text", "text": "Hi"}]), assistant(None, tool_calls=calls),
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}, assistant())
    none(line, "TL105")


def test_assistant_content_as_an_array_is_invalid_content_under_mistral():
    parts = [{"type": "text", "text": "Paris."}]
    line = chat(user(), assistant(parts))
    f = one(line, "TL105", MISTRAL)
    assert_at(f, 1, span(line, dumps(parts)))
    assert "mistral profile" in f.message
    none(line, "TL105")


def test_user_content_as_an_array_is_valid_content_under_mistral():
    none(chat(user([{"type": "text", "text": "Hi"}]), assistant()), "TL105", MISTRAL)


# -- TL106 unknown-key -------------------------------------------------------------------------


def test_unknown_key_on_the_example_points_at_the_key():
    line = chat(user(), assistant(), metadata={"source": "web"})
    f = one(line, "TL106")
    assert_at(f, 1, key_span(line, "metadata"))
    assert f.severity.value == "warning"


def test_misspelt_message_key_is_unknown_key():
    line = chat(user(), {"role": "assistant", "contents": "Paris."})
    f = one(line, "TL106")
    assert_at(f, 1, key_span(line, "contents"))


def test_unknown_key_with_escaped_non_bmp_character_points_at_the_key():
    line = chat(user(), assistant(), **{"\U0001f600": 1})
    assert '"\\ud83d\\ude00"' in line
    assert_at(one(line, "TL106"), 1, span(line, '"\\ud83d\\ude00"'))


def test_known_keys_are_not_unknown_keys():
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    line = chat(user(name="alice"), assistant(None, tool_calls=calls),
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}, assistant(weight=1),
                tools=[{"type": "function", "function": {"name": "f"}}], parallel_tool_calls=False)
    none(line, "TL106")


def test_unknown_key_on_a_prompt_completion_example_is_an_error_under_together():
    line = dumps({"prompt": "Capital of France?", "completion": "Paris.", "source": "web"})
    f = one(line, "TL106", TOGETHER)
    assert_at(f, 1, key_span(line, "source"))
    assert f.severity.value == "error"


def test_unknown_key_on_a_text_example_is_an_error_under_together():
    line = dumps({"text": "Paris is the capital of France.", "id": 7})
    f = one(line, "TL106", TOGETHER)
    assert_at(f, 1, key_span(line, "id"))
    assert f.severity.value == "error"


def test_unknown_key_on_a_message_is_a_warning_under_together():
    line = chat(user(), assistant(source="web"))
    f = one(line, "TL106", TOGETHER)
    assert_at(f, 1, key_span(line, "source"))
    assert f.severity.value == "warning"


def test_tool_call_id_on_a_user_message_is_unknown_key():
    line = chat(user(tool_call_id="call_1"), assistant())
    f = one(line, "TL106")
    assert_at(f, 1, key_span(line, "tool_call_id"))
    assert "user message" in f.message


def test_unknown_key_in_preference_input_is_unknown_key():
    line = preference(input={"messages": [user()], "source": "web"})
    f = one(line, "TL106")
    assert_at(f, 1, key_span(line, "source"))
    assert "`input`" in f.message and f.severity.value == "warning"
    assert one(line, "TL106", TOGETHER).severity.value == "error"


def test_tools_in_preference_input_are_not_unknown_keys():
    none(preference(input={"messages": [user()], "tools": []}), "TL106", TOGETHER)


def test_example_keys_are_not_reported_when_the_profile_rejects_the_format():
    # TL109 already rejects the whole example; naming each of its keys would only add noise
    line = preference()
    assert findings(line, "TL109", MISTRAL)
    none(line, "TL106", MISTRAL)


# -- TL107 invalid-name ------------------------------------------------------------------------


def test_name_with_a_space_is_invalid_name():
    line = chat(user(name="John Doe"), assistant())
    f = one(line, "TL107")
    assert_at(f, 1, span(line, '"John Doe"'))


def test_name_longer_than_64_is_invalid_name():
    line = chat(user(name="a" * 65), assistant())
    assert_at(one(line, "TL107"), 1, span(line, '"' + "a" * 65 + '"'))


def test_valid_name_and_tool_message_name_are_not_invalid_name():
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    line = chat(user(name="John_Doe-2"), assistant(None, tool_calls=calls),
                {"role": "tool", "tool_call_id": "c1", "name": "get weather", "content": "ok"}, assistant())
    none(line, "TL107")


# -- TL108 invalid-weight ----------------------------------------------------------------------


def test_assistant_message_with_weight_half_is_invalid_weight():
    line = chat(user(), assistant(weight=0.5))
    f = one(line, "TL108")
    assert_at(f, 1, span(line, "0.5"))
    assert f.severity.value == "error"


def test_assistant_message_with_boolean_weight_is_invalid_weight():
    line = chat(user(), assistant(weight=True))
    assert_at(one(line, "TL108"), 1, span(line, "true"))


def test_assistant_message_with_string_weight_is_invalid_weight():
    line = chat(user(), assistant(weight="1"))
    assert_at(one(line, "TL108"), 1, span(line, '"1"', after='"weight"'))


def test_weight_on_a_user_message_is_invalid_weight_at_the_key():
    line = chat(user(weight=1), assistant())
    f = one(line, "TL108")
    assert_at(f, 1, key_span(line, "weight"))
    assert "'user'" in f.message


def test_invalid_weight_span_in_a_compact_line():
    line = json.dumps({"messages": [user(), assistant(weight=0.5)]}, separators=(",", ":"))
    assert_at(one(line, "TL108"), 1, span(line, "0.5"))


def test_invalid_weight_span_counts_code_points_after_unescaped_non_ascii_text():
    line = json.dumps({"messages": [user("\U0001f600 caf\u00e9?"), assistant(weight=0.5)]}, ensure_ascii=False)
    assert "\U0001f600" in line
    assert_at(one(line, "TL108"), 1, span(line, "0.5"))


@pytest.mark.parametrize("w", [0, 1])
def test_assistant_weight_zero_or_one_is_valid_weight(w):
    none(chat(user(), assistant("Lyon.", weight=0), user(), assistant(weight=w)), "TL108")


def test_weight_on_a_user_message_is_valid_under_together():
    none(chat(user(weight=0), assistant(weight=1)), "TL108", TOGETHER)


@pytest.mark.parametrize("settings", [FAST, TOGETHER], ids=["openai", "together"])
def test_float_weight_is_invalid_weight_under_openai_and_together(settings):
    line = chat(user(), assistant(weight=1.0))
    f = one(line, "TL108", settings)
    assert_at(f, 1, span(line, "1.0"))
    assert "integer" in f.message


@pytest.mark.parametrize("settings", [MISTRAL, HF], ids=["mistral", "hf"])
def test_float_weight_is_valid_weight_under_mistral_and_hf(settings):
    none(chat(user(), assistant(weight=1.0)), "TL108", settings)


def test_weight_in_a_preferred_output_is_invalid_weight_under_openai():
    line = preference(preferred_output=[assistant(weight=1)])
    f = one(line, "TL108")
    assert_at(f, 1, key_span(line, "weight"))
    assert "preferred_output" in f.message


def test_weight_in_a_preferred_output_is_valid_under_together():
    none(preference(preferred_output=[assistant(weight=1)]), "TL108", TOGETHER)


def test_non_zero_weight_on_a_message_with_an_image_is_invalid_weight_under_together():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}}
    text = {"type": "text", "text": "What is this?"}
    line = chat(user([text, image], weight=1), assistant([{"type": "text", "text": "A cat."}]))
    f = one(line, "TL108", TOGETHER)
    assert_at(f, 1, span(line, "1", after='"weight": '))
    assert "images" in f.message
    none(line.replace('"weight": 1', '"weight": 0'), "TL108", TOGETHER)


def test_weight_inside_preference_input_messages_is_checked():
    line = preference(input={"messages": [user(weight=1)]})
    f = one(line, "TL108")
    assert_at(f, 1, key_span(line, "weight"))
    assert "'user'" in f.message


# -- TL109 format-not-supported ----------------------------------------------------------------


def test_prompt_completion_is_not_supported_by_openai():
    line = dumps({"prompt": "Capital of France?", "completion": "Paris."})
    f = one(line, "TL109")
    assert_at(f, 1, whole_line(line))
    assert "openai profile" in f.message


def test_sharegpt_is_not_supported_by_openai_with_a_convert_hint():
    line = dumps({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]})
    assert "tunelint convert" in one(line, "TL109").message


def test_prompt_completion_is_supported_by_together():
    none(dumps({"prompt": "Capital of France?", "completion": "Paris."}), "TL109", TOGETHER)


def test_chat_is_supported_by_every_profile():
    for s in (FAST, HF, MISTRAL, TOGETHER):
        none(chat(), "TL109", s)


# -- TL110 invalid-field -----------------------------------------------------------------------


def test_numeric_prompt_is_invalid_field():
    line = dumps({"prompt": 42, "completion": "Paris."})
    f = one(line, "TL110", TOGETHER)
    assert_at(f, 1, span(line, "42"))
    assert "`prompt`" in f.message


def test_whitespace_alpaca_output_is_invalid_field():
    line = dumps({"instruction": "Name the capital of France.", "input": "", "output": "  "})
    f = one(line, "TL110", HF)
    assert_at(f, 1, span(line, '"  "'))
    assert "empty" in f.message


def test_non_string_alpaca_input_is_invalid_field():
    line = dumps({"instruction": "Add.", "input": 3, "output": "3"})
    assert_at(one(line, "TL110", HF), 1, span(line, "3", after='"input": '))


def test_null_text_is_invalid_field():
    line = dumps({"text": None})
    assert_at(one(line, "TL110", HF), 1, span(line, "null"))


def test_unknown_sharegpt_speaker_is_invalid_field():
    line = dumps({"conversations": [{"from": "bot", "value": "Hi"}]})
    assert_at(one(line, "TL110", HF), 1, span(line, '"bot"'))


def test_sharegpt_turn_without_value_is_invalid_field_at_the_turn():
    line = dumps({"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt"}]})
    assert_at(one(line, "TL110", HF), 1, span(line, '{"from": "gpt"}'))


def test_empty_sharegpt_conversations_is_invalid_field():
    line = dumps({"conversations": []})
    assert_at(one(line, "TL110", HF), 1, span(line, "[]"))


@pytest.mark.parametrize("obj", [
    {"prompt": "Capital of France?", "completion": "Paris."},
    {"instruction": "Name the capital of France.", "input": "", "output": "Paris."},
    {"text": "Paris is the capital of France."},
    {"conversations": [{"from": "system", "value": ""}, {"from": "human", "value": "Hi"},
                       {"from": "gpt", "value": "Hello"}]},
])
def test_valid_non_chat_examples_have_no_invalid_field(obj):
    none(dumps(obj), "TL110", HF)
