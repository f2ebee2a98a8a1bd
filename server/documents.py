"""Documents as arrays of lines, changed in place: an edit costs time proportional to the lines
it touches, not to the file (pygls' own TextDocument rewrites the whole text on every change)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1)


def utf16_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) // 2


def to_utf16(line: str, index: int) -> int:
    """Python string index → UTF-16 column (what LSP positions count)."""
    if line.isascii():
        return index
    return len(line[:index].encode("utf-16-le", "surrogatepass")) // 2


def from_utf16(line: str, column: int) -> int:
    """UTF-16 column → Python string index (clamped to the line)."""
    if line.isascii():
        return min(column, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= column:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


@dataclass
class Change:
    """What an edit did to the line array: lines[start:start+removed] became `inserted` lines."""

    start: int
    removed_ids: list[int]
    inserted: int


@dataclass
class Document:
    uri: str
    path: str
    version: int
    lines: list[str] = field(default_factory=list)  # without "\n"; a CRLF line keeps its "\r"
    ids: list[int] = field(default_factory=list)  # one stable id per line, for dataset indexes
    crlf: set[int] = field(default_factory=set)  # ids of the lines that end with "\r" (CRLF)

    @classmethod
    def open(cls, uri: str, path: str, version: int, text: str) -> Document:
        doc = cls(uri, path, version)
        doc.replace_all(text)
        return doc

    def first_crlf(self) -> int:
        """The 1-based number of the first line that ends with CRLF (0: none). Costs the lines
        before it, so nothing for a file without CRLF, one line for a Windows file."""
        if self.crlf:
            for n, i in enumerate(self.ids, 1):
                if i in self.crlf:
                    return n
        return 0

    def _track_crlf(self, ids: list[int], lines: list[str]) -> None:
        for i, line in zip(ids, lines, strict=True):
            if line.endswith("\r"):
                self.crlf.add(i)
            else:
                self.crlf.discard(i)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def replace_all(self, text: str) -> Change:
        removed = self.ids
        self.lines = text.split("\n")
        self.ids = [next(_ids) for _ in self.lines]
        self.crlf = {i for i, line in zip(self.ids, self.lines, strict=True) if line.endswith("\r")}
        return Change(0, removed, len(self.lines))

    def apply(self, start: tuple[int, int], end: tuple[int, int], text: str) -> Change:
        """Apply one incremental change; positions are (line, UTF-16 column)."""
        n = len(self.lines)
        sl = min(max(start[0], 0), n - 1)
        el = min(max(end[0], 0), n - 1)
        if (end[0], end[1]) < (start[0], start[1]):
            sl, el = el, sl
        first, last = self.lines[sl], self.lines[el]
        prefix = first[: from_utf16(first, start[1] if start[0] <= n - 1 else len(first))]
        suffix = last[from_utf16(last, end[1] if end[0] <= n - 1 else utf16_len(last)):]
        new = (prefix + text + suffix).split("\n")
        removed = self.ids[sl : el + 1]
        self.lines[sl : el + 1] = new
        # the first line keeps its id when it is edited in place, so an index entry moves with it
        self.ids[sl : el + 1] = [removed[0]] + [next(_ids) for _ in new[1:]]
        self.crlf.difference_update(removed)
        self._track_crlf(self.ids[sl : sl + len(new)], new)
        return Change(sl, removed[1:] if len(new) >= 1 else removed, len(new))

    def line_numbers(self) -> dict[int, int]:
        """id → 1-based line number, for turning index entries back into positions."""
        return {i: n for n, i in enumerate(self.ids, 1)}

    @property
    def content_lines(self) -> int:
        """Lines that hold content: a final empty line after the last newline is not a line."""
        n = len(self.lines)
        return n - 1 if n and self.lines[-1] == "" else n
