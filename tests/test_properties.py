"""Properties that must hold for any input: no crash, and a line's findings do not depend on
the lines around it."""

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

SEEDS = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris."}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                               {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
                  {"role": "assistant", "content": "A chart.", "weight": 1}]},
    {"tools": [{"type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}],
     "messages": [{"role": "user", "content": "call f"},
                  {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                        "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "ok"}, {"role": "assistant", "content": "Done."}]},
    {"input": {"messages": [{"role": "user", "content": "Hi"}]},
     "preferred_output": [{"role": "assistant", "content": "Hello!"}],
     "non_preferred_output": [{"role": "assistant", "content": "Go away."}]},
]
SEED_LINES = [json.dumps(s, ensure_ascii=False) for s in SEEDS]
ALPHABET = '{}[]",:\\ \t\r\n0123456789.eE+-abcnulltrueNaN\ufeff\u00e9\u2028\ud83d\ude00\x00'


@st.composite
def mutated_line(draw):
    line = draw(st.sampled_from(SEED_LINES))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "swap"]))
        if not line:
            break
        i = draw(st.integers(0, len(line) - 1))
        if op == "delete":
            line = line[:i] + line[i + 1 :]
        elif op == "insert":
            line = line[:i] + draw(st.sampled_from(ALPHABET)) + line[i:]
        elif op == "replace":
            line = line[:i] + draw(st.sampled_from(ALPHABET)) + line[i + 1 :]
        elif op == "truncate":
            line = line[:i]
        else:
            j = draw(st.integers(0, len(line) - 1))
            a, b = sorted((i, j))
            line = line[:a] + line[b:] + line[a:b]
    return line.replace("\n", " ")


_linter = Linter(use_cache=False, jobs=1)
_settings = Settings(profile="hf", tokenizer="o200k_base", max_tokens=64)


def _per_line(report, number):
    return sorted((f.code, f.column, f.end_column, f.message) for f in report.findings
                  if f.line == number and f.code not in ("TL006", "TL005", "TL003")
                  and f.code[:3] not in ("TL8", "TL9"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_line(), min_size=1, max_size=6))
def test_mutated_lines_never_crash_and_lint_the_same_alone_or_in_a_file(lines):
    whole = _linter.lint_text("\n".join(lines) + "\n", "train.jsonl", _settings)
    for number, line in enumerate(lines, 1):
        if line.startswith("\ufeff"):
            continue  # a BOM only means something at the start of the file: alone, the line is line 1
        if not line.strip("\ufeff \t\r"):
            continue  # alone, a blank line is an empty file (TL003): a file-level finding
        alone = _linter.lint_text(line + "\n", "train.jsonl", _settings)
        assert _per_line(alone, 1) == _per_line(whole, number)
    for f in whole.findings:
        assert 1 <= f.line <= max(len(lines), 1)
        assert 1 <= f.column < f.end_column or f.end_line > f.line


def test_file_and_text_paths_agree_on_a_random_mix(tmp_path):
    rnd = random.Random(7)
    lines = [rnd.choice(SEED_LINES) for _ in range(50)]
    lines[3] = lines[3][:-5]
    lines[10] = lines[10].replace('"user"', '"human"')
    text = "\n".join(lines) + "\n"
    p = tmp_path / "train.jsonl"
    p.write_text(text, encoding="utf-8")
    a = _linter.lint_text(text, str(p), _settings).findings
    b = _linter.lint_paths([str(p)], lambda _: _settings)[0].findings
    assert a == b


_json_text = st.text(alphabet=st.sampled_from('ab"\\: {}é\u2028'), max_size=6)
_keys = st.sampled_from(["a", "b", 'q"', "c:", "\\"])


def _json_string(s: str, escapes: frozenset) -> str:
    """`s` as a JSON string, with its colons, quotes and non-ASCII characters written as
    `\\uXXXX` escapes when `escapes` says so (as some writers do), else as json.dumps does."""
    out = []
    for c in s:
        if c in escapes or (not c.isascii() and "non-ascii" in escapes):
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(json.dumps(c, ensure_ascii=False)[1:-1])
    return '"' + "".join(out) + '"'


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_keys, _json_text), min_size=1, max_size=6), st.sampled_from([": ", ":", " : ", "\t:"]),
       st.frozensets(st.sampled_from([":", '"', "non-ascii"])))
def test_fast_duplicate_key_check_agrees_with_the_scanner(pairs, colon, escapes):
    """The fast path must never miss a duplicate key that the position-aware scanner sees,
    whatever the blanks around the colons and the characters written as escapes."""
    from tunelint.linter.locate import locate
    from tunelint.linter.parse import parse_line

    text = "{" + ", ".join(_json_string(k, escapes) + colon + _json_string(v, escapes) for k, v in pairs) + "}"
    has_dups = bool(locate(text).duplicates)
    for line in (text, text.encode("utf-8")):  # a text, or the bytes of a line read from a file
        _, violations = parse_line(line)
        assert any(v.code == "TL011" for v in violations) == has_dups


_scalar = st.one_of(st.none(), st.integers(-1, 3), st.sampled_from(["", " ", "x", "c1", "f", "{\"x\": 1}"]))
_part = st.one_of(_scalar, st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["text", "image_url", "audio", 3]),
    "text": st.one_of(st.just("hi"), _scalar),
    "image_url": st.one_of(_scalar, st.fixed_dictionaries({}, optional={"url": st.sampled_from(
        ["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==", "ftp://x", ""])}))}))
_call = st.one_of(_scalar, st.fixed_dictionaries({}, optional={
    "id": st.sampled_from(["c1", "c2", 7]), "type": st.sampled_from(["function", "x"]),
    "function": st.one_of(_scalar, st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["f", "g", 1]),
        "arguments": st.sampled_from(["{\"x\": 1}", "{}", "[", "\"{}\"", 2])}))}))
_message = st.one_of(_scalar, st.fixed_dictionaries({}, optional={
    "role": st.sampled_from(["system", "user", "assistant", "tool", "function", "bot", None]),
    "content": st.one_of(_scalar, st.just("Some text."), st.lists(_part, max_size=3), st.just({"a": 1})),
    "tool_calls": st.one_of(_scalar, st.lists(_call, max_size=3), st.just({})),
    "tool_call_id": st.sampled_from(["c1", "c3", 5]),
    "weight": st.sampled_from([0, 1, 2]), "name": st.sampled_from(["bob", "a b", 3])}))
_tools = st.one_of(_scalar, st.lists(st.one_of(_scalar, st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["function", "x"]),
    "function": st.fixed_dictionaries({}, optional={
        "name": st.sampled_from(["f", "bad name", 2]),
        "parameters": st.sampled_from([{"type": "object", "properties": {"x": {"type": "integer"}}},
                                       {"type": 5}, "x"])})})), max_size=2))
_example = st.one_of(
    st.fixed_dictionaries({"messages": st.one_of(st.lists(_message, max_size=5), _scalar)},
                          optional={"tools": _tools, "functions": _tools}),
    st.fixed_dictionaries({"input": st.fixed_dictionaries({"messages": st.lists(_message, max_size=3)}),
                           "preferred_output": st.lists(_message, max_size=2),
                           "non_preferred_output": st.lists(_message, max_size=2)}, optional={"tools": _tools}),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_example.map(json.dumps), mutated_line()), min_size=1, max_size=4))
def test_skipping_rules_an_example_has_no_features_for_changes_nothing(lines):
    """The analyzer skips tool and content-part rules for examples without tools or parts
    (`Rule.needs`): it must report exactly what running every rule reports."""
    from tunelint.linter.analyze import Analyzer

    for profile in ("hf", "openai"):
        analyzer = Analyzer(Settings(profile=profile, tokenizer=None))
        gated = analyzer.analyze_many(lines)
        analyzer.gate = False
        assert analyzer.analyze_many(lines) == gated


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_example.map(json.dumps), _example.map(lambda e: json.dumps(e, ensure_ascii=False)),
                          mutated_line()), min_size=1, max_size=4))
def test_a_line_analysed_from_its_bytes_gives_what_its_text_gives(lines):
    """Lines read from a file are analysed from their UTF-8 bytes (decoded only for findings'
    columns): every result must be the one the text gives."""
    lines = [t for t in lines if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]  # files hold valid UTF-8
    analyzer = _linter.analyzer(_settings)  # one for every example: it builds a tokenizer
    assert analyzer.analyze_many([t.encode("utf-8") for t in lines]) == analyzer.analyze_many(lines)
