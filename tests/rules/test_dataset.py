"""TL8xx: rules about the whole file."""

from __future__ import annotations

from tunelint.linter.settings import Settings

from ._lint import FAST, assert_at, assistant, chat, dumps, lint, lint_files, none, one, user

TOGETHER = Settings(tokenizer=None, profile="together")


def examples(n: int) -> str:
    return "\n".join(chat(user(f"Question {i}?"), assistant(f"Answer {i}.")) for i in range(n)) + "\n"


# -- TL801 too-few-examples --------------------------------------------------------------------


def test_fewer_examples_than_the_openai_minimum_is_too_few_examples_on_line_one():
    f = one(examples(9), "TL801")
    assert_at(f, 1, (1, 2))
    assert f.message == "9 examples; the openai profile needs at least 10"


def test_blank_and_broken_lines_do_not_count_as_examples():
    text = examples(9) + "\n" + '{"messages": [\n'
    assert one(text, "TL801").message.startswith("9 examples")


def test_objects_of_unknown_format_still_count_as_examples():
    none(examples(9) + dumps({"message": []}) + "\n", "TL801")


def test_the_profile_minimum_is_enough():
    none(examples(10), "TL801")
    none(examples(1), "TL801", TOGETHER)


def test_too_few_examples_is_counted_per_file(tmp_path):
    small, big = tmp_path / "small.jsonl", tmp_path / "big.jsonl"
    small.write_text(examples(3))
    big.write_text(examples(12))
    reports = {r.path: r for r in lint_files([small, big], FAST)}
    assert [f.code for f in reports[str(small)].findings] == ["TL801"]
    assert not reports[str(big)].findings


# -- TL802 mixed-formats -----------------------------------------------------------------------


def test_line_in_a_minority_format_is_mixed_formats_at_that_line():
    text = examples(3) + dumps({"prompt": "Capital of Spain?", "completion": "Madrid."}) + "\n"
    f = one(text, "TL802", TOGETHER)
    assert_at(f, 4, (1, 2))
    assert "prompt/completion" in f.message and "3 of 4 lines" in f.message


def test_every_line_of_a_minority_format_is_reported():
    pc = dumps({"prompt": "Capital of Spain?", "completion": "Madrid."})
    text = pc + "\n" + examples(3) + pc + "\n"
    assert [f.line for f in lint(text, TOGETHER).findings if f.code == "TL802"] == [1, 5]


def test_one_format_per_file_is_not_mixed():
    none(examples(3), "TL802", TOGETHER)


def test_unparsable_and_unknown_lines_are_not_a_format():
    text = examples(3) + dumps({"message": []}) + "\n" + "{oops\n"
    none(text, "TL802", TOGETHER)
