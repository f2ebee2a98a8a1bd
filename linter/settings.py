"""The settings one lint run uses, already resolved for one file (see tunelint.config for where
they come from)."""

from __future__ import annotations

from dataclasses import dataclass

from .findings import Severity
from .profiles import get_profile
from .rule import Rule, all_rules


@dataclass(frozen=True)
class Settings:
    profile: str = "openai"
    tokenizer: str | None = "o200k_base"  # None: no token counts, no TL7xx
    max_tokens: int | None = None  # None: the profile's limit
    select: tuple[str, ...] = ("TL",)
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()  # (code or prefix, severity)
    max_line_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        get_profile(self.profile)  # raises a clear ValueError for an unknown profile
        for _, sev in self.severity:
            Severity(sev)

    @property
    def limit(self) -> int:
        return self.max_tokens or get_profile(self.profile).max_tokens

    def enabled(self, code: str) -> bool:
        """ruff's rule: the longest matching prefix among select/ignore wins; ignore wins ties."""
        best_sel = max((len(p) for p in self.select if code.startswith(p.upper())), default=-1)
        best_ign = max((len(p) for p in self.ignore if code.startswith(p.upper())), default=-1)
        return best_sel >= 0 and best_sel > best_ign

    def enabled_rules(self) -> list[Rule]:
        return [r for r in all_rules() if self.enabled(r.code)]

    def severity_of(self, code: str, default: Severity) -> Severity:
        best = None
        for prefix, sev in self.severity:
            if code.startswith(prefix.upper()) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, sev)
        return Severity(best[1]) if best else default

    def fingerprint(self) -> str:
        """What per-line results depend on: everything but output-only options."""
        codes = ",".join(r.code for r in self.enabled_rules())
        return f"{self.profile}|{self.tokenizer}|{self.limit}|{self.max_line_bytes}|{codes}"


DEFAULT = Settings()
