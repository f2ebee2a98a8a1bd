"""Documents as arrays of lines, changed in place: an edit costs time proportional to the lines
it touches, not to the file (pygls' own TextDocument rewrites the whole text on every change)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

_ids = itertools.count(1)


def utf16_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


def to_utf16(line: str, index: int) -> int:
    """Python string index → UTF-16 column (what LSP positions count)."""
    if line.isascii():
        return index
    return len(line[:index].encode("utf-16-le", "surrogatepass")) // 2


def split_utf16(line: str, column: int) -> tuple[str, str]:
    """The line cut at a UTF-16 column (clamped to the line), as a UTF-16 editor cuts it: a
    column between the two halves of a surrogate pair cuts the character in two."""
    if line.isascii():
        return line[:column], line[column:]
    i = from_utf16(line, column)
    if i and ord(line[i - 1]) > 0xFFFF and to_utf16(line, i) > column:  # inside line[i - 1]
        pair = line[i - 1].encode("utf-16-le")
        high, low = pair[:2].decode("utf-16-le", "surrogatepass"), pair[2:].decode("utf-16-le", "surrogatepass")
        return line[: i - 1] + high, low + line[i:]
    return line[:i], line[i:]


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"


def _join(prefix: str, text: str, suffix: str) -> str:
    """prefix + text + suffix, with surrogate halves that meet at a seam made one character
    again (the same UTF-16 text; Python would keep them apart)."""
    joined = prefix + text + suffix
    seams = prefix[-1:] + text[:1] + text[-1:] + suffix[:1]
    if any(_is_surrogate(c) for c in seams):
        return joined.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return joined


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
    lost: str | None = None  # why the text is out of sync with the editor's (a change refused)

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
        self.crlf = set()
        self._track_crlf(self.ids, self.lines)
        return Change(0, removed, len(self.lines))

    def apply(self, start: tuple[int, int], end: tuple[int, int], text: str) -> Change:
        """Apply one incremental change; positions are (line, UTF-16 column). As LSP has it, a
        position past the end of its line is the line's end, and one past the last line the
        document's end; a range whose end comes before its start is the same range reversed.
        Negative positions are not LSP's (uinteger): the protocol refuses them (main.py)."""
        if min(start + end) < 0:
            raise ValueError(f"negative position in range {start}-{end}")
        start, end = sorted((self._clamp(start), self._clamp(end)))
        sl, el = start[0], end[0]
        prefix = split_utf16(self.lines[sl], start[1])[0]
        suffix = split_utf16(self.lines[el], end[1])[1]
        new = _join(prefix, text, suffix).split("\n")
        removed = self.ids[sl : el + 1]
        self.lines[sl : el + 1] = new
        # the first line keeps its id when it is edited in place, so an index entry moves with it
        self.ids[sl : el + 1] = [removed[0]] + [next(_ids) for _ in new[1:]]
        self.crlf.difference_update(removed)
        self._track_crlf(self.ids[sl : sl + len(new)], new)
        return Change(sl, removed[1:] if len(new) >= 1 else removed, len(new))

    def _clamp(self, pos: tuple[int, int]) -> tuple[int, int]:
        """A position inside the document: past the last line is the end of the last line, past
        the end of a line is its end (before a CRLF's "\r": the editor's line has no "\r")."""
        line, column = pos
        if line >= len(self.lines):
            line, column = len(self.lines) - 1, 1 << 62
        text = self.lines[line]
        if column >= len(text):  # cheap first: UTF-16 columns are never fewer than characters
            length = utf16_len(text) - text.endswith("\r")
            column = min(column, length)
        return line, column

    def line_numbers(self) -> dict[int, int]:
        """id → 1-based line number, for turning index entries back into positions."""
        return {i: n for n, i in enumerate(self.ids, 1)}

    @property
    def content_lines(self) -> int:
        """Lines that hold content: a final empty line after the last newline is not a line."""
        n = len(self.lines)
        return n - 1 if n and self.lines[-1] == "" else n
