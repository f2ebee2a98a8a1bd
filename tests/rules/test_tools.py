"""TL3xx: tool definitions, tool calls and tool answers."""

from __future__ import annotations

import copy
import json

from tunelint.linter.settings import Settings

from ._lint import (
    WEATHER_TOOL,
    assert_at,
    assistant,
    call,
    chat,
    dumps,
    findings,
    fixed,
    key_span,
    none,
    one,
    parses,
    span,
    tool_answer,
    tool_chat,
    user,
)

MISTRAL = Settings(tokenizer=None, profile="mistral")


def with_schema_change(**props) -> dict:
    tool = copy.deepcopy(WEATHER_TOOL)
    tool["function"]["parameters"]["properties"].update(props)
    return tool


def arguments_of(line: str, call_index: int = 0) -> object:
    (obj,) = parses(line)
    calls = [c for m in obj["messages"] for c in m.get("tool_calls") or []]
    return calls[call_index]["function"]["arguments"]


# -- TL301 invalid-tool-definition -------------------------------------------------------------


def test_tools_as_an_object_is_invalid_tool_definition():
    line = tool_chat(tools={"get_weather": WEATHER_TOOL})
    f = one(line, "TL301")
    assert_at(f, 1, span(line, dumps({"get_weather": WEATHER_TOOL})))
    assert "array" in f.message


def test_parameters_that_are_not_a_json_schema_are_invalid_tool_definition():
    tool = with_schema_change(city={"type": "strin"})
    line = tool_chat(tools=[tool])
    f = one(line, "TL301")
    assert_at(f, 1, span(line, dumps(tool["function"]["parameters"])))
    assert "not a valid JSON Schema" in f.message and "properties/city/type" in f.message


def test_parameters_as_an_array_is_invalid_tool_definition():
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": []}}
    line = tool_chat(tools=[tool])
    assert_at(one(line, "TL301"), 1, span(line, "[]", after='"parameters": '))


def test_function_name_with_a_space_is_invalid_tool_definition():
    line = chat(user(), assistant(), tools=[{"type": "function", "function": {"name": "get weather"}}])
    assert_at(one(line, "TL301"), 1, span(line, '"get weather"'))


def test_function_declared_twice_is_invalid_tool_definition_at_the_second_name():
    line = tool_chat(tools=[WEATHER_TOOL, WEATHER_TOOL])
    f = one(line, "TL301")
    assert_at(f, 1, span(line, '"get_weather"', after='"tools"', nth=1))
    assert "declared twice" in f.message


def test_tool_of_another_type_is_invalid_tool_definition_at_the_type():
    line = chat(user(), assistant(), tools=[{"type": "retrieval", "function": WEATHER_TOOL["function"]}])
    assert_at(one(line, "TL301"), 1, span(line, '"retrieval"'))


def test_tool_without_function_object_is_invalid_tool_definition():
    line = chat(user(), assistant(), tools=[{"type": "function"}])
    assert_at(one(line, "TL301"), 1, span(line, '{"type": "function"}', after='"tools"'))


def params_tool(parameters: dict) -> dict:
    return {"type": "function", "function": {"name": "get_weather", "parameters": parameters}}


def test_reference_to_a_missing_definition_is_invalid_tool_definition_not_a_crash():
    params = {"type": "object", "properties": {"city": {"$ref": "#/$defs/City"}}}
    line = tool_chat(tools=[params_tool(params)])
    f = one(line, "TL301")
    assert_at(f, 1, span(line, dumps(params)))
    assert "'#/$defs/City'" in f.message
    none(line, "TL304")


def test_reference_to_another_document_is_invalid_tool_definition_not_a_crash():
    params = {"$ref": "https://example.com/weather.schema.json"}
    line = tool_chat(tools=[params_tool(params)])
    assert_at(one(line, "TL301"), 1, span(line, dumps(params)))
    none(line, "TL304")


def test_references_inside_the_schema_are_valid_and_checked():
    params = {"type": "object", "$defs": {"City": {"type": "string"}},
              "properties": {"city": {"$ref": "#/$defs/City"}}, "required": ["city"]}
    none(tool_chat(tools=[params_tool(params)]), "TL301")
    line = tool_chat(call(arguments='{"city": 3}'), tools=[params_tool(params)])
    assert "3 is not of type 'string'" in one(line, "TL304").message


def test_well_formed_tool_definitions_are_valid():
    bare = {"type": "function", "function": {"name": "now"}}  # no parameters: a call with no arguments
    none(tool_chat(tools=[WEATHER_TOOL, bare]), "TL301")


def test_tool_without_description_is_invalid_tool_definition_under_mistral():
    tool = copy.deepcopy(WEATHER_TOOL)
    del tool["function"]["description"]
    line = tool_chat(call("abc123XYZ"), tools=[tool])
    f = one(line, "TL301", MISTRAL)
    assert_at(f, 1, span(line, dumps(tool["function"])))
    assert "`description`" in f.message
    none(line, "TL301")


# -- TL302 malformed-tool-call -----------------------------------------------------------------


def test_tool_calls_on_a_user_message_is_malformed_tool_call_at_the_key():
    line = chat(user(tool_calls=[call()]), assistant(), tools=[WEATHER_TOOL])
    f = one(line, "TL302")
    assert_at(f, 1, key_span(line, "tool_calls"))


def test_tool_calls_as_an_object_is_malformed_tool_call():
    line = chat(user(), assistant(None, tool_calls=call()), tools=[WEATHER_TOOL])
    assert_at(one(line, "TL302"), 1, span(line, dumps(call()), after='"tool_calls": '))


def test_tool_call_without_type_is_malformed_tool_call_at_the_call():
    c = {"id": "call_1", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    line = tool_chat(c)
    f = one(line, "TL302")
    assert_at(f, 1, span(line, dumps(c)))
    assert "`type`" in f.message


def test_tool_call_without_id_is_malformed_tool_call():
    c = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    line = tool_chat(c, answers=[])
    assert_at(one(line, "TL302"), 1, span(line, dumps(c)))


def test_tool_call_with_empty_id_is_malformed_tool_call_at_the_id():
    line = tool_chat(call(""), answers=[tool_answer("")])
    assert_at(one(line, "TL302"), 1, span(line, '""', after='"tool_calls"'))


def test_tool_call_without_arguments_is_malformed_tool_call_at_the_function():
    c = {"id": "call_1", "type": "function", "function": {"name": "get_weather"}}
    line = tool_chat(c)
    f = one(line, "TL302")
    assert_at(f, 1, span(line, '{"name": "get_weather"}'))
    assert "`arguments`" in f.message


def test_tool_call_without_function_name_is_malformed_tool_call():
    c = {"id": "call_1", "type": "function", "function": {"arguments": "{}"}}
    line = tool_chat(c)
    assert_at(one(line, "TL302"), 1, span(line, '{"arguments": "{}"}'))


def test_well_formed_tool_calls_are_not_malformed():
    none(tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}')), "TL302")


def test_tool_call_ids_not_of_9_letters_or_digits_are_malformed_under_mistral():
    line = tool_chat(call("call_1"))
    found = findings(line, "TL302", MISTRAL)
    assert [(f.line, f.column, f.end_column) for f in found] == [
        (1, *span(line, '"call_1"', after='"tool_calls"')),  # the call's id
        (1, *span(line, '"call_1"', after='"tool_call_id"')),  # the tool answer's tool_call_id
    ]
    assert all("mistral profile" in f.message for f in found)


def test_tool_call_ids_of_9_letters_or_digits_are_well_formed_under_mistral():
    none(tool_chat(call("abc123XYZ")), "TL302", MISTRAL)


def test_assistant_message_with_content_and_tool_calls_is_malformed_under_mistral_at_the_content():
    line = chat(user("Weather in Paris?"), assistant("Let me check.", tool_calls=[call("abc123XYZ")]),
                tool_answer("abc123XYZ"), assistant("It is 18 °C in Paris."), tools=[WEATHER_TOOL])
    f = one(line, "TL302", MISTRAL)
    assert_at(f, 1, span(line, '"Let me check."'))
    assert "not both" in f.message
    none(line, "TL302")


# -- TL303 tool-arguments-not-json -------------------------------------------------------------


def test_arguments_given_as_an_object_are_not_json_and_fix_serialises_them():
    line = tool_chat(call(arguments={"city": "Paris"}))
    f = one(line, "TL303")
    assert_at(f, 1, span(line, '{"city": "Paris"}', after='"arguments": '))
    assert f.fix is not None and f.fix.safe
    after = fixed(line, f)
    assert json.loads(arguments_of(after)) == {"city": "Paris"}
    assert not findings(after, "TL303")


def test_double_encoded_arguments_are_not_json_and_fix_decodes_them_once():
    inner = json.dumps({"city": "Paris"})
    line = tool_chat(call(arguments=json.dumps(inner)))
    f = one(line, "TL303")
    assert_at(f, 1, span(line, json.dumps(json.dumps(inner))))
    assert "double-encoded" in f.message
    after = fixed(line, f)
    assert arguments_of(after) == inner
    assert not findings(after, "TL303")


def test_broken_json_arguments_are_not_json():
    line = tool_chat(call(arguments='{"city": '))
    f = one(line, "TL303")
    assert_at(f, 1, span(line, json.dumps('{"city": ')))
    assert f.fix is None


def test_arguments_holding_an_array_are_not_a_json_object():
    line = tool_chat(call(arguments="[1]"))
    assert_at(one(line, "TL303"), 1, span(line, '"[1]"'))


def test_numeric_arguments_are_not_json_text():
    line = tool_chat(call(arguments=5))
    assert_at(one(line, "TL303"), 1, span(line, "5", after='"arguments": '))


def test_string_of_a_json_object_is_valid_arguments():
    none(tool_chat(call(arguments='{"city": "Paris", "unit": "C"}')), "TL303")
    none(tool_chat(call(arguments="{}"), tools=[{"type": "function", "function": {"name": "get_weather"}}]), "TL303")


# -- TL304 tool-arguments-schema ---------------------------------------------------------------


def test_missing_required_argument_fails_the_schema():
    line = tool_chat(call(arguments="{}"))
    f = one(line, "TL304")
    assert_at(f, 1, span(line, '"{}"'))
    assert "'city' is a required property" in f.message


def test_wrong_type_and_value_outside_enum_each_fail_the_schema():
    args = '{"city": 5, "unit": "K"}'
    line = tool_chat(call(arguments=args))
    found = findings(line, "TL304")
    assert len(found) == 2
    for f in found:
        assert_at(f, 1, span(line, json.dumps(args)))
    assert "at city" in found[0].message and "at unit" in found[1].message


def test_arguments_that_fit_the_schema_pass():
    none(tool_chat(call(arguments='{"city": "Paris", "unit": "F"}')), "TL304")


def test_arguments_are_checked_against_legacy_functions_declarations_too():
    line = dumps({"messages": [user(), assistant(None, tool_calls=[call(arguments="{}")]), tool_answer(),
                               assistant("18 °C.")], "functions": [WEATHER_TOOL["function"]]})
    assert findings(line, "TL304")


# -- TL305 undeclared-function -----------------------------------------------------------------


def test_call_to_an_undeclared_function_is_reported_at_the_call_name():
    line = tool_chat(call(name="get_time", arguments="{}"))
    f = one(line, "TL305")
    assert_at(f, 1, span(line, '"get_time"'))
    assert f.severity.value == "error"
    assert "declared: get_weather" in f.message


def test_call_without_any_tools_declared_is_undeclared_function_warning():
    line = chat(user(), assistant(None, tool_calls=[call()]), tool_answer(), assistant("18 °C."))
    f = one(line, "TL305")
    assert_at(f, 1, span(line, '"get_weather"'))
    assert f.severity.value == "warning"


def test_call_to_a_declared_function_is_not_undeclared():
    none(tool_chat(), "TL305")
    line = dumps({"messages": [user(), assistant(None, tool_calls=[call()]), tool_answer(), assistant("18 °C.")],
                  "functions": [WEATHER_TOOL["function"]]})
    none(line, "TL305")


# -- TL306 duplicate-tool-call-id --------------------------------------------------------------


def test_two_calls_with_one_id_are_duplicate_tool_call_id_with_the_first_use_related():
    line = tool_chat(call("call_1"), call("call_1", arguments='{"city": "Lyon"}'),
                     answers=[tool_answer("call_1")])
    f = one(line, "TL306")
    assert_at(f, 1, span(line, '"call_1"', nth=1))
    assert [(r.line, r.column, r.message) for r in f.related] == [(1, span(line, '"call_1"')[0], "first use")]


def test_same_id_in_two_turns_is_duplicate_tool_call_id():
    msgs = [user(), assistant(None, tool_calls=[call("c")]), tool_answer("c"),
            assistant(None, tool_calls=[call("c", arguments='{"city": "Lyon"}')]), tool_answer("c"),
            assistant("18 °C and 20 °C.")]
    line = dumps({"messages": msgs, "tools": [WEATHER_TOOL]})
    assert_at(one(line, "TL306"), 1, span(line, '"c"', nth=2))


def test_distinct_tool_call_ids_are_not_duplicates():
    none(tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}')), "TL306")


# -- TL307 orphan-tool-message -----------------------------------------------------------------


def test_tool_message_answering_an_unknown_id_is_orphan_at_the_id():
    line = tool_chat(answers=[tool_answer("call_1"), tool_answer("call_9")])
    f = one(line, "TL307")
    assert_at(f, 1, span(line, '"call_9"'))


def test_tool_message_without_tool_call_id_is_orphan_at_the_message():
    answer = {"role": "tool", "content": "18"}
    line = tool_chat(answers=[tool_answer(), answer])
    assert_at(one(line, "TL307"), 1, span(line, dumps(answer)))


def test_tool_message_before_its_call_is_orphan():
    line = dumps({"messages": [user(), tool_answer("call_1"), assistant(None, tool_calls=[call("call_1")]),
                               tool_answer("call_1"), assistant("18 °C.")], "tools": [WEATHER_TOOL]})
    assert_at(one(line, "TL307"), 1, span(line, '"call_1"'))


def test_tool_messages_answering_earlier_calls_are_not_orphans():
    none(tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}')), "TL307")


# -- TL308 unanswered-tool-call ----------------------------------------------------------------


def test_call_without_answer_before_the_next_turn_is_unanswered_at_its_id():
    line = tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}'), answers=[tool_answer("call_1")])
    f = one(line, "TL308")
    assert_at(f, 1, span(line, '"call_2"'))


def test_call_answered_twice_is_reported_at_the_second_answer():
    line = tool_chat(answers=[tool_answer(), tool_answer()])
    f = one(line, "TL308")
    assert_at(f, 1, span(line, '"call_1"', nth=2))
    assert "answered twice" in f.message


def test_call_in_the_last_message_needs_no_answer():
    line = dumps({"messages": [user(), assistant(None, tool_calls=[call()])], "tools": [WEATHER_TOOL]})
    none(line, "TL308")


def test_parallel_calls_answered_in_any_order_are_answered():
    line = tool_chat(call("call_1"), call("call_2", arguments='{"city": "Lyon"}'),
                     answers=[tool_answer("call_2"), tool_answer("call_1")])
    none(line, "TL308")


def test_call_id_from_a_preference_input_reused_in_an_output_is_duplicate_tool_call_id():
    line = dumps({"input": {"messages": [user(), assistant(None, tool_calls=[call("c")]), tool_answer("c"),
                                         user("And Lyon?")]},
                  "preferred_output": [assistant(None, tool_calls=[call("c", arguments='{"city": "Lyon"}')])],
                  "non_preferred_output": [assistant("I cannot tell.")], "tools": [WEATHER_TOOL]})
    f = one(line, "TL306")
    assert_at(f, 1, span(line, '"c"', nth=2))


def test_tools_of_a_preference_record_are_read_from_its_input():
    line = dumps({"input": {"messages": [user()], "tools": {"type": "function"}},
                  "preferred_output": [assistant()], "non_preferred_output": [assistant("Lyon.")]})
    assert_at(one(line, "TL301"), 1, span(line, '{"type": "function"}'))


def test_unanswered_call_in_a_preference_input_is_unanswered_tool_call():
    inp = [user("Weather in Paris?"), assistant(None, tool_calls=[call()]), user("Well?")]
    line = dumps({"input": {"messages": inp, "tools": [WEATHER_TOOL]},
                  "preferred_output": [assistant("18 °C.")], "non_preferred_output": [assistant("No idea.")]})
    assert_at(one(line, "TL308"), 1, span(line, '"call_1"'))
