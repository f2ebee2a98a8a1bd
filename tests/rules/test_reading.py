"""TL0xx: reading the file, bytes and JSON."""

from __future__ import annotations

import json

import pytest

from tunelint.linter.settings import Settings

from ._lint import (
    FAST,
    assert_at,
    assistant,
    chat,
    codes,
    dumps,
    findings,
    fixed,
    key_span,
    lint,
    lint_files,
    none,
    one,
    parses,
    span,
    user,
    whole_line,
)

GOOD = chat()


def file_findings(path, code, settings=FAST):
    (report,) = lint_files([path], settings)
    return [f for f in report.findings if f.code == code]


def file_one(path, code, settings=FAST):
    found = file_findings(path, code, settings)
    assert len(found) == 1, [(f.code, f.line, f.message) for f in found]
    return found[0]


def write(tmp_path, data: bytes, name="train.jsonl"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- TL001 io-error --------------------------------------------------------------------------


def test_missing_file_is_io_error(tmp_path):
    f = file_one(tmp_path / "nope.jsonl", "TL001")
    assert_at(f, 1, (1, 2))
    assert f.severity.value == "error"
    assert "no such file" in f.message


def test_directory_given_as_file_is_io_error(tmp_path):
    (tmp_path / "data").mkdir()
    f = file_one(tmp_path / "data", "TL001")
    assert "directory" in f.message


def test_existing_readable_file_is_not_io_error(tmp_path):
    p = write(tmp_path, (GOOD + "\n").encode())
    assert not file_findings(p, "TL001")


# -- TL002 binary-file -------------------------------------------------------------------------


def test_file_with_nul_bytes_is_binary(tmp_path):
    p = write(tmp_path, b"PAR1\x00\x00\x15\x04" + b"x" * 50)
    f = file_one(p, "TL002")
    assert_at(f, 1, (1, 2))
    assert "NUL" in f.message


def test_utf16_file_is_binary_with_a_hint(tmp_path):
    p = write(tmp_path, (GOOD + "\n").encode("utf-16"))
    f = file_one(p, "TL002")
    assert "UTF-16" in f.message


def test_escaped_nul_inside_json_string_is_not_binary(tmp_path):
    line = chat(user("a\x00b"), assistant())  # json.dumps writes \u0000, no raw NUL byte
    assert "\\u0000" in line
    p = write(tmp_path, (line + "\n").encode())
    assert not file_findings(p, "TL002")


# -- TL003 empty-file --------------------------------------------------------------------------


def test_zero_byte_file_is_empty(tmp_path):
    p = write(tmp_path, b"")
    f = file_one(p, "TL003")
    assert_at(f, 1, (1, 2))
    assert f.message == "the file is empty"


def test_whitespace_only_file_is_empty(tmp_path):
    p = write(tmp_path, b"\n  \n\t\n")
    assert "only whitespace" in file_one(p, "TL003").message


def test_document_of_blank_lines_is_empty():
    assert_at(one("\n\n\n", "TL003"), 1, (1, 2))


def test_file_with_one_example_and_a_blank_line_is_not_empty():
    report = lint(GOOD + "\n\n")
    assert "TL003" not in {f.code for f in report.findings}
    assert "TL007" in {f.code for f in report.findings}


# -- TL004 invalid-utf8 ------------------------------------------------------------------------


def test_latin1_byte_is_invalid_utf8_at_that_column(tmp_path):
    prefix = '{"messages": [{"role": "user", "content": "caf'
    p = write(tmp_path, prefix.encode() + b'\xe9"}]}\n')
    f = file_one(p, "TL004")
    assert_at(f, 1, (len(prefix) + 1, len(prefix) + 2))
    assert "0xe9" in f.message


def test_invalid_utf8_column_counts_code_points_not_bytes(tmp_path):
    good = (GOOD + "\n").encode()
    prefix = '{"messages": [{"role": "user", "content": "na\u00efve '  # ï is two bytes
    p = write(tmp_path, good + prefix.encode() + b'\xff"}]}\n')
    f = file_one(p, "TL004")
    assert_at(f, 2, (len(prefix) + 1, len(prefix) + 2))


def test_properly_encoded_accented_text_is_not_invalid_utf8(tmp_path):
    line = json.dumps({"messages": [user("caf\u00e9"), assistant()]}, ensure_ascii=False)
    p = write(tmp_path, (line + "\n").encode())
    assert not file_findings(p, "TL004")


# -- TL005 byte-order-mark ---------------------------------------------------------------------


def test_utf8_bom_is_reported_and_removed_by_its_fix(tmp_path):
    p = write(tmp_path, b"\xef\xbb\xbf" + (GOOD + "\n").encode())
    f = file_one(p, "TL005")
    assert_at(f, 1, (1, 2))
    assert f.severity.value == "warning"
    text = p.read_text(encoding="utf-8")
    after = fixed(text, f)
    assert not after.startswith("\ufeff")
    assert parses(after)
    assert not findings(after, "TL005")


def test_findings_on_the_bom_line_are_shifted_past_the_bom(tmp_path):
    line = chat(user(), assistant(weight=0.5))
    p = write(tmp_path, b"\xef\xbb\xbf" + (line + "\n").encode())
    f = file_one(p, "TL108")
    start, end = span(line, "0.5")
    assert_at(f, 1, (start + 1, end + 1))


def test_bom_character_inside_a_string_is_not_a_byte_order_mark():
    line = json.dumps({"messages": [user("\ufeffHi"), assistant()]}, ensure_ascii=False)
    none(line, "TL005")


# -- TL006 crlf-line-endings -------------------------------------------------------------------


def test_crlf_endings_are_reported_once_with_the_count_and_fixed(tmp_path):
    p = write(tmp_path, (GOOD + "\r\n" + GOOD + "\r\n").encode())
    f = file_one(p, "TL006")
    assert_at(f, 1, (1, 2))
    assert f.severity.value == "info"
    assert f.message.startswith("2 lines end with CRLF")
    with open(p, encoding="utf-8", newline="") as fh:
        text = fh.read()
    after = fixed(text, f)
    assert "\r" not in after
    assert len(parses(after)) == 2
    assert not findings(after, "TL006")


def test_crlf_is_reported_at_the_first_crlf_line():
    f = one(GOOD + "\n" + GOOD + "\r\n", "TL006")
    assert f.line == 2
    assert f.message.startswith("1 line end")


def test_escaped_crlf_inside_strings_is_not_crlf_line_endings():
    line = chat(user("line one\r\nline two"), assistant())
    none(line, "TL006")


# -- TL007 blank-line --------------------------------------------------------------------------


def test_empty_line_between_examples_is_blank_line_and_fix_deletes_it():
    text = GOOD + "\n\n" + GOOD + "\n"
    f = one(text, "TL007")
    assert_at(f, 2, (1, 2))
    after = fixed(text, f)
    assert after == GOOD + "\n" + GOOD + "\n"
    assert not findings(after, "TL007")


def test_whitespace_only_line_is_blank_line_spanning_the_whitespace():
    f = one(GOOD + "\n \t  \n" + GOOD, "TL007")
    assert_at(f, 2, (1, 5))


def test_final_newline_is_not_a_blank_line():
    none(GOOD + "\n" + GOOD + "\n", "TL007")


# -- TL008 invalid-json ------------------------------------------------------------------------


def test_single_quoted_keys_are_invalid_json_at_the_quote():
    line = "{'messages': []}"
    f = one(line, "TL008")
    assert_at(f, 1, (2, 3))
    assert "double quotes" in f.message


def test_trailing_comma_is_invalid_json_and_fix_removes_it():
    line = GOOD[:-1] + ", }"
    f = one(line, "TL008")
    comma = line.rindex(",")
    assert_at(f, 1, (comma + 1, comma + 2))
    after = fixed(line + "\n", f)
    assert parses(after) == [json.loads(GOOD)]
    assert not findings(after, "TL008")


def test_raw_tab_inside_a_string_is_invalid_json_pointing_at_the_tab():
    line = '{"messages": [{"role": "user", "content": "a\tb"}]}'
    f = one(line, "TL008")
    tab = line.index("\t")
    assert_at(f, 1, (tab + 1, tab + 2))
    assert "\\t" in f.message


def test_invalid_unicode_escape_is_invalid_json_not_a_crash():
    line = '{"messages": [{"role": "user", "content": "bad \\uZZZZ"}]}'
    f = one(line, "TL008")
    esc = line.index("\\uZZZZ")
    assert_at(f, 1, (esc + 1, esc + 2))


def test_comma_after_the_example_is_invalid_json_not_several_values_and_fix_removes_it():
    line = GOOD + ","
    f = one(line, "TL008")
    assert_at(f, 1, (len(GOOD) + 1, len(GOOD) + 2))
    none(line, "TL015")
    after = fixed(line + "\n", f)
    assert after == GOOD + "\n"
    assert not findings(after, "TL008")


def test_extra_closing_brace_is_invalid_json_not_several_values():
    line = GOOD + "}"
    f = one(line, "TL008")
    assert_at(f, 1, (len(GOOD) + 1, len(GOOD) + 2))
    assert f.fix is None
    none(line, "TL015")


def test_comma_and_brace_inside_a_string_are_not_invalid_json():
    line = chat(user("a,}"), assistant("b,]"))
    assert not codes(line) & {"TL008", "TL009"}


# -- TL009 truncated-line ----------------------------------------------------------------------


def test_line_cut_inside_a_string_is_truncated():
    line = GOOD[: GOOD.index("Paris") + 3]
    f = one(line, "TL009")
    assert_at(f, 1, (len(line), len(line) + 1))
    assert not findings(line, "TL008")


def test_line_cut_after_a_value_is_truncated():
    line = GOOD[:-2]  # the closing ']}' lost
    assert_at(one(line, "TL009"), 1, (len(line), len(line) + 1))


def test_line_cut_inside_a_literal_is_truncated_not_invalid():
    line = '{"messages": [{"role": "assistant", "content": nu'
    assert_at(one(line, "TL009"), 1, (len(line), len(line) + 1))
    none(line, "TL008")


def test_complete_line_is_not_truncated():
    none(GOOD, "TL009")


# -- TL010 non-finite-number -------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literal_is_reported_at_the_literal(literal):
    line = GOOD[:-1] + f', "score": {literal}}}'
    f = one(line, "TL010")
    assert_at(f, 1, span(line, literal))
    assert literal in f.message
    none(line, "TL008")


def test_nan_as_a_string_is_not_a_non_finite_number():
    none(chat(user("NaN"), assistant("Infinity")), "TL010")


# -- TL011 duplicate-key -----------------------------------------------------------------------


def test_role_twice_in_a_message_is_duplicate_key_at_the_second_key():
    line = '{"messages": [{"role": "user", "content": "Hi", "role": "assistant"}]}'
    f = one(line, "TL011")
    assert_at(f, 1, key_span(line, "role", nth=1))
    first = key_span(line, "role")[0]
    assert [r.column for r in f.related] == [first]
    assert f"column {first}" in f.message


def test_same_key_in_different_objects_is_not_a_duplicate_key():
    none(chat(), "TL011")


def test_quoted_key_text_inside_a_string_is_not_a_duplicate_key():
    line = chat(user('{"role": "x", "role": "y"}'), assistant('say "role": yes'))
    none(line, "TL011")


# -- TL012 not-an-object -----------------------------------------------------------------------


def test_array_of_examples_on_one_line_is_not_an_object():
    line = "[" + GOOD + ", " + GOOD + "]"
    f = one(GOOD + "\n" + line, "TL012")
    assert_at(f, 2, whole_line(line))
    assert "array of 2 items" in f.message


def test_bare_string_line_is_not_an_object():
    f = one('"hello"', "TL012")
    assert_at(f, 1, (1, 8))
    assert "str" in f.message


def test_object_line_is_an_object():
    none(GOOD, "TL012")


# -- TL013 json-not-jsonl ----------------------------------------------------------------------


def test_pretty_printed_json_array_is_json_not_jsonl(tmp_path):
    doc = [json.loads(GOOD), json.loads(GOOD)]
    p = write(tmp_path, json.dumps(doc, indent=2).encode(), "train.json")
    f = file_one(p, "TL013")
    assert_at(f, 1, (1, 2))
    assert "JSON array of 2 items" in f.message and "pretty-printed" in f.message


def test_one_pretty_printed_object_is_json_not_jsonl(tmp_path):
    p = write(tmp_path, json.dumps(json.loads(GOOD), indent=2).encode())
    assert "pretty-printed" in file_one(p, "TL013").message


def test_whole_file_array_on_one_line_is_json_not_jsonl(tmp_path):
    p = write(tmp_path, ("[" + GOOD + "]\n").encode())
    assert "on one line" in file_one(p, "TL013").message


def test_jsonl_with_one_object_per_line_is_not_json_document(tmp_path):
    p = write(tmp_path, (GOOD + "\n" + GOOD + "\n").encode())
    assert not file_findings(p, "TL013")


# -- TL014 very-long-line ----------------------------------------------------------------------


def test_line_over_max_line_bytes_is_very_long():
    line = chat(user("x" * 300), assistant())
    f = one(line, "TL014", Settings(tokenizer=None, max_line_bytes=200))
    assert_at(f, 1, (1, 2))


def test_very_long_line_counts_bytes_of_the_file(tmp_path):
    line = json.dumps({"messages": [user("\u00e9" * 150), assistant()]}, ensure_ascii=False)
    assert len(line) < 300 < len(line.encode())
    p = write(tmp_path, (line + "\n").encode())
    assert file_findings(p, "TL014", Settings(tokenizer=None, max_line_bytes=300))


def test_line_exactly_at_max_line_bytes_is_not_very_long():
    line = chat(user("x" * 300), assistant())
    none(line, "TL014", Settings(tokenizer=None, max_line_bytes=len(line)))


# -- TL015 several-values-on-line --------------------------------------------------------------


def test_two_examples_on_one_line_and_fix_splits_them():
    second = chat(user("And Spain?"), assistant("Madrid."))
    line = GOOD + second
    f = one(line, "TL015")
    assert_at(f, 1, (len(GOOD) + 1, len(line) + 1))
    after = fixed(line + "\n", f)
    assert parses(after) == [json.loads(GOOD), json.loads(second)]
    assert not findings(after, "TL015")


def test_second_value_after_a_space_is_reported_where_it_starts():
    line = GOOD + "  " + GOOD
    assert_at(one(line, "TL015"), 1, (len(GOOD) + 3, len(line) + 1))


def test_trailing_whitespace_after_one_example_is_not_several_values():
    none(GOOD + "   ", "TL015")


# -- TL016 unknown-format ----------------------------------------------------------------------


def test_misspelt_messages_key_is_unknown_format_with_a_hint():
    line = dumps({"message": [user(), assistant()]})
    f = one(line, "TL016")
    assert_at(f, 1, whole_line(line))
    assert "did you mean 'messages'" in f.message


def test_plain_text_object_is_a_known_format():
    none(dumps({"text": "Once upon a time"}), "TL016")


# -- TL017 too-deeply-nested -------------------------------------------------------------------


def test_nesting_past_128_levels_is_reported_at_the_bracket_that_opens_level_129():
    deep = dumps({"messages": [user(), assistant()], "x": 0}).replace("0}", "[" * 200 + "]" * 200 + "}")
    f = one(deep, "TL017")
    level2 = deep.index("[" * 200)
    assert_at(f, 1, (level2 + 128, level2 + 129))  # 1-based: level 129 is the 128th bracket of "x"
    assert codes(deep) == {"TL017"}  # nothing else is checked on the line


def test_nesting_of_128_levels_is_not_too_deep():
    line = dumps({"messages": [user(), assistant()], "x": 0}).replace("0}", "[" * 127 + "]" * 127 + "}")
    none(line, "TL017")
