"""Apply fixes to a file: atomically (temporary file + rename), never losing a line."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable

from .findings import Finding, Fix


def fixable(findings: Iterable[Finding], unsafe: bool = False) -> list[Finding]:
    return [f for f in findings if f.fix is not None and (f.fix.safe or unsafe)]


def apply_to_text(text: str, findings: Iterable[Finding]) -> tuple[str, int]:
    """The text with every fix applied, and how many fixes were applied. Overlapping edits on a
    line are skipped (a re-run picks them up), so no fix can corrupt another."""
    lines = text.split("\n")
    by_line: dict[int, list[Fix]] = defaultdict(list)
    normalize = False
    for f in findings:
        if f.fix is None:
            continue
        if f.fix.normalize_newlines:
            normalize = True
        if f.fix.edits:
            by_line[f.line].append(f.fix)
    applied = int(normalize)
    for number, fixes in by_line.items():
        i = number - 1
        if i >= len(lines):
            continue
        line = lines[i]
        cr = line.endswith("\r")
        body = line[:-1] if cr else line
        if any(fx.deletes_line for fx in fixes):
            lines[i] = None  # type: ignore[call-overload]
            applied += 1
            continue
        taken: list[tuple[int, int]] = []
        edits = []
        for fx in fixes:
            spans = [(e.start, e.end) for e in fx.edits]
            if any(s < te and ts < e or (s == e == ts == te) for s, e in spans for ts, te in taken):
                continue
            taken += spans
            edits += fx.edits
            applied += 1
        for e in sorted(edits, key=lambda e: e.start, reverse=True):
            body = body[: e.start] + (e.text or "") + body[e.end :]
        lines[i] = body + ("\r" if cr else "")
    out = "\n".join(line for line in lines if line is not None)
    if normalize:
        out = out.replace("\r\n", "\n")
        if out.endswith("\r"):  # a bare CR ending the file (TL006): LF, as the other line endings
            out = out[:-1] + "\n"
    return out, applied


def diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


