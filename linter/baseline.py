"""Baselines: the findings a team has accepted, so only new ones are reported (JSONL has no
comments for `noqa`). Entries match by file, rule and the line's content, not its number, so
inserting lines above an accepted finding does not bring it back."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from .engine import FileReport
from .findings import Finding

FORMAT_VERSION = 1


class BaselineError(ValueError):
    pass


def _rel(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def load(path: str) -> Counter:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (create it with --write-baseline)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BaselineError(f"{path}: not a tunelint baseline ({e})") from None
    if not isinstance(data, dict) or data.get("tunelint_baseline") != FORMAT_VERSION:
        raise BaselineError(f"{path}: not a tunelint baseline (version {FORMAT_VERSION})")
    return Counter((e["path"], e["code"], e["line_hash"]) for e in data.get("findings", []))


def filter_findings(reports: list[FileReport], baseline_path: str) -> tuple[list[Finding], int]:
    """Findings not in the baseline, and how many the baseline hid."""
    findings = [f for r in reports for f in r.findings]
    by_path = {r.path: r for r in reports}
    return filter_matching(findings, lambda f: by_path[f.path].line_hash(f.line), baseline_path)


def filter_matching(findings: list[Finding], line_hash_of, baseline_path: str) -> tuple[list[Finding], int]:
    """The same, for findings whose lines' hashes come from elsewhere (an editor buffer)."""
    accepted = load(baseline_path)
    root = Path(baseline_path).parent
    kept, hidden = [], 0
    for f in findings:
        k = (_rel(f.path, root), f.code, line_hash_of(f))
        if accepted[k] > 0:
            accepted[k] -= 1
            hidden += 1
        else:
            kept.append(f)
    return kept, hidden


def write(reports: list[FileReport], baseline_path: str) -> int:
    root = Path(baseline_path).parent
    entries = []
    for r in reports:
        for f in r.findings:
            p, code, h = _rel(f.path, root), f.code, r.line_hash(f.line)
            entries.append({"path": p, "code": code, "line_hash": h, "line": f.line, "message": f.message})
    data = {"tunelint_baseline": FORMAT_VERSION, "findings": entries}
    tmp = baseline_path + ".tmp"
    Path(tmp).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, baseline_path)
    return len(entries)
