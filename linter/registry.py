"""Rules: a stable code, a kebab-case name, a default severity, a docstring that is the user's
documentation, and a check. Rules do not know about files, editors or caches.

The families in `rules/` register theirs here with `@rule` and `declare`, at import; `rule.py`
imports the families and lists every rule (`all_rules`, `get_rule`). This module imports no
family, so the families and their catalogue do not import each other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .findings import Severity
from .violation import Violation

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
    # False: off unless selected by more than the bare `TL` prefix (`select = ["TLC2"]`): the
    # rules that are noisy on real data (the README's table says which)
    default: bool = True

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
    default: bool = True,
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
            default=default,
        )
        return fn

    return register


def declare(code: str, name: str, severity: str, doc: str, *, fixable: bool = False, scope: str = "reader",
            default: bool = True) -> None:
    """Register a rule whose findings the reader or engine produces directly (bad JSON, BOM...)."""
    if code in REGISTRY:
        raise RuntimeError(f"rule code {code} registered twice")
    REGISTRY[code] = Rule(code, name, Severity(severity), inspect.cleandoc(doc), None, scope, frozenset(), fixable,
                          default=default)
