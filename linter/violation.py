"""What a check returns: a `Violation` at a JSON path (or at columns), optionally with a fix spec
that the analyzer turns into an exact `findings.Fix` once the line's spans are known.

A leaf, shared by the rule families (`rules/`), the line parser and the analyzer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .findings import Edit, Severity


@dataclass(frozen=True, slots=True)
class ReplaceValue:
    """Fix: put `value` (serialised as compact JSON) where the value at `path` is."""

    path: tuple
    value: Any
    title: str
    safe: bool = True


@dataclass(frozen=True, slots=True)
class ReplaceKey:
    path: tuple
    key: str
    title: str
    safe: bool = True


@dataclass(frozen=True, slots=True)
class ReplaceWithin:
    """Fix: replace characters [start, end) of the decoded string at `path` with `text` (written
    into the line with JSON escapes where it needs them)."""

    path: tuple
    start: int
    end: int
    text: str
    title: str
    safe: bool = True


@dataclass(frozen=True, slots=True)
class RawEdits:
    edits: tuple[Edit, ...]
    title: str
    safe: bool = True
    normalize_newlines: bool = False


@dataclass(slots=True)
class Violation:
    """What a check returns. `at` is a JSON path; `part` says whether to point at the key or the
    value there. `columns` (0-based, end exclusive) is used where there is no path (bad JSON)."""

    message: str
    at: tuple = ()
    part: str = "value"
    columns: tuple[int, int] | None = None
    fix: ReplaceValue | ReplaceKey | ReplaceWithin | RawEdits | None = None
    severity: Severity | None = None  # a profile may make a rule stricter or milder
    related: tuple[tuple[tuple, str], ...] = ()  # (path on the same line, message)
    related_columns: tuple[tuple[tuple[int, int], str], ...] = ()  # ((start, end), message)
    code: str = ""  # filled in by the engine
    # characters [start, end) of the decoded string at `at`: the finding points at them (content
    # rules: the e-mail address inside a message), not at the whole value
    within: tuple[int, int] | None = None
