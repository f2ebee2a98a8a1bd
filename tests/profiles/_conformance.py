"""The conformance suite's case type and its check: one example line (or a whole file), what the
provider does with it according to its own documentation or validator, and tunelint's verdict
under that provider's profile.

A case's `verdict` is tunelint's: "error" (the case names the rule that must report an error),
"warning" (the rule reports a warning and nothing is an error) or "clean" (no error at all;
warnings named in `warns` must be there, and no others are checked). `provider` is what the
source says the provider does ("refuses", "accepts", "ignores", "truncates"...). Where tunelint
is deliberately stricter or milder than the provider, `differs` says so and why; the rule's
documentation says it too (checked by test_every_difference_is_documented).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tests.rules._lint import lint
from tunelint.linter.findings import Severity
from tunelint.linter.rule import get_rule
from tunelint.linter.settings import Settings


@dataclass(frozen=True)
class Case:
    name: str
    example: object  # a dict (a line), a list of them (a file), or a file's text as it is (a str)
    verdict: str  # "error" | "warning" | "clean"
    source: str  # where the provider's behaviour is stated: a URL, or repo path @ commit + function
    provider: str  # what the provider does with it, in the source's words
    rule: str | None = None  # the code that must fire, for "error" and "warning"; for a clean case
    # that differs from the provider, the rule whose documentation explains the difference
    warns: tuple[str, ...] = ()  # warnings a "clean" case must show
    differs: str | None = None  # "stricter: ..." / "milder: ..." and why
    tokenizer: str | None = None  # a tokenizer for the token rules (default: none)
    max_tokens: int | None = None
    max_line_bytes: int = 4 * 1024 * 1024  # lines longer are not analysed (TL014): raise it for large images

    def __post_init__(self) -> None:
        assert self.verdict in ("error", "warning", "clean"), self.verdict
        assert self.rule is not None or self.verdict == "clean", f"{self.name}: an error or warning names its rule"
        assert self.rule is None or self.verdict != "clean" or self.differs, (
            f"{self.name}: a clean case names a rule only to say where a difference is documented")
        assert self.differs is None or self.differs.startswith(("stricter: ", "milder: ")), self.name

    def text(self) -> str:
        if isinstance(self.example, str):
            return self.example
        lines = self.example if isinstance(self.example, list) else [self.example]
        return "".join(json.dumps(x) + "\n" for x in lines)


def check(case: Case, profile: str) -> None:
    """Assert tunelint's verdict on the case under `profile`."""
    settings = Settings(profile=profile, tokenizer=case.tokenizer, max_tokens=case.max_tokens,
                        max_line_bytes=case.max_line_bytes)
    found = lint(case.text(), settings).findings
    got = [(f.code, f.severity.value, f.message) for f in found]
    errors = [f for f in found if f.severity == Severity.ERROR]
    if case.verdict == "error":
        assert any(f.code == case.rule for f in errors), f"{case.name}: expected an error {case.rule}, got {got}"
    elif case.verdict == "warning":
        assert not errors, f"{case.name}: expected no error, got {got}"
        assert any(f.code == case.rule and f.severity == Severity.WARNING for f in found), (
            f"{case.name}: expected a warning {case.rule}, got {got}")
    else:
        assert not errors, f"{case.name}: expected no error, got {got}"
        missing = set(case.warns) - {f.code for f in found}
        assert not missing, f"{case.name}: expected warnings {sorted(missing)}, got {got}"


def documented(case: Case, profile: str) -> bool:
    """Whether the rule of a case that differs from the provider says so in its documentation:
    it names the profile (or the provider) there."""
    if case.differs is None or case.rule is None:
        return True
    doc = get_rule(case.rule).doc.lower()
    return profile.lower() in doc or {"openai": "openai", "together": "together", "mistral": "mistral",
                                      "hf": "tunelint train"}[profile] in doc
