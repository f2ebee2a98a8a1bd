"""Findings ↔ LSP: ranges in UTF-16 columns, severities, related information, edits."""

from __future__ import annotations

from lsprotocol import types

from tunelint.linter.findings import Finding, Fix, Severity
from tunelint.linter.rule import REGISTRY

from .documents import Document, to_utf16, utf16_len

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


def diagnostic(f: Finding, doc: Document | None) -> types.Diagnostic:
    start = position(doc, f.line, f.column)
    end = position(doc, f.end_line, f.end_column)
    related = [types.DiagnosticRelatedInformation(
        location=types.Location(uri=path_to_uri(r.path), range=types.Range(
            start=types.Position(line=r.line - 1, character=r.column - 1),
            end=types.Position(line=r.line - 1, character=r.column - 1))),
        message=r.message) for r in f.related]
    return types.Diagnostic(
        range=types.Range(start=start, end=end),
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
