"""Editor settings (initialization options and `workspace/configuration`, section "tunelint"):
validated here, bad values reported and dropped rather than failing the server."""

from __future__ import annotations

from tunelint.linter.findings import Severity
from tunelint.linter.profiles import PROFILES

# editor key → Settings field
KEYS = {
    "profile": "profile",
    "tokenizer": "tokenizer",
    "maxTokens": "max_tokens",
    "select": "select",
    "ignore": "ignore",
    "severity": "severity",
    "duplicateThreshold": "duplicate_threshold",
}
IGNORED = {"path", "interpreter", "trace", "train", "serverArgs", "worstExamples"}  # not linter settings


def editor_settings(options: dict) -> tuple[dict, list[str]]:
    """(values for Settings, problems). Values set here override the project's config file,
    the way command-line options do for `tunelint check`."""
    out: dict = {}
    problems: list[str] = []
    for key, value in (options or {}).items():
        if key in IGNORED or value is None:
            continue
        field = KEYS.get(key) or (key if key in KEYS.values() else None)
        if field is None:
            problems.append(f"unknown setting {key!r}")
            continue
        try:
            out[field] = _convert(field, value)
        except ValueError as e:
            problems.append(f"{key}: {e}")
    return out, problems


def _convert(field: str, value):
    if field == "profile":
        if value not in PROFILES:
            raise ValueError(f"unknown profile {value!r} (choose {', '.join(PROFILES)})")
        return value
    if field == "tokenizer":
        if value in ("", "none", False):
            return None
        if not isinstance(value, str):
            raise ValueError("must be a tokenizer name, hf:<folder> or 'none'")
        return value
    if field == "max_tokens":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError("must be a positive integer")
        return value
    if field in ("select", "ignore"):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of rule codes or prefixes")
        return tuple(v.strip().upper() for v in value)
    if field == "severity":
        if not isinstance(value, dict):
            raise ValueError('must be an object like {"TL202": "error"}')
        for sev in value.values():
            Severity(sev)
        return tuple((c.upper(), s) for c, s in value.items())
    if field == "duplicate_threshold":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ValueError("must be a number in (0, 1]")
        return float(value)
    raise ValueError("unsupported")
