"""Findings ↔ LSP: ranges in UTF-16 columns, severities, related information, edits.

Ranges on very long lines are bounded: an editor turns a UTF-16 column into a buffer position
by walking the line (Emacs's eglot does it for every diagnostic on every update), so a range
ending near column 540,000 freezes it for seconds. Where a position shown to the editor would
lie past `LONG_LINE_BOUND` UTF-16 units of its line:

* an end past the bound becomes the start of the next line (line + 1, character 0): the range
  runs to the end of its line (at the bound itself on a last line with no newline after it);
* a start past the bound becomes the start of its line (character 0), so the finding covers
  the whole line (its message says which key);
* a related location's column past the bound becomes its line's start.

A range inside the bound is exact, as the CLI reports it (whose columns are always exact).
Bounded: diagnostics (published, pulled, and the ones code actions carry), related
information, inlay hints (one past the bound goes at its line's start) and the run
diagnostics of server/run_features.py. Never bounded: the text edits of fixes (they edit the
text, so they stay exact wherever they are). Hover answers no range."""

from __future__ import annotations

from lsprotocol import types

from tunelint.linter.findings import Finding, Fix, Severity
from tunelint.linter.rule import REGISTRY

from .documents import Document, to_utf16, utf16_len

LONG_LINE_BOUND = 4096  # UTF-16 units: columns past it are never shown to the editor (see above)

SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def path_to_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or path


def _line(doc: Document | None, number: int) -> str:
    if doc is None or not 0 < number <= len(doc.lines):
        return ""
    return doc.lines[number - 1]


def position(doc: Document | None, line: int, column: int) -> types.Position:
    """1-based line and code-point column (the linter's) → LSP position."""
    text = _line(doc, line)
    return types.Position(line=max(line - 1, 0), character=to_utf16(text, max(column - 1, 0)) if text else column - 1)


def bounded(doc: Document | None, start: types.Position, end: types.Position) -> types.Range:
    """The range the editor is shown for the exact range start–end: exact inside the bound,
    else as the module's docstring says."""
    if start.character > LONG_LINE_BOUND:
        start = types.Position(line=start.line, character=0)
    if end.character > LONG_LINE_BOUND:
        end = next_line_start(doc, end.line)
    return types.Range(start=start, end=end)


def next_line_start(doc: Document | None, line: int) -> types.Position:
    """The start of the line after 0-based `line`, or, on a last line with no newline after it
    (no next line to point at), the bound on that line. Without the text (a file on disk),
    the next line's start."""
    if doc is None or line + 1 < len(doc.lines):
        return types.Position(line=line + 1, character=0)
    return types.Position(line=line, character=LONG_LINE_BOUND)


def finding_range(f: Finding, doc: Document | None) -> types.Range:
    """The range a finding is shown on (bounded on very long lines)."""
    return bounded(doc, position(doc, f.line, f.column), position(doc, f.end_line, f.end_column))


def is_bounded(f: Finding, doc: Document | None) -> bool:
    """Whether the finding's shown range differs from its exact one."""
    exact = types.Range(start=position(doc, f.line, f.column), end=position(doc, f.end_line, f.end_column))
    return finding_range(f, doc) != exact


def hint_place(line: str, n: int) -> dict:
    """Where an end-of-line inlay hint goes on 0-based line `n`: at the line's end, or, past
    the long-line bound , at its start."""
    end = utf16_len(line[:-1] if line.endswith("\r") else line)
    if end > LONG_LINE_BOUND:
        return {"position": types.Position(line=n, character=0), "padding_right": True}
    return {"position": types.Position(line=n, character=end), "padding_left": True}


def visible_lines(doc: Document, rng: types.Range) -> range:
    """The 0-based content lines of `doc` that `rng` (an inlay-hint request's range) covers."""
    return range(max(rng.start.line, 0), min(rng.end.line, doc.content_lines - 1) + 1)


def line_information(doc: Document, n: int, code: str, message: str) -> types.Diagnostic:
    """An information diagnostic over the whole of line `n` (a run's result on that example)."""
    line = doc.lines[n].rstrip("\r")
    return types.Diagnostic(range=bounded(doc, types.Position(line=n, character=0),
                                          types.Position(line=n, character=utf16_len(line))),
                            severity=types.DiagnosticSeverity.Information, source="tunelint", code=code,
                            message=message)


def diagnostic(f: Finding, doc: Document | None) -> types.Diagnostic:
    related = []
    for r in f.related:
        at = types.Position(line=r.line - 1, character=r.column - 1 if r.column - 1 <= LONG_LINE_BOUND else 0)
        related.append(types.DiagnosticRelatedInformation(
            location=types.Location(uri=path_to_uri(r.path), range=types.Range(start=at, end=at)),
            message=r.message))
    return types.Diagnostic(
        range=finding_range(f, doc),
        message=f.message,
        severity=SEVERITY[f.severity],
        code=f.code,
        source="tunelint",
        related_information=related or None,
        data={"name": f.name, "fixable": f.fix is not None},
    )


def text_edits(fix: Fix, line: int, doc: Document) -> list[types.TextEdit]:
    """The LSP edits of one fix on 1-based `line` of `doc`."""
    edits = []
    if fix.normalize_newlines:
        for n, text in enumerate(doc.lines):
            if text.endswith("\r"):
                at = utf16_len(text) - 1
                edits.append(types.TextEdit(range=types.Range(start=types.Position(line=n, character=at),
                                                              end=types.Position(line=n, character=at + 1)),
                                            new_text=""))
    text = _line(doc, line)
    for e in fix.edits:
        if e.text is None:  # delete the whole line
            edits.append(types.TextEdit(range=types.Range(start=types.Position(line=line - 1, character=0),
                                                          end=types.Position(line=line, character=0)), new_text=""))
        else:
            edits.append(types.TextEdit(range=types.Range(
                start=types.Position(line=line - 1, character=to_utf16(text, e.start)),
                end=types.Position(line=line - 1, character=to_utf16(text, e.end))), new_text=e.text))
    return edits


def rule_markdown(code: str) -> str:
    r = REGISTRY.get(code)
    if r is None:
        return code
    return f"**{r.code} {r.name}** ({r.severity.value} by default)\n\n{r.doc}"
