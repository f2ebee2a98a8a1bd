"""TLCxxx content rules: private data, secrets, language, repetition, refusals, broken text.
Each rule fires on what it is for (in several languages where that matters), stays quiet on the
look-alikes, and points at the offending characters inside the string value."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from tunelint.cli import main
from tunelint.linter.settings import Settings

from ._lint import FAST, assert_at, assistant, chat, dumps, findings, fixed, lint, none, one, span, user

GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a made-up token of GitHub's shape
OPENAI = "sk-proj-" + "Zq9XwV8uT7sR6qP5oN4m" + "T3BlbkFJ" + "a1b2C3d4E5f6G7h8I9j0a1b2"


def test_tlc101_email_in_an_answer_is_a_warning_in_a_question_info_with_exact_spans():
    line = chat(user("Write to jane.doe@gmail.com please"), assistant("Sent to jane.doe@gmail.com and bob@corp.io."))
    found = findings(line, "TLC101")
    assert [f.severity.value for f in found] == ["info", "warning", "warning"]
    assert_at(found[0], 1, span(line, "jane.doe@gmail.com"))
    assert_at(found[1], 1, span(line, "jane.doe@gmail.com", nth=1))
    assert_at(found[2], 1, span(line, "bob@corp.io"))


def test_tlc101_placeholders_are_typed_and_consistent_within_the_example_and_unsafe():
    line = chat(user("From jane.doe@gmail.com"), assistant("Reply to jane.doe@gmail.com, cc bob@corp.io."))
    found = findings(line, "TLC101")
    assert all(f.fix is not None and not f.fix.safe for f in found)
    from tunelint.linter.fix import apply_to_text

    out, n = apply_to_text(line, found)
    assert n == 3
    msgs = json.loads(out)["messages"]
    assert msgs[0]["content"] == "From <EMAIL_1>"
    assert msgs[1]["content"] == "Reply to <EMAIL_1>, cc <EMAIL_2>."


def test_tlc101_documentation_domains_are_left_alone():
    none(chat(user(), assistant("Write to someone@example.com or a@b.test.")), "TLC101")


def test_private_data_spans_survive_escapes_before_the_value():
    # json.dumps writes é as \\u00e9 and a newline as \\n: the span must still be the address
    line = chat(user(), assistant("Café —\nmail: anna.müller@gmail.com"))
    f = one(line, "TLC101")
    assert line[f.column - 1 : f.end_column - 1] == "anna.m\\u00fcller@gmail.com"


def test_tlc102_phone_numbers_only_when_selected_and_not_the_fictional_555_01xx():
    line = chat(user(), assistant("Call +1 415-555-2671 or +49 30 1234567."))
    none(line, "TLC102")
    on = Settings(tokenizer=None, select=("TL", "TLC102"))
    assert [f.message for f in findings(line, "TLC102", on)] == [
        "phone number in assistant text: '+1 415-555-2671'", "phone number in assistant text: '+49 30 1234567'"]
    none(chat(user(), assistant("Call (415) 555-0123 for the demo.")), "TLC102", on)


def test_tlc103_cards_need_a_valid_luhn_digit_and_are_not_the_networks_test_numbers():
    line = chat(user(), assistant("Card 4539 1488 0343 6467 expires soon."))
    f = one(line, "TLC103")
    assert_at(f, 1, span(line, "4539 1488 0343 6467"))
    assert "6467" in f.message and "4539" not in f.message
    none(chat(user(), assistant("Card 4539 1488 0343 6468.")), "TLC103")  # Luhn fails
    none(chat(user(), assistant("Test with 4111 1111 1111 1111.")), "TLC103")
    none(chat(user(), assistant("Order 1234567890123 shipped.")), "TLC103")


@pytest.mark.parametrize("card", ["4539-1488-0343-6467", "4539148803436467", "3401 234567 89014"])
def test_tlc103_cards_written_with_dashes_without_separators_and_in_amex_groups(card):
    line = chat(user(), assistant(f"Pay with {card} today."))
    assert_at(one(line, "TLC103"), 1, span(line, card))


def test_card_and_iban_recognisers_run_only_where_two_runs_of_four_digits_meet():
    from tunelint.linter import content_scan

    assert content_scan.scan("DE89 3704 0044").adjacent_fours()
    assert content_scan.scan("GB82WEST12345698765432").adjacent_fours()
    assert not content_scan.scan("In 2019, 2020 and 2021 we sold 4000 units.").adjacent_fours()


def test_tlc104_iban_with_its_checksum():
    line = chat(user(), assistant("Überweisen Sie auf DE89 3704 0044 0532 0130 00, danke."))
    assert_at(one(line, "TLC104"), 1, span(line, "DE89 3704 0044 0532 0130 00"))
    one(chat(user(), assistant("Virement sur FR1420041010050500013M02606.")), "TLC104")
    assert len(findings(chat(user(), assistant("Pay GB82WEST12345698765432 or NL91 ABNA 0417 1643 00.")),
                        "TLC104")) == 2
    none(chat(user(), assistant("Account DE89 3704 0044 0532 0130 01.")), "TLC104")  # bad check digits


def test_tlc105_public_ip_addresses_only():
    line = chat(user(), assistant("Point it at 8.8.8.8 or 2001:4860:4860::8888."))
    assert len(findings(line, "TLC105")) == 2
    none(chat(user(), assistant("Use 192.168.1.1, 10.0.0.5, 127.0.0.1, 203.0.113.7 or 2001:db8::1.")), "TLC105")
    none(chat(user(), assistant("Version 1.2.3.4 of 999.1.1.1")), "TLC105")


def test_tlc105_addresses_at_a_sentence_end_and_in_full_ipv6_form():
    line = chat(user(), assistant("The server is 93.184.216.34. Its v6 address is "
                                  "2001:4860:4860:0000:0000:0000:0000:8888."))
    assert [f.message.rsplit(": ", 1)[1] for f in findings(line, "TLC105")] == [
        "'93.184.216.34'", "'2001:4860:4860:0000:0000:0000:0000:8888'"]
    # one decimal per sentence, clock times and labels with colons: no address to look for
    none(chat(user(), assistant("It costs 1.5 or 2.5. Meet at 10:30: agenda: budget: plan: risks: dates: end")),
         "TLC105")
    none(chat(user(), assistant("Release 1.2.3.4.5 is out.")), "TLC105")


@pytest.mark.parametrize("secret, kind", [
    (GH, "GitHub Token"),
    ("AKIA" + "IOSFODNN7EXAMPLE", "AWS Access Key"),
    (OPENAI, "OpenAI Token"),
    ("xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "Slack Token"),
    ("sk-ant-api03-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4Cd5Ef6Gh7Ij8Kl9Mn0Op1Qr2St3Uv4Wx5Yz6-AbCdEfGh12",
     "Anthropic API key"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "JSON Web Token"),
])
def test_tlc106_secrets_are_errors_shown_masked(secret, kind):
    line = chat(user("Here is my key: " + secret), assistant("Thanks."))
    f = one(line, "TLC106")
    assert f.severity.value == "error" and kind in f.message
    assert secret not in f.message and "…" in f.message
    assert line[f.column - 1 : f.end_column - 1] in secret


def test_tlc106_keyword_with_a_high_entropy_value_and_not_a_placeholder():
    one(chat(user(), assistant('Set api_key = "9f8a7b6c5d4e3f2a1b0c9d8e7f6a" in the config.')), "TLC106")
    none(chat(user(), assistant('Set api_key = "YOUR_API_KEY_GOES_HERE" and the token: abc.')), "TLC106")
    none(chat(user(), assistant("Tokenization splits text into tokens; a password should be long.")), "TLC106")


def test_tlc106_the_secret_never_appears_in_full_in_any_output_format_nor_in_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "c"
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(cache))
    p = tmp_path / "train.jsonl"
    # other rules with fixes on the same value: their fix text must not carry the secret either
    p.write_text(chat(user(f"caf\u00c3\u00a9 key {GH}"), assistant(f"  Stored {GH} for you.  ")) + "\n")
    for fmt in ("text", "json", "github", "sarif"):
        r = CliRunner().invoke(main, ["check", "--no-stats", "--tokenizer", "none", "--format", fmt, str(p)])
        assert r.exit_code == 1, r.output
        assert "TLC106" in r.output and GH not in r.output, fmt
        assert "ghp_…q7R8" in r.output, fmt
    blobs = b"".join(v for (v,) in sqlite3.connect(cache / "lines.sqlite3").execute("SELECT v FROM results"))
    assert blobs and GH.encode() not in blobs and b"TLC106" in blobs


def test_tlc201_off_by_default_and_against_the_files_dominant_language():
    en = ["The capital of France is Paris, a large city on the river Seine known for museums.",
          "Water boils at one hundred degrees Celsius at sea level, and less on a mountain.",
          "A week has seven days, and a year has twelve months with about thirty days each.",
          "The moon goes around the earth about once a month, and the earth around the sun.",
          "Python is a programming language that many people use for data and for the web."]
    de = "Die Hauptstadt von Frankreich ist Paris, eine große Stadt an der Seine mit vielen Museen."
    text = "\n".join(chat(user("Tell me something."), assistant(t)) for t in en + [de])
    assert not [f for f in lint(text).findings if f.code == "TLC201"]
    on = Settings(tokenizer=None, select=("TL", "TLC2"))
    found = [f for f in lint(text, on).findings if f.code == "TLC201"]
    assert [(f.line, f.message.split(";")[0]) for f in found] == [(6, "the example is in German")]
    # configured languages: both are fine, and the finding (for French) points at the answer itself
    both = Settings(tokenizer=None, select=("TL", "TLC2"), languages=("en", "de"))
    fr = chat(user("Dis-moi."), assistant("La capitale de la France est Paris, une grande ville sur la Seine."))
    assert [f for f in lint(text, both).findings if f.code == "TLC201"] == []
    f = one(fr, "TLC201", both)
    assert "French" in f.message and f.column == span(fr, '"La capitale')[0]


def test_tlc202_answer_in_another_language_than_its_question():
    on = Settings(tokenizer=None, select=("TL", "TLC202"))
    q_de = "Wie heißt die Hauptstadt von Frankreich, und wofür ist diese Stadt besonders bekannt?"
    a_en = "The capital of France is Paris, a large city on the river Seine known for its museums."
    a_de = "Die Hauptstadt von Frankreich ist Paris, eine große Stadt an der Seine mit vielen Museen."
    f = one(chat(user(q_de), assistant(a_en)), "TLC202", on)
    assert f.message == "the answer is in English, the question it answers in German"
    none(chat(user(q_de), assistant(a_de)), "TLC202", on)
    none(chat(user(q_de), assistant("Paris.")), "TLC202", on)  # too short to judge
    none(chat(user(q_de), assistant(a_en)), "TLC202")  # off by default


def test_tlc301_degenerate_repetition_spans_the_repeated_part():
    loop = "Here is the plan. " + " ".join(["I will help you with that."] * 20)
    line = chat(user(), assistant(loop))
    none(line, "TLC301")  # off by default
    on = Settings(tokenizer=None, select=("TL", "TLC301"))
    f = one(line, "TLC301", on)
    assert "Gopher" in f.message
    assert line[f.column - 1 :].startswith("I will help")
    none(chat(user(), assistant("Yes. Yes. Yes.")), "TLC301", on)  # short: not judged
    prose = ("Paris is the capital of France. It lies on the Seine, in the north of the country. The city has "
             "about two million people, and its wider region more than twelve million. It is known for the "
             "Louvre, the Eiffel Tower, its cafés and its long history as a centre of art, science and trade.")
    none(chat(user(), assistant(prose)), "TLC301", on)
    lines = "\n".join(["- buy milk"] * 8 + ["- call the bank about the card and the loan"] * 8 + ["done"] * 30)
    assert "duplicate lines" in one(chat(user(), assistant(lines)), "TLC301", on).message


@pytest.mark.parametrize("answer, phrase", [
    ("As an AI language model, I do not have opinions.", "As an AI language model"),
    ("I'm sorry, but I can't help with that request.", "I'm sorry, but I can't"),
    ("Als KI-Sprachmodell habe ich keine Meinung dazu.", "Als KI-Sprachmodell"),
    ("Lo siento, pero no puedo ayudarte con eso.", "Lo siento, pero no puedo"),
    ("Je suis désolé, mais je ne peux pas faire cela.", "Je suis désolé, mais je ne peux pas"),
    ("作为一个AI，我没有个人观点。", "作为一个AI"),
])
def test_tlc401_refusals_and_boilerplate_in_several_languages(answer, phrase):
    line = chat(user(), assistant(answer))
    f = one(line, "TLC401")
    assert repr(phrase) in f.message
    none(chat(user(answer), assistant("Paris.")), "TLC401")  # the user's words are not the model's


def test_tlc401_ordinary_answers_and_the_rejected_output_are_quiet():
    none(chat(user(), assistant("Sorry for the delay: the capital is Paris.")), "TLC401")
    pref = dumps({"input": {"messages": [user()]}, "preferred_output": [assistant("Paris.")],
                  "non_preferred_output": [assistant("As an AI language model, I cannot.")]})
    none(pref, "TLC401")


def test_tlc402_a_share_of_refusals_over_the_file():
    ok = [chat(user(), assistant("Paris.")) for _ in range(60)]
    one_refusal = ok + [chat(user(), assistant("I cannot assist with that."))]
    assert not [f for f in lint("\n".join(one_refusal)).findings if f.code == "TLC402"]
    many = ok + [chat(user(), assistant("I cannot assist with that."))] * 2 + \
        [chat(user(), assistant("As an AI language model, no."))] * 2
    found = [f for f in lint("\n".join(many)).findings if f.code == "TLC402"]
    assert len(found) == 1 and found[0].line == 61 and "4 of 64" in found[0].message
    # TLC401 ignored: the share is still counted and reported
    s = Settings(tokenizer=None, ignore=("TLC401",))
    assert [f.code for f in lint("\n".join(many), s).findings if f.code.startswith("TLC4")] == ["TLC402"]


def test_tlc501_mojibake_is_repaired_with_a_safe_fix_on_the_garbled_part():
    line = chat(user(), assistant("The Mona Lisa doesn\u00e2\u20ac\u2122t have eyebrows, caf\u00c3\u00a9."))
    f = one(line, "TLC501")
    assert f.fix.safe
    assert json.loads(fixed(line, f))["messages"][1]["content"] == "The Mona Lisa doesn\u2019t have eyebrows, café."
    assert "\\u00e2" in line[f.column - 1 : f.end_column - 1]
    none(chat(user(), assistant("Une crème brûlée, naïve café, Straße, 東京.")), "TLC501")


def test_tlc502_replacement_and_control_characters():
    f = one(chat(user(), assistant("caf\ufffd au lait")), "TLC502")
    assert f.fix is None and "U+FFFD" in f.message
    line = chat(user(), assistant("bell\u0007 and form\u000cfeed"))
    f = one(line, "TLC502")
    assert f.fix.safe and "2 control characters" in f.message
    assert json.loads(fixed(line, f))["messages"][1]["content"] == "bell and formfeed"
    none(chat(user(), assistant("tabs\tand\nnewlines\r\n are fine")), "TLC502")


def test_content_rules_follow_select_ignore_and_severity():
    line = chat(user(), assistant(f"mail jane.doe@gmail.com, key {GH}"))
    assert {"TLC101", "TLC106"} <= {f.code for f in lint(line).findings}
    s = Settings(tokenizer=None, ignore=("TLC1",))
    assert not [f for f in lint(line, s).findings if f.code.startswith("TLC")]
    s = Settings(tokenizer=None, severity=(("TLC106", "warning"), ("TLC101", "error")))
    sev = {f.code: f.severity.value for f in lint(line, s).findings}
    assert sev["TLC106"] == "warning" and sev["TLC101"] == "error"
    assert FAST.enabled("TLC101") and not FAST.enabled("TLC102") and not FAST.enabled("TLC201")
    assert Settings(select=("TLC",)).enabled("TLC102") and not Settings(select=("TLC",), ignore=("TLC102",)).enabled(
        "TLC102")


def test_languages_is_a_checked_option_of_the_config_file():
    from pathlib import Path

    from tunelint.config import ConfigError, parse_config

    cfg = parse_config({"languages": ["EN", "de"], "select": ["TL", "TLC2"]}, Path("/p/tunelint.toml"))
    assert cfg.settings_for("/p/train.jsonl").languages == ("en", "de")
    with pytest.raises(ConfigError, match="'xx' is not an ISO 639-1 code"):
        parse_config({"languages": ["en", "xx"]}, Path("/p/tunelint.toml"))
    with pytest.raises(ConfigError, match="`languages` must be a list of ISO 639-1 language codes"):
        parse_config({"languages": [1]}, Path("/p/tunelint.toml"))


def test_language_rules_without_lingua_say_what_to_install(tmp_path, monkeypatch):
    import sys

    from tunelint.linter import langid

    monkeypatch.setitem(sys.modules, "lingua", None)  # as if the `lang` extra were not installed
    langid.detector.cache_clear()
    try:
        p = tmp_path / "train.jsonl"
        p.write_text(chat() + "\n")
        r = CliRunner().invoke(main, ["check", "--no-stats", "--tokenizer", "none", "--no-cache", "--select",
                                      "TL,TLC2", str(p)])
        assert r.exit_code == 2 and "pip install 'tunelint[lang]'" in r.output, r.output
        # the rules that need no language identification run as ever
        assert CliRunner().invoke(main, ["check", "--no-stats", "--tokenizer", "none", str(p)]).exit_code == 1
    finally:
        langid.detector.cache_clear()


def test_a_repeated_system_prompt_reports_on_every_line_it_is_on():
    """System prompts' signs and matches are remembered from one example to the next
    (`content_scan.scan_repeated`, `pii.find(repeated=True)`); each line still gets its own
    findings, at its own columns, and another text is not answered from the memory."""
    sys_msg = {"role": "system", "content": "Support desk. Escalate to ops.lead@acme-corp.io or 93.184.216.34."}
    lines = [dumps({"messages": [sys_msg, {"role": "user", "content": f"Question {i}?"},
                                 {"role": "assistant", "content": f"Answer {i}."}]}) for i in range(3)]
    other = {"role": "system", "content": "Support desk. Escalate to the lead."}
    lines.insert(1, dumps({"messages": [other, {"role": "user", "content": "Hi"},
                                        {"role": "assistant", "content": "Hello."}]}))
    found = [f for f in lint("\n".join(lines)).findings if f.code in ("TLC101", "TLC105")]
    assert sorted((f.line, f.code) for f in found) == [(1, "TLC101"), (1, "TLC105"), (3, "TLC101"), (3, "TLC105"),
                                                       (4, "TLC101"), (4, "TLC105")]
    for f in found:
        assert (f.column, f.end_column) in (span(lines[f.line - 1], "ops.lead@acme-corp.io"),
                                            span(lines[f.line - 1], "93.184.216.34"))
        assert f.severity.value == "info"  # a system message: read, not learnt to write


_LOADS = """
import json, sys
from tunelint.linter.analyze import Analyzer
from tunelint.linter.settings import Settings
a = Analyzer(Settings(select=tuple(sys.argv[1].split(","))))
a.prepare()
loaded = lambda: {m: m in sys.modules for m in ("detect_secrets", "ftfy", "stdnum", "phonenumbers")}
before = loaded()
a.analyze(sys.argv[2])
print(json.dumps([before, loaded()]))
"""


@pytest.mark.parametrize("line, select, before, after", [
    # the defaults: what runs on a sign only loads on the first text with it
    (chat(user("Hi"), assistant("Hello")), "TL", set(), set()),
    (chat(user("Key?"), assistant(f"Use {GH}")), "TL", set(), {"detect_secrets"}),
    (chat(user("Fix"), assistant("cafÃ© au lait")), "TL", set(), {"ftfy"}),
    (chat(user("Pay"), assistant("DE89 3704 0044 0532 0130 00")), "TL", set(), {"stdnum"}),
    # the phone matcher searches every text: with TLC102 on, it loads before the workers fork
    (chat(user("Hi"), assistant("Hello")), "TL,TLC102", {"phonenumbers"}, {"phonenumbers"}),
])
def test_recognisers_that_run_on_every_text_load_before_the_fork_the_others_on_their_first_sign(
        line, select, before, after):
    """`Analyzer.prepare` (what the CLI runs before forking its workers) loads what searches
    every text; a library needed only for a text with its sign loads in the process that meets
    one, so a dataset without any does not pay for it."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _LOADS, select, line], capture_output=True, text=True, check=True)
    was, now = json.loads(out.stdout)
    assert {m for m, v in was.items() if v} == before
    assert {m for m, v in now.items() if v} == before | after


def test_the_shared_scan_finds_the_same_signs_as_a_dfa_and_as_the_default_automaton():
    """`content_scan.prepare` (before the CLI's workers fork) builds the shared scan as a DFA,
    faster on many texts; a process that builds it on first use gets the default automaton,
    quicker to build. Both report the same signs at the same places."""
    from tunelint.linter import content_scan

    texts = ["plain words only", "mail ops.lead@acme-corp.io from 93.184.216.34 or 2001:db8::1",
             f"key {GH} and AKIAIOSFODNN7EXAMPLE", "card 4539 1488 0343 6467, IBAN DE89 3704 0044 0532 0130 00",
             "cafÃ© doesnâ€™t", "broken \ufffd and \x07 bell", "年份 2024 和 3.14 — naïve 1234567890",
             "password = 'hunter2hunter2hunter2'"]
    default, dfa = content_scan._build(dfa=False), content_scan._build(dfa=True)
    for t in texts:
        assert default[0].find_matches_as_indexes(t) == dfa[0].find_matches_as_indexes(t), t
    assert default[1] == dfa[1]
