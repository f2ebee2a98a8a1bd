"""TL6xx: text that will hurt training even though the JSON is fine."""

from __future__ import annotations

import json

import pytest

from tunelint.linter.settings import Settings

from ._lint import (
    assert_at,
    assistant,
    chat,
    dumps,
    findings,
    fixed,
    none,
    one,
    parses,
    span,
    user,
)

TOGETHER = Settings(tokenizer=None, profile="together")


def text_part(t: str) -> dict:
    return {"type": "text", "text": t}


# -- TL601 template-tokens-in-text -------------------------------------------------------------


def test_chatml_token_in_user_text_is_template_token_at_the_content():
    content = "<|im_start|>user\nWhat is the capital of France?"
    line = chat(user(content), assistant())
    f = one(line, "TL601")
    assert_at(f, 1, span(line, json.dumps(content)))
    assert "'<|im_start|>'" in f.message


def test_llama3_end_token_in_assistant_text_is_template_token():
    line = chat(user(), assistant("Paris.<|eot_id|>"))
    assert_at(one(line, "TL601"), 1, span(line, '"Paris.<|eot_id|>"'))


def test_inst_token_in_a_text_part_is_template_token_at_the_part_text():
    line = chat(user([text_part("[INST] Capital of France? [/INST]")]), assistant())
    assert_at(one(line, "TL601"), 1, span(line, '"[INST] Capital of France? [/INST]"'))


@pytest.mark.parametrize("content", [
    "The im_start token marks a turn.",
    "Pipes like <|not_a_token|> are fine.",
    "Run [INSTALL] first.",
    "Use <<SYSTEM>> carefully.",
])
def test_look_alike_text_is_not_a_template_token(content):
    none(chat(user(content), assistant()), "TL601")


def test_template_token_in_a_text_example_is_template_token_at_the_text():
    text = "<|im_start|>user\nWhat is the capital of France?"
    line = dumps({"text": text})
    f = one(line, "TL601", TOGETHER)
    assert_at(f, 1, span(line, json.dumps(text)))
    assert "`text`" in f.message


# -- TL602 role-markers-in-text ----------------------------------------------------------------


def test_assistant_marker_starting_a_line_in_user_text_is_role_marker():
    content = "Hello\nAssistant: Hi!\nUser: What is the capital of France?"
    line = chat(user(content), assistant())
    f = one(line, "TL602")
    assert_at(f, 1, span(line, json.dumps(content)))
    assert "'Assistant:'" in f.message


def test_alpaca_response_header_in_assistant_text_is_role_marker():
    line = chat(user(), assistant("### Response: Paris."))
    assert_at(one(line, "TL602"), 1, span(line, '"### Response: Paris."'))


@pytest.mark.parametrize("content", [
    "Username: bob",
    "The User: field is required.",
    "Ask the assistant: it knows.",
])
def test_role_words_not_starting_a_line_are_not_role_markers(content):
    none(chat(user(content), assistant()), "TL602")


def test_role_marker_search_agrees_with_the_line_regex():
    """`_role_marker` looks back from colons; on random texts it finds what a multi-line regex
    over the whole text finds (heads up to ROLE_HEAD_MAX characters)."""
    import random
    import re

    from tunelint.linter.rules.hygiene import _role_marker

    reference = re.compile(r"^(?:#{1,3}[ \t]*)?(?:User|Assistant|Human|Instruction|Response)[ \t]*:", re.MULTILINE)
    pieces = ["User", "Assistant", "Human", "Response", "Instruction", "user", "Users", ":", " ", "\t", "\n",
              "\r\n", "#", "##", "####", "x", "word", "é", "中", "::", "#User"]
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choices(pieces, k=rng.randint(0, 14)))
        hit = reference.search(text)
        assert _role_marker(text) == (hit.group() if hit else None), repr(text)
    assert _role_marker("x" * 70 + "\n#" + " " * 70 + "User:") is None  # a head past ROLE_HEAD_MAX
    assert _role_marker("x" * 70 + "\n#" + " " * 50 + "User:") == "#" + " " * 50 + "User:"
    assert _role_marker("#  \tUser :") == "#  \tUser :"


# -- TL603 assistant-whitespace ----------------------------------------------------------------


def test_assistant_text_with_surrounding_whitespace_is_reported_and_fix_strips_it():
    line = chat(user(), assistant("\nParis. "))
    f = one(line, "TL603")
    assert_at(f, 1, span(line, '"\\nParis. "'))
    assert "leading and trailing" in f.message
    assert f.fix is not None and f.fix.safe
    after = fixed(line, f)
    assert parses(after)[0]["messages"][1]["content"] == "Paris."
    assert not findings(after, "TL603")


def test_fix_for_trailing_whitespace_keeps_non_ascii_text():
    line = chat(user(), assistant("Caf\u00e9 au lait.  ", weight=1))
    f = one(line, "TL603")
    assert "trailing" in f.message
    after = fixed(line, f)
    assert parses(after)[0]["messages"][1] == {"role": "assistant", "content": "Caf\u00e9 au lait.", "weight": 1}
    assert not findings(after, "TL603")


def test_fix_on_a_crlf_line_keeps_its_line_ending():
    line = chat(user(), assistant(" Paris."))
    text = line + "\r\n" + chat() + "\r\n"
    f = one(text, "TL603")
    after = fixed(text, f)
    assert after == chat() + "\r\n" + chat() + "\r\n"


def test_whitespace_around_user_text_is_not_assistant_whitespace():
    none(chat(user("  What is the capital of France?\n"), assistant()), "TL603")


def test_inner_whitespace_and_whitespace_only_assistant_text_are_not_assistant_whitespace():
    none(chat(user(), assistant("Paris.\n\nIt is the capital.")), "TL603")
    line = chat(user(), assistant("  "))
    none(line, "TL603")  # TL205 reports it
    assert findings(line, "TL205")


def test_whitespace_around_a_completion_is_reported_and_fix_strips_it():
    line = dumps({"prompt": "Capital of France?", "completion": " Paris.\n"})
    f = one(line, "TL603", TOGETHER)
    assert_at(f, 1, span(line, '" Paris.\\n"'))
    assert "`completion`" in f.message
    after = fixed(line, f)
    assert parses(after)[0] == {"prompt": "Capital of France?", "completion": "Paris."}
    assert not findings(after, "TL603", TOGETHER)


def test_whitespace_around_a_prompt_is_not_assistant_whitespace():
    none(dumps({"prompt": " Capital of France?\n", "completion": "Paris."}), "TL603", TOGETHER)


# -- TL604 placeholder-text --------------------------------------------------------------------


@pytest.mark.parametrize("content", ["TODO", "TBD", "N/A", "...", " placeholder ", "Lorem ipsum"])
def test_whole_text_placeholder_is_placeholder_text(content):
    line = chat(user(), assistant(content))
    f = one(line, "TL604")
    assert_at(f, 1, span(line, json.dumps(content), after='"assistant"'))


@pytest.mark.parametrize("content", [
    "[INSERT question here]",
    "Lorem ipsum dolor sit amet.",
])
def test_unrendered_template_inside_text_is_placeholder_text(content):
    line = chat(user(content), assistant())
    f = one(line, "TL604")
    assert_at(f, 1, span(line, json.dumps(content)))
    assert "contains a placeholder" in f.message


def test_a_whole_text_that_is_a_template_variable_is_placeholder_text():
    line = chat(user("Question?"), assistant("{{answer}}"))
    f = one(line, "TL604")
    assert_at(f, 1, span(line, json.dumps("{{answer}}")))


@pytest.mark.parametrize("content", [
    "In Jinja, write {{ user_name }} to print a variable.",
    "What is on my todo list?",
    "Use {name} in an f-string.",
    "Type {{ }} to escape braces.",
    "Wait... what?",
    "Insert the key [then turn it].",
])
def test_ordinary_text_mentioning_placeholder_words_is_not_placeholder_text(content):
    none(chat(user(content), assistant()), "TL604")


def test_placeholder_is_found_in_content_parts():
    line = chat(user([text_part("TBD")]), assistant())
    assert_at(one(line, "TL604"), 1, span(line, '"TBD"'))


def test_placeholder_in_a_preference_output():
    line = dumps({"input": {"messages": [user()]}, "preferred_output": [assistant("Paris.")],
                  "non_preferred_output": [assistant("TODO")]})
    assert_at(one(line, "TL604"), 1, span(line, '"TODO"'))
