"""Rules: a stable code, a kebab-case name, a default severity, a docstring that is the user's
documentation, and a check. Rules do not know about files, editors or caches."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    fix: ReplaceValue | ReplaceKey | RawEdits | None = None
    severity: Severity | None = None  # a profile may make a rule stricter or milder
    related: tuple[tuple[tuple, str], ...] = ()  # (path on the same line, message)
    related_columns: tuple[tuple[tuple[int, int], str], ...] = ()  # ((start, end), message)
    code: str = ""  # filled in by the engine


Check = Callable[..., Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    doc: str
    check: Check | None = field(compare=False, default=None)
    scope: str = "example"  # "example": one line at a time; "file"/"dataset": cross-line
    formats: frozenset[str] = frozenset()  # empty: every format
    fixable: bool = False
    # what an example must have for the check to find anything: "tools" (a `tools`/`functions`
    # key, a `tool_calls` key or a tool message) or "parts" (a message whose content is a list);
    # None: anything. Lets the analyzer skip checks that cannot fire (tests/test_properties.py).
    needs: str | None = None

    @property
    def summary(self) -> str:
        para = " ".join(self.doc.strip().split("\n\n", 1)[0].split())
        end = para.find(". ")
        return (para[: end + 1] if end > 0 else para) or self.name


REGISTRY: dict[str, Rule] = {}


def rule(
    code: str,
    name: str,
    severity: str,
    *,
    scope: str = "example",
    formats: Iterable[str] = (),
    fixable: bool = False,
    needs: str | None = None,
) -> Callable[[Check], Check]:
    """Register a check as a rule. The function's docstring is the rule's documentation."""

    def register(fn: Check) -> Check:
        if code in REGISTRY:
            raise RuntimeError(f"rule code {code} registered twice")
        REGISTRY[code] = Rule(
            code=code,
            name=name,
            severity=Severity(severity),
            doc=inspect.cleandoc(fn.__doc__ or ""),
            check=fn,
            scope=scope,
            formats=frozenset(formats),
            fixable=fixable,
            needs=needs,
        )
        return fn

    return register


def declare(code: str, name: str, severity: str, doc: str, *, fixable: bool = False, scope: str = "reader") -> None:
    """Register a rule whose findings the reader or engine produces directly (bad JSON, BOM...)."""
    if code in REGISTRY:
        raise RuntimeError(f"rule code {code} registered twice")
    REGISTRY[code] = Rule(code, name, Severity(severity), inspect.cleandoc(doc), None, scope, frozenset(), fixable)


def all_rules() -> list[Rule]:
    from . import rules  # noqa: F401  (registers every family)

    return sorted(REGISTRY.values(), key=lambda r: r.code)


def get_rule(code_or_name: str) -> Rule | None:
    all_rules()
    key = code_or_name.strip()
    if key.upper() in REGISTRY:
        return REGISTRY[key.upper()]
    for r in REGISTRY.values():
        if r.name == key.lower():
            return r
    return None
