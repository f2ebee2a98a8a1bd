"""What a check reports: a finding at an exact span, optionally with a fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from operator import attrgetter


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


def positional_reduce(self):
    """Pickle a slotted dataclass as its constructor call: the cache stores every line's result,
    and dataclasses' own slot pickling (`__setstate__` over `fields()`) is ~10x slower to load."""
    cls = self.__class__
    get = _FIELD_GETTERS.get(cls)
    if get is None:
        names = cls.__slots__
        get = _FIELD_GETTERS[cls] = (attrgetter(*names) if len(names) > 1
                                     else (lambda o, g=attrgetter(*names): (g(o),)))
    return cls, get(self)


_FIELD_GETTERS: dict[type, object] = {}  # class -> its fields' values as a tuple


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace columns [start, end) (0-based code points) of one line with `text`.

    `start == end == -1` with `text is None` deletes the whole line.
    """

    start: int
    end: int
    text: str | None

    __reduce__ = positional_reduce


@dataclass(frozen=True, slots=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]
    safe: bool = True
    normalize_newlines: bool = False  # also convert every CRLF in the file to LF

    __reduce__ = positional_reduce

    @property
    def deletes_line(self) -> bool:
        return any(e.text is None for e in self.edits)


@dataclass(frozen=True, slots=True)
class Related:
    """Another place a finding concerns (the line a duplicate repeats, the earlier call)."""

    path: str
    line: int
    column: int
    message: str
    json_path: str | None = None  # in a Parquet row (`line`: the row), instead of the column


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. Lines and columns are 1-based, columns count code points,
    `end_column` is exclusive (ruff's convention)."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    severity: Severity
    message: str
    fix: Fix | None = None
    related: tuple[Related, ...] = field(default=())
    # a finding in a row of a Parquet file: `line` is the row (1-based), and this JSON path of the
    # value says where in it (`$.messages[1].content`; `$`: the whole row); the columns (of the
    # row's JSON text) only order the findings and are not reported
    json_path: str | None = None

    def to_json(self) -> dict:
        out = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "message": self.message,
            "fix": None,
            "related": [_related_json(r) for r in self.related],
        }
        if self.json_path is not None:
            out["column"] = out["end_column"] = None
            out["json_path"] = self.json_path
        if self.fix is not None:
            out["fix"] = {
                "title": self.fix.title,
                "safe": self.fix.safe,
                "edits": [
                    {"start_column": e.start + 1, "end_column": e.end + 1, "text": e.text}
                    for e in self.fix.edits
                ],
            }
        return out

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.line, self.column, self.code)


def _related_json(r: Related) -> dict:
    out = {"path": r.path, "line": r.line, "column": r.column, "message": r.message}
    if r.json_path is not None:
        out["column"] = None
        out["json_path"] = r.json_path
    return out


def location(path: str, line: int, column: int, json_path: str | None) -> str:
    """`path:line:column`, or `path:row:json path` in a Parquet file, as the text output shows it."""
    return f"{path}:{line}:{column if json_path is None else json_path}"
