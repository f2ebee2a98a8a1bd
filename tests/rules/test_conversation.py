"""TL2xx: the structure of a conversation."""

from __future__ import annotations

from tunelint.linter.settings import Settings

from ._lint import (
    assert_at,
    assistant,
    call,
    chat,
    dumps,
    findings,
    key_span,
    none,
    one,
    span,
    system,
    tool_answer,
    tool_chat,
    user,
)

MISTRAL = Settings(tokenizer=None, profile="mistral")
TOGETHER = Settings(tokenizer=None, profile="together")


def preference(inp: list, preferred: list, non_preferred: list) -> str:
    return dumps({"input": {"messages": inp}, "preferred_output": preferred, "non_preferred_output": non_preferred})


# -- TL201 no-trainable-assistant --------------------------------------------------------------


def test_conversation_without_assistant_is_no_trainable_assistant_at_messages_key():
    line = chat(system(), user())
    f = one(line, "TL201")
    assert_at(f, 1, key_span(line, "messages"))
    assert "no assistant message" in f.message


def test_every_assistant_at_weight_zero_is_no_trainable_assistant():
    line = chat(user(), assistant("Paris.", weight=0), user("And Spain?"), assistant("Madrid.", weight=0))
    f = one(line, "TL201")
    assert_at(f, 1, key_span(line, "messages"))
    assert "weight: 0" in f.message


def test_one_trained_assistant_among_weight_zero_ones_is_trainable():
    none(chat(user(), assistant("Paris.", weight=0), user("And Spain?"), assistant("Madrid.")), "TL201")


def test_misspelt_assistant_role_is_left_to_invalid_role():
    line = chat(user(), {"role": "gpt", "content": "Paris."})
    none(line, "TL201")
    assert findings(line, "TL104")


# -- TL202 last-message-not-assistant ----------------------------------------------------------


def test_conversation_ending_with_user_is_last_message_not_assistant():
    last = user("And Spain?")
    line = chat(user(), assistant(), last)
    f = one(line, "TL202")
    assert_at(f, 1, span(line, dumps(last), after='"Paris."'))
    assert f.severity.value == "warning"


def test_last_message_not_assistant_is_an_error_under_mistral():
    line = chat(user(), assistant(), user("And Spain?"))
    assert one(line, "TL202", MISTRAL).severity.value == "error"


def test_conversation_ending_with_assistant_is_fine():
    none(chat(user(), assistant(), user("And Spain?"), assistant("Madrid.")), "TL202")


def test_conversation_without_any_assistant_is_left_to_no_trainable_assistant():
    none(chat(system(), user()), "TL202")


# -- TL203 system-not-first --------------------------------------------------------------------


def test_system_after_user_is_system_not_first_at_its_role():
    line = chat(user(), system(), assistant())
    f = one(line, "TL203")
    assert_at(f, 1, span(line, '"system"'))
    assert "position 1" in f.message


def test_developer_after_assistant_is_system_not_first():
    line = chat(user(), assistant(), {"role": "developer", "content": "Be brief."}, user("And Spain?"),
                assistant("Madrid."))
    assert_at(one(line, "TL203"), 1, span(line, '"developer"'))


def test_system_not_first_in_preference_input():
    line = preference([user(), system(), user("Answer briefly.")], [assistant()], [assistant("Lyon.")])
    assert_at(one(line, "TL203"), 1, span(line, '"system"'))


def test_system_and_developer_before_the_conversation_are_first():
    none(chat(system(), {"role": "developer", "content": "Be brief."}, user(), assistant()), "TL203")


# -- TL204 consecutive-same-role ---------------------------------------------------------------


def test_two_user_messages_in_a_row_are_consecutive_same_role_at_the_second_role():
    line = chat(user(), user("Please answer."), assistant())
    f = one(line, "TL204")
    assert_at(f, 1, span(line, '"user"', nth=1))
    assert "positions 0 and 1" in f.message


def test_two_assistant_messages_in_a_row_are_consecutive_same_role():
    line = chat(user(), assistant(), assistant("Also, Lyon is big."))
    assert_at(one(line, "TL204"), 1, span(line, '"assistant"', nth=1))


def test_consecutive_same_role_in_preference_input():
    line = preference([user(), user("Please.")], [assistant()], [assistant("Lyon.")])
    assert_at(one(line, "TL204"), 1, span(line, '"user"', nth=1))


def test_parallel_tool_answers_and_assistant_after_tool_call_are_not_consecutive_same_role():
    none(tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}')), "TL204")
    line = chat(user(), assistant(None, tool_calls=[call()]), assistant("Let me check."))
    none(line, "TL204")


def test_alternating_roles_are_not_consecutive_same_role():
    none(chat(system(), user(), assistant(), user("And Spain?"), assistant("Madrid.")), "TL204")


# -- TL205 empty-content -----------------------------------------------------------------------


def test_empty_user_content_is_empty_content_warning():
    line = chat(user(""), assistant())
    f = one(line, "TL205")
    assert_at(f, 1, span(line, '""'))
    assert f.severity.value == "warning"


def test_whitespace_trained_assistant_content_is_empty_content_error():
    line = chat(user(), assistant("  \n"))
    f = one(line, "TL205")
    assert_at(f, 1, span(line, '"  \\n"'))
    assert f.severity.value == "error"
    assert "only whitespace" in f.message


def test_empty_untrained_assistant_content_is_empty_content_warning():
    line = chat(user(), assistant("", weight=0), user("Again?"), assistant())
    assert one(line, "TL205").severity.value == "warning"


def test_empty_content_array_is_empty_content():
    line = chat(user([]), assistant())
    assert_at(one(line, "TL205"), 1, span(line, "[]"))


def test_content_parts_with_only_blank_text_are_empty_content():
    parts = [{"type": "text", "text": " "}]
    line = chat(user(parts), assistant())
    assert_at(one(line, "TL205"), 1, span(line, dumps(parts)))


def test_image_only_content_and_tool_call_without_text_are_not_empty_content():
    image = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    none(chat(user(image), assistant("A cat.")), "TL205")
    none(chat(user(), assistant("", tool_calls=[call()]), tool_answer(), assistant("18 °C.")), "TL205")


# -- TL206 assistant-without-content -----------------------------------------------------------


def test_assistant_with_no_content_key_is_assistant_without_content():
    line = chat(user(), {"role": "assistant"})
    f = one(line, "TL206")
    assert_at(f, 1, span(line, '{"role": "assistant"}'))
    assert not findings(line, "TL105")  # TL206 says it better


def test_assistant_with_null_content_and_no_calls_is_assistant_without_content():
    line = chat(user(), assistant(None))
    assert_at(one(line, "TL206"), 1, span(line, '{"role": "assistant", "content": null}'))


def test_assistant_without_content_in_preference_output():
    line = preference([user()], [assistant()], [{"role": "assistant"}])
    assert_at(one(line, "TL206"), 1, span(line, '{"role": "assistant"}'))


def test_assistant_with_null_content_and_tool_calls_has_content():
    none(tool_chat(), "TL206")


# -- TL207 no-user-message ---------------------------------------------------------------------


def test_assistant_right_after_system_is_no_user_message():
    answer = assistant()
    line = chat(system(), answer)
    f = one(line, "TL207")
    assert_at(f, 1, span(line, dumps(answer)))
    assert f.severity.value == "warning"


def test_assistant_after_user_is_not_no_user_message():
    none(chat(system(), user(), assistant()), "TL207")


def test_tool_call_made_from_the_system_prompt_alone_is_no_user_message():
    first = assistant(None, tool_calls=[call()])
    line = chat(system(), first, tool_answer(), assistant("18 °C."))
    assert_at(one(line, "TL207"), 1, span(line, dumps(first)))


def test_user_turn_before_a_tool_call_is_not_no_user_message():
    none(chat(system(), user(), assistant(None, tool_calls=[call()]), tool_answer(), assistant("18 °C.")),
         "TL207")


# -- TL208 mixed-content-forms -----------------------------------------------------------------


def parts(t: str) -> list[dict]:
    return [{"type": "text", "text": t}]


def test_string_system_and_array_user_are_mixed_content_forms_under_together_at_the_second_content():
    content = parts("What is the capital of France?")
    line = chat(system(), user(content), assistant(parts("Paris.")))
    f = one(line, "TL208", TOGETHER)
    assert_at(f, 1, span(line, dumps(content)))
    assert "message 1" in f.message and "together profile" in f.message


def test_all_array_contents_are_not_mixed_content_forms():
    line = chat(system(parts("You are a geography tutor.")), user(parts("Capital of France?")),
                assistant(parts("Paris.")))
    none(line, "TL208", TOGETHER)


def test_mixed_content_forms_are_accepted_under_openai():
    none(chat(system(), user(parts("Capital of France?")), assistant()), "TL208")


# -- TL209 multiple-system-messages ------------------------------------------------------------


def test_two_system_messages_are_multiple_system_messages_under_mistral_at_the_second_role():
    line = chat(system(), system("Be brief."), user(), assistant())
    f = one(line, "TL209", MISTRAL)
    assert_at(f, 1, span(line, '"system"', nth=1))
    assert "mistral profile" in f.message


def test_two_system_messages_are_accepted_under_openai():
    none(chat(system(), system("Be brief."), user(), assistant()), "TL209")


def test_one_system_message_is_fine_under_mistral():
    none(chat(system(), user(), assistant()), "TL209", MISTRAL)
