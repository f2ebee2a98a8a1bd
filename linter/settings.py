"""The settings one lint run uses, already resolved for one file (see tunelint.config for where
they come from)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .findings import Severity
from .profiles import get_profile
from .registry import Rule
from .rule import all_rules


@dataclass(frozen=True)
class Settings:
    profile: str = "openai"
    tokenizer: str | None = "o200k_base"  # None: no token counts, no TL7xx
    max_tokens: int | None = None  # None: the profile's limit
    select: tuple[str, ...] = ("TL",)
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()  # (code or prefix, severity)
    max_line_bytes: int = 4 * 1024 * 1024
    duplicate_threshold: float = 0.8  # estimated Jaccard similarity that makes a near duplicate
    duplicate_casefold: bool = True  # compare duplicates ignoring case
    languages: tuple[str, ...] = ()  # ISO 639-1 codes the dataset is written in; (): its dominant one (TLC201)

    def __post_init__(self) -> None:
        if self.tokenizer == "":  # turned off ("none" / false where it was set)
            object.__setattr__(self, "tokenizer", None)
        get_profile(self.profile)  # raises a clear ValueError for an unknown profile
        for _, sev in self.severity:
            Severity(sev)
        if not 0.0 < self.duplicate_threshold <= 1.0:
            raise ValueError(f"duplicate threshold must be in (0, 1], not {self.duplicate_threshold}")

    @property
    def limit(self) -> int:
        return self.max_tokens or get_profile(self.profile).max_tokens

    def enabled(self, code: str) -> bool:
        """ruff's rule: the longest matching prefix among select/ignore wins; ignore wins ties.
        A rule that is off by default (`Rule.default`) is on only when a prefix longer than
        `TL` selects it (`TLC`, `TLC2`, the code itself)."""
        best_sel = max((len(p) for p in self.select if code.startswith(p.upper())), default=-1)
        best_ign = max((len(p) for p in self.ignore if code.startswith(p.upper())), default=-1)
        if best_sel <= len(OPT_IN_PREFIX) and code in _OFF_BY_DEFAULT():
            return False
        return best_sel >= 0 and best_sel > best_ign

    def enabled_rules(self) -> list[Rule]:
        return [r for r in all_rules() if self.enabled(r.code)]

    def default_severity(self, code: str, rule_default: Severity) -> Severity:
        """A rule's severity under the profile (a target may refuse what is a warning elsewhere),
        before the user's `severity` settings."""
        sev = get_profile(self.profile).severities.get(code)
        return Severity(sev) if sev else rule_default

    def severity_of(self, code: str, default: Severity) -> Severity:
        best = None
        for prefix, sev in self.severity:
            if code.startswith(prefix.upper()) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, sev)
        return Severity(best[1]) if best else default

    def fingerprint(self) -> str:
        """What per-line results depend on: everything but output-only options."""
        codes = ",".join(r.code for r in self.enabled_rules())
        return (f"{self.profile}|{self.tokenizer}|{_files_stamp(self.tokenizer)}|{self.limit}|{self.max_line_bytes}"
                f"|{self.duplicate_casefold}|{codes}|{','.join(self.languages)}")


def _files_stamp(tokenizer: str | None) -> str:
    """For a local HF tokenizer: size and mtime of the files that decide counts, so editing
    the template or the vocabulary invalidates cached counts."""
    if not tokenizer or not tokenizer.startswith("hf:"):
        return ""
    folder = Path(tokenizer[3:])
    parts = []
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json",
                 "special_tokens_map.json", "generation_config.json"):
        try:
            st = (folder / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            continue
    templates = folder / "additional_chat_templates"
    if templates.is_dir():
        parts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(templates.glob("*.jinja"))]
    return ";".join(parts)


OPT_IN_PREFIX = "TL"  # selecting only this (the default) leaves the off-by-default rules off


@functools.cache
def _OFF_BY_DEFAULT() -> frozenset[str]:  # noqa: N802
    return frozenset(r.code for r in all_rules() if not r.default)


DEFAULT = Settings()
