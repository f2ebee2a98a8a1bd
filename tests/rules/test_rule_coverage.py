"""Every registered rule has a test module here that makes it fire."""

from __future__ import annotations

from pathlib import Path

from tunelint.linter.rule import all_rules

FAMILIES = {"0": "reading", "1": "schema", "2": "conversation", "3": "tools", "4": "multimodal",
            "5": "preference", "6": "hygiene", "7": "tokens", "8": "dataset", "9": "duplicates",
            "C": "content"}
# rules whose findings come from a run folder, not from the file's text: tested with a real run
ELSEWHERE = {"TL950": "../trainer/test_dynamics.py"}


def test_every_rule_code_is_exercised_by_its_family_test_module():
    here = Path(__file__).parent
    missing = []
    for r in all_rules():
        module = here / ELSEWHERE.get(r.code, f"test_{FAMILIES[r.code[2]]}.py")
        if f'"{r.code}"' not in module.read_text():
            missing.append(f"{r.code} ({module.name})")
    assert not missing, f"rules without tests: {', '.join(missing)}"
