"""Ranges on very long lines are bounded (server/to_lsp.py): no position shown to the editor lies
past LONG_LINE_BOUND UTF-16 units of its line, so an editor that walks a line to convert a
column (Emacs's eglot) never walks 600,000 characters; ordinary lines keep exact spans, and the
edits of fixes stay exact."""

import json

from lsprotocol import types

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, open_doc
from tunelint.linter.findings import Edit, Finding, Fix, Related, Severity
from tunelint.server.documents import Document
from tunelint.server.features import findings_at
from tunelint.server.project import Source
from tunelint.server.to_lsp import LONG_LINE_BOUND, diagnostic, text_edits

LONG = {"messages": [{"role": "user", "content": "a " * 300_000}, {"role": "bot", "content": "Hi"},
                     {"role": "assistant", "content": "x", "extra_key": 1}]}


def _finding(line, col, end_line, end_col, fix=None, related=()):
    return Finding("t.jsonl", line, col, end_line, end_col, "TL104", "role", Severity.ERROR, "m", fix, related)


def test_ranges_past_the_bound_end_at_the_next_line_and_start_at_their_line():
    long_line = "🙂" * 10 + "x" * 600_000
    doc = Document.open("file:///t.jsonl", "/t.jsonl", 1, "short line\n" + long_line + "\nlast " + "y" * 9000)
    # on an ordinary line: exact
    assert diagnostic(_finding(1, 2, 1, 6), doc).range == types.Range(
        start=types.Position(line=0, character=1), end=types.Position(line=0, character=5))
    # the whole long line: from its start to the next line's start
    whole = diagnostic(_finding(2, 1, 2, len(long_line) + 1), doc).range
    assert whole == types.Range(start=types.Position(line=1, character=0), end=types.Position(line=2, character=0))
    # starting inside the bound (UTF-16: the emoji count twice), ending past it: exact start
    near = diagnostic(_finding(2, 12, 2, 500_000), doc).range
    assert near.start == types.Position(line=1, character=21) and near.end == types.Position(line=2, character=0)
    # far along: the whole line
    far = diagnostic(_finding(2, 500_000, 2, 500_005), doc).range
    assert far == whole
    # the last line, with no newline after it: the bound on that line
    last = diagnostic(_finding(3, 7000, 3, 7005), doc).range
    assert last == types.Range(start=types.Position(line=2, character=0),
                               end=types.Position(line=2, character=LONG_LINE_BOUND))
    # related locations far along point at their line's start
    rel = diagnostic(_finding(1, 1, 1, 2, related=(Related("/t.jsonl", 2, 400_000, "here"),
                                                   Related("/t.jsonl", 1, 3, "there"))), doc)
    assert [r.location.range.start for r in rel.related_information] == [
        types.Position(line=1, character=0), types.Position(line=0, character=2)]


def test_fix_edits_stay_exact_on_long_lines():
    long_line = "🙂" + "x" * 600_000
    doc = Document.open("file:///t.jsonl", "/t.jsonl", 1, long_line + "\n")
    fix = Fix("drop", (Edit(500_000, 500_004, ""),))
    (e,) = text_edits(fix, 1, doc)
    assert e.range == types.Range(start=types.Position(line=0, character=500_001),
                                  end=types.Position(line=0, character=500_005))


def test_hover_finds_a_finding_anywhere_on_its_bounded_range():
    long_line = "x" * 600_000
    doc = Document.open("file:///t.jsonl", "/t.jsonl", 1, "ab\n" + long_line + "\n")
    src = Source("/t.jsonl", doc)
    far, short = _finding(2, 500_000, 2, 500_005), _finding(1, 1, 1, 2)
    assert findings_at([far, short], src, types.Position(line=1, character=10)) == [far]
    assert findings_at([far, short], src, types.Position(line=0, character=0)) == [short]
    assert findings_at([far, short], src, types.Position(line=0, character=1)) == [short]  # exact, as before


def _within_bound(r: types.Range) -> bool:
    return all(p.character <= LONG_LINE_BOUND for p in (r.start, r.end))


async def test_a_600000_character_line_gets_bounded_ranges_on_the_right_lines(client):
    path = client.workspace / "train.jsonl"
    lines = [json.dumps(GOOD[0]), json.dumps(LONG), json.dumps(BAD_ROLE)]
    assert len(lines[1]) > 600_000
    path.write_text("\n".join(lines) + "\n")
    uri = open_doc(client, path)
    diags = await diagnostics_for(client, uri, 1, timeout=60)
    assert diags and all(_within_bound(d.range) for d in diags), [d.range for d in diags]
    on_long = [d for d in diags if d.range.start.line == 1]
    assert {"TL701", "TL104", "TL106"} <= {d.code for d in on_long}
    for d in on_long:  # each ends at the next line's start, or inside the bound on its line
        assert d.range.end == types.Position(line=2, character=0) or d.range.end.line == 1
    assert not [d for d in diags if d.range.start.line == 0]
    (short,) = [d for d in diags if d.range.start.line == 2 and d.code == "TL104"]
    start = lines[2].index('"bot"')
    assert short.range == types.Range(start=types.Position(line=2, character=start),
                                      end=types.Position(line=2, character=start + len('"bot"')))
    # the related information, inlay hints and code actions on the long line are bounded too
    for d in diags:
        assert all(_within_bound(r.location.range) for r in d.related_information or [])
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=3, character=0))))
    assert hints and all(h.position.character <= LONG_LINE_BOUND for h in hints)
    assert [h.position for h in hints if h.position.line == 1] in ([], [types.Position(line=1, character=0)])
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(
            start=types.Position(line=1, character=0), end=types.Position(line=1, character=0)),
        context=types.CodeActionContext(diagnostics=on_long)))
    for a in actions or []:
        assert all(_within_bound(d.range) for d in getattr(a, "diagnostics", None) or [])
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=5)))
    assert hover is not None and "TL104" in hover.contents.value
