"""TL5xx: preference (DPO) examples: input / preferred_output / non_preferred_output."""

from __future__ import annotations

from ._lint import (
    WEATHER_TOOL,
    assert_at,
    assistant,
    call,
    dumps,
    none,
    one,
    span,
    system,
    user,
    whole_line,
)


def pref(**over) -> str:
    obj = {"input": {"messages": [system(), user()]}, "preferred_output": [assistant("Paris.")],
           "non_preferred_output": [assistant("Lyon.")]}
    obj.update(over)
    return dumps({k: v for k, v in obj.items() if v is not ...})


def test_valid_preference_example_has_no_preference_findings():
    line = pref()
    for code in ("TL501", "TL502", "TL503"):
        none(line, code)


# -- TL501 preference-input-shape --------------------------------------------------------------


def test_input_as_a_bare_message_list_is_preference_input_shape():
    msgs = [user()]
    line = pref(input=msgs)
    f = one(line, "TL501")
    assert_at(f, 1, span(line, dumps(msgs)))


def test_input_with_empty_messages_is_preference_input_shape():
    line = pref(input={"messages": []})
    assert_at(one(line, "TL501"), 1, span(line, '{"messages": []}'))


def test_input_ending_with_an_assistant_turn_is_preference_input_shape_at_its_role():
    line = pref(input={"messages": [user(), assistant("Paris.")]})
    f = one(line, "TL501")
    assert_at(f, 1, span(line, '"assistant"'))


def test_input_ending_with_the_user_turn_is_well_shaped():
    none(pref(input={"messages": [user(), assistant("Paris."), user("And Spain?")]}), "TL501")


# -- TL502 preference-output-shape -------------------------------------------------------------


def test_missing_non_preferred_output_is_preference_output_shape_on_the_whole_line():
    line = pref(non_preferred_output=...)
    f = one(line, "TL502")
    assert_at(f, 1, whole_line(line))
    assert "`non_preferred_output` is missing" in f.message


def test_output_as_a_bare_message_is_preference_output_shape():
    msg = assistant("Paris.")
    line = pref(preferred_output=msg)
    assert_at(one(line, "TL502"), 1, span(line, dumps(msg)))


def test_output_with_two_messages_is_preference_output_shape():
    out = [assistant("Paris."), assistant("Definitely Paris.")]
    line = pref(preferred_output=out)
    f = one(line, "TL502")
    assert_at(f, 1, span(line, dumps(out)))
    assert "2 messages" in f.message


def test_output_from_the_user_is_preference_output_shape_at_the_role():
    line = pref(non_preferred_output=[user("Lyon?")])
    assert_at(one(line, "TL502"), 1, span(line, '"user"', after='"non_preferred_output"'))


def test_one_assistant_message_per_output_is_well_shaped():
    none(pref(), "TL502")


# -- TL503 identical-preference-outputs --------------------------------------------------------


def test_identical_outputs_are_reported_at_the_non_preferred_output():
    out = [assistant("Paris.")]
    line = pref(preferred_output=out, non_preferred_output=out)
    f = one(line, "TL503")
    assert_at(f, 1, span(line, dumps(out), after='"non_preferred_output"'))
    assert f.severity.value == "warning"


def test_outputs_differing_only_in_surrounding_whitespace_are_identical():
    line = pref(non_preferred_output=[assistant(" Paris.\n")])
    assert one(line, "TL503")


def test_different_outputs_are_not_identical():
    none(pref(non_preferred_output=[assistant("paris")]), "TL503")


def test_tool_call_outputs_with_different_arguments_are_not_identical():
    line = pref(tools=[WEATHER_TOOL],
                preferred_output=[assistant(None, tool_calls=[call(arguments='{"city": "Paris"}')])],
                non_preferred_output=[assistant(None, tool_calls=[call(arguments='{"city": "Lyon"}')])])
    none(line, "TL503")
    none(line, "TL306")  # the two outputs are alternatives; reusing a call id across them is fine


def test_tool_call_outputs_making_the_same_call_are_identical():
    out = [assistant(None, tool_calls=[call()])]
    assert one(pref(tools=[WEATHER_TOOL], preferred_output=out, non_preferred_output=out), "TL503")
