"""The rule catalogue: every rule, by code or by name. Importing the families (`rules/`) registers
their rules in `registry.REGISTRY`; `all_rules` does that on first use, so that importing this
module costs none of them.
"""

from __future__ import annotations

from .registry import REGISTRY, Rule


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
