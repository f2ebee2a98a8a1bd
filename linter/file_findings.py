"""A file's findings, assembled from its lines, their per-line results, the settings and the
dataset indexes. The one place that decides what is reported for a file: `tunelint check`
(linter/engine.py) feeds it every line as it streams the file; the language server
(server/project.py) feeds it the lines that have findings of their own, from its line store.
Both get the same findings by construction, as ruff's server calls the same `check_path` as
its CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .findings import Edit, Finding, Fix, Related, Severity
from .parquet import WHOLE_ROW, RowPaths, is_parquet
from .rule import REGISTRY
from .settings import Settings
from .source import FileProblem, SourceLine

# what a dataset index reports: (path, line, code, message, related ((path, line, message), ...))
# as linter.results.IndexFinding; only its fields are read here


def finding(path: str, line: int, col: int, end_col: int, code: str, message: str, settings: Settings, *,
            severity: Severity | None = None, fix: Fix | None = None, related: tuple[Related, ...] = ()) -> Finding:
    """A finding on one line, columns 1-based (`end_col` exclusive), its severity the
    violation's (`severity`), else the profile's for the rule, else the rule's; as the user's
    settings adjust it."""
    sev = settings.severity_of(code, severity or settings.default_severity(code, REGISTRY[code].severity))
    return Finding(path, line, col, line, max(end_col, col + 1), code, REGISTRY[code].name, sev, message, fix,
                   related)


def whole_file_finding(path: str, code: str, message: str, settings: Settings) -> Finding:
    return finding(path, 1, 1, 2, code, message, settings)


def line_findings(path: str, ln: SourceLine, r, s: Settings) -> list[Finding]:
    """The findings one line has on its own: reading problems and its per-line rules (`r`: its
    LineResult, None when it could not be decoded)."""
    out = []
    shift = 1 if ln.bom else 0
    if ln.bom and s.enabled("TL005"):
        out.append(finding(path, ln.number, 1, 2, "TL005", "the file starts with a UTF-8 byte order mark", s,
                           fix=Fix("Remove the byte order mark", (Edit(0, 1, ""),))))
    if ln.size > s.max_line_bytes and s.enabled("TL014"):
        out.append(finding(path, ln.number, 1, 2, "TL014",
                           f"line is {ln.size / 1048576:.1f} MiB (limit {s.max_line_bytes / 1048576:.1f} MiB, "
                           "`max_line_bytes`): it is not checked", s))
    if r is None:
        if ln.problem is not None:
            code, start, end, message = ln.problem
            if s.enabled(code):
                out.append(finding(path, ln.number, start + 1, end + 1, code, message, s))
        return out
    for lf in r.findings:
        if s.enabled(lf.code):
            out.append(_from_line(path, ln.number, lf, shift, s))
    return out


def _from_line(path: str, number: int, lf, shift: int, s: Settings) -> Finding:
    """A LineFinding (0-based columns of the line without its BOM) as a Finding."""
    fix = lf.fix
    if fix is not None and shift:
        fix = Fix(fix.title, tuple(Edit(e.start + shift, e.end + shift, e.text) if e.start >= 0 else e
                                   for e in fix.edits), fix.safe, fix.normalize_newlines)
    related = tuple(Related(path, number, col + 1 + shift, msg) for col, msg in lf.related)
    return finding(path, number, lf.start + 1 + shift, lf.end + 1 + shift, lf.code, lf.message, s,
                   severity=lf.severity, fix=fix, related=related)


def blank_text_problem(lines: Iterable[str]) -> FileProblem | None:
    """TL003 for an editor buffer (its lines, without "\\n") with nothing but whitespace: what
    `source.check_file` says of such a file on disk. Stops at the first line with content."""
    seen = False
    for line in lines:
        if line.strip("\ufeff \t\r"):
            return None
        seen = True
    return FileProblem("TL003", "the file has only whitespace" if seen else "the file is empty")


class FileFindings:
    """One file's findings, collected as its lines go by; `finish` adds the file's own findings
    (line endings, a file of blank lines) and the dataset indexes' findings, and sorts them."""

    def __init__(self, path: str, settings: Settings, *, rows: bool = False):
        """`rows`: the file is Parquet: a finding names its row and the JSON path of its value
        (`parquet.RowPaths`), and has no fix (a Parquet file is not rewritten)."""
        self.path = path
        self.settings = settings
        self.rows = rows
        self.findings: list[Finding] = []
        self.fatal = False  # a problem with the whole file (its lines were not read)
        self.bare_cr = 0  # the number of the last line when a CR without LF ends it (on disk or in an editor)

    def file_problem(self, problem: FileProblem) -> None:
        if self.settings.enabled(problem.code):
            self.findings.append(whole_file_finding(self.path, problem.code, problem.message, self.settings))
        self.fatal = self.fatal or problem.fatal

    def add_line(self, ln: SourceLine, result) -> None:
        self.add_line_findings(ln, line_findings(self.path, ln, result, self.settings))

    def add_line_findings(self, ln: SourceLine, found: list[Finding]) -> None:
        """A line with its findings already made by `line_findings` (the server keeps them
        from one edit to the next for the lines that did not change)."""
        if ln.bare_cr:
            self.bare_cr = ln.number
        if found and self.rows:
            found = _in_row(found, ln.text)
        self.findings += found

    def finish(self, index_findings: Iterable = (), *, crlf: tuple[int, int] = (0, 0), lines: int = 0,
               examples: int = 0) -> list[Finding]:
        """`index_findings`: the dataset indexes' findings (IndexFinding) for this file;
        `crlf`: how many lines end with CRLF and the first of them; `lines`, `examples`: how many
        lines the file has and how many of them are examples."""
        s, out = self.settings, self.findings
        if self.fatal:
            out.sort(key=lambda f: f.sort_key)
            return out
        count, first = crlf
        if (count or self.bare_cr) and s.enabled("TL006"):
            # a CR that ends the file with no LF after it is not CRLF: said as what it is, and the
            # same fix converts it to LF (fix.apply_to_text)
            fix = Fix("Convert line endings to LF", (), True, normalize_newlines=True)
            bare = "the last line ends with a bare CR (a carriage return with no line feed after it)"
            if count:
                message = f"{count} line{'s' if count > 1 else ''} end with CRLF (Windows line endings)"
                message += f", and {bare}" if self.bare_cr else ""
            else:
                message = bare[0].upper() + bare[1:]
            out.append(finding(self.path, first or self.bare_cr, 1, 1, "TL006", message, s, fix=fix))
        if lines and not examples and not any(f.code == "TL003" for f in out) \
                and all(f.code == "TL007" for f in out) and s.enabled("TL003"):
            out.append(whole_file_finding(self.path, "TL003", "the file has only blank lines", s))
        out += self.from_index(index_findings)
        out.sort(key=lambda f: f.sort_key)
        return out

    def from_index(self, index_findings: Iterable) -> list[Finding]:
        """This file's findings among a dataset index's (IndexFinding), as reported."""
        s, out = self.settings, []
        for f in index_findings:
            if f.path == self.path and s.enabled(f.code):
                related = tuple(Related(p, n, 1, m, WHOLE_ROW if is_parquet(p) else None) for p, n, m in f.related)
                start, end = getattr(f, "columns", None) or (0, 1)  # a text span, else the line's start
                found = finding(f.path, f.line, start + 1, end + 1, f.code, f.message, s, related=related)
                out.append(replace(found, json_path=WHOLE_ROW) if self.rows else found)
        return out


def _in_row(found: list[Finding], text: str | None) -> list[Finding]:
    """A Parquet row's findings: placed by the JSON path of their value, without fixes."""
    paths = RowPaths(text or "")
    out = []
    for f in found:
        related = tuple(replace(r, json_path=paths.at(r.column - 1, r.column)) for r in f.related)
        out.append(replace(f, fix=None, related=related, json_path=paths.at(f.column - 1, f.end_column - 1)))
    return out
