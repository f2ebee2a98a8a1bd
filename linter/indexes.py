"""Dataset-wide indexes: cross-line state fed one line result at a time.

This is the extension point for rules that need more than one line (duplicates and split
leakage plug in here). An index gets every line's result as the file is read, and reports its
findings at the end. The language server keeps the same indexes current on each edit with
`remove`/`add` instead of rebuilding them.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from .example import FORMAT_LABELS
from .profiles import get_profile
from .results import IndexFinding, LineResult
from .settings import Settings


class DatasetIndex(Protocol):
    """`line` in add/remove is a line id: the line number in the CLI; in the language server an
    id that survives insertions above the line, turned back into a number when findings are made."""

    def add(self, path: str, line: int, text: str, result: LineResult) -> None: ...

    def remove(self, path: str, line: int) -> None: ...

    def findings(self) -> list[IndexFinding]: ...


def _same_line(path: str, line: int) -> int:
    return line


class FormatIndex:
    """TL802 mixed-formats: lines whose format differs from the file's most common one."""

    def __init__(self, line_of=None) -> None:
        self.line_of = line_of or _same_line
        self.formats: dict[str, dict[int, str]] = {}
        self.counts: dict[str, Counter] = {}  # path → format → lines, kept current (findings costs no count)

    def add(self, path: str, line: int, text: str, result: LineResult) -> None:
        if result.format:
            by_line = self.formats.get(path)
            if by_line is None:  # (not setdefault: it would build a dict and a Counter for every line)
                by_line = self.formats[path] = {}
                self.counts[path] = Counter()
            old = by_line.get(line)
            if old == result.format:
                return
            if old is not None:
                self._uncount(path, old)
            by_line[line] = result.format
            self.counts[path][result.format] += 1
        else:  # a line edited in place keeps its id (the server): its old format must go
            self.remove(path, line)

    def remove(self, path: str, line: int) -> None:
        old = self.formats.get(path, {}).pop(line, None)
        if old is not None:
            self._uncount(path, old)

    def _uncount(self, path: str, fmt: str) -> None:
        counts = self.counts[path]
        counts[fmt] -= 1
        if not counts[fmt]:
            del counts[fmt]

    def findings(self) -> list[IndexFinding]:
        out = []
        for path, by_line in self.formats.items():
            counts = self.counts.get(path, Counter())
            if len(counts) < 2:
                continue
            n = max(counts.values())
            tied = [f for f, c in counts.items() if c == n]
            # a tie goes to the format of the file's first line among them, wherever the lines
            # were added from (the server re-adds an edited line: insertion order is not the file's)
            main = tied[0] if len(tied) == 1 else min(tied, key=lambda f: min(
                self.line_of(path, ln) for ln, g in by_line.items() if g == f))
            for line, fmt in by_line.items():
                if fmt != main:
                    out.append(IndexFinding(path, self.line_of(path, line), "TL802",
                                            f"this line is {FORMAT_LABELS[fmt]} but {n} of {len(by_line)} lines are "
                                            f"{FORMAT_LABELS[main]}: one file, one format"))
        return sorted(out, key=lambda f: (f.path, f.line))


class SizeIndex:
    """TL801 too-few-examples: fewer examples than the profile's minimum."""

    def __init__(self, settings_for: dict[str, Settings] | Settings) -> None:
        self.settings_for = settings_for
        self.examples: dict[str, set[int]] = {}

    def add(self, path: str, line: int, text: str, result: LineResult) -> None:
        bucket = self.examples.get(path)
        if bucket is None:
            bucket = self.examples[path] = set()
        if result.is_example:
            bucket.add(line)
        else:  # a line edited in place keeps its id (the server): it is no longer an example
            bucket.discard(line)

    def remove(self, path: str, line: int) -> None:
        self.examples.get(path, set()).discard(line)

    def count(self, path: str) -> int:
        """How many examples `path` has."""
        return len(self.examples.get(path, ()))

    def findings(self) -> list[IndexFinding]:
        out = []
        for path, lines in self.examples.items():
            s = self.settings_for if isinstance(self.settings_for, Settings) else self.settings_for[path]
            minimum = get_profile(s.profile).min_examples
            if 0 < len(lines) < minimum:
                out.append(IndexFinding(path, 1, "TL801", f"{len(lines)} example{'s' if len(lines) != 1 else ''}; "
                                        f"the {s.profile} profile needs at least {minimum}"))
        return out
