"""Random edit sequences on the server's document model end in exactly the findings a
from-scratch lint of the final text gives (the CLI's)."""

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings
from tunelint.server.documents import Document, to_utf16
from tunelint.server.project import Project

LINES = [
    json.dumps({"messages": [{"role": "user", "content": "Pair the lamp?"},
                             {"role": "assistant", "content": "Hold the button."}]}),
    json.dumps({"messages": [{"role": "user", "content": "Dim it?"},
                             {"role": "assistant", "content": "Use the slider."}]}),
    json.dumps({"messages": [{"role": "user", "content": "Café? 🙂"}, {"role": "bot", "content": "Oui."}]}),
    json.dumps({"messages": [{"role": "user", "content": "Pair the lamp?"},
                             {"role": "assistant", "content": "Hold the button."}]}),
    '{"messages": [{"role": "user", "content": "x"},]}',
]
INSERTS = ["", "a", "\n", '"', "}", ",", " ", "é", "🙂", "\n" + LINES[1], LINES[2] + "\n", "\r"]
S = Settings(profile="hf", tokenizer="o200k_base", max_tokens=30)


def _key(findings):
    return [(f.line, f.column, f.end_column, f.code, f.message, tuple((r.line, r.message) for r in f.related))
            for f in findings]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 3), st.sampled_from(INSERTS)),
                min_size=1, max_size=12), st.randoms())
def test_random_edits_end_in_the_same_findings_as_a_fresh_lint(tmp_path_factory, edits, rnd):
    root = tmp_path_factory.mktemp("ws")
    (root / "tunelint.toml").write_text('profile = "hf"\nmax_tokens = 30\n')
    path = str(root / "train.jsonl")
    project = Project(str(root))
    text = "\n".join(rnd.choice(LINES) for _ in range(rnd.randint(1, 6))) + "\n"
    doc = Document.open("file://" + path, path, 1, text)
    src = project.open(doc)
    project.analyse_now(src)
    for a, b, span, insert in edits:
        line = a % len(doc.lines)
        text_line = doc.lines[line]
        start = b % (len(text_line) + 1)
        end_line = min(line + (span if span < 2 else 0), len(doc.lines) - 1)
        end_text = doc.lines[end_line]
        end = min(len(end_text), start + span) if end_line == line else (b * 7) % (len(end_text) + 1)
        change = doc.apply((line, to_utf16(text_line, start)), (end_line, to_utf16(end_text, end)), insert)
        project.changed(src, change)
        if rnd.random() < 0.5:
            project.analyse_now(src)
    project.analyse_now(src)
    live = project.findings(src)
    with Linter(use_cache=False, jobs=1) as linter:
        fresh = linter.lint_text(doc.text, path, project.settings_for(path)).findings
    assert _key(live) == _key(fresh), doc.text


def test_document_edits_keep_line_ids_for_untouched_lines():
    doc = Document.open("file:///x.jsonl", "/x.jsonl", 1, "a\nb\nc\n")
    ids = list(doc.ids)
    doc.apply((0, 1), (0, 1), "\nnew")
    assert doc.lines == ["a", "new", "b", "c", ""]
    assert doc.ids[0] == ids[0] and doc.ids[2:] == ids[1:]
    doc.apply((1, 0), (2, 1), "")
    assert doc.lines == ["a", "", "c", ""]


def test_utf16_positions_around_astral_characters():
    doc = Document.open("file:///x.jsonl", "/x.jsonl", 1, 'A🙂B\n')
    doc.apply((0, 3), (0, 4), "b")  # 🙂 is two UTF-16 units: B is at column 3
    assert doc.lines[0] == "A🙂b"
    _ = random


def test_a_bare_cr_ending_the_last_line_is_reported_as_the_cli_reports_it(tmp_path):
    good = LINES[0]
    for text in (good + "\r", good + "\r\n" + good + "\r", good + "\r\n" + good + "\r\n"):
        path = tmp_path / "train.jsonl"
        path.write_bytes(text.encode())
        project = Project(str(tmp_path))
        doc = Document.open("file://" + str(path), str(path), 1, text)
        src = project.open(doc)
        project.analyse_now(src)
        with Linter(use_cache=False, jobs=1) as linter:
            from_disk = linter.lint_paths([str(path)], project.settings_for)[0].findings
            in_memory = linter.lint_text(text, str(path), project.settings_for(str(path))).findings
        assert _key(project.findings(src)) == _key(from_disk) == _key(in_memory), repr(text)
        tl006 = [f for f in from_disk if f.code == "TL006"]
        assert len(tl006) == 1 and (("bare CR" in tl006[0].message) == text.endswith("\r")), repr(text)
