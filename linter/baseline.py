"""Baselines: the findings a team has accepted, so only new ones are reported (JSONL has no
comments for `noqa`). Entries match by file, rule and the line's content, not its number, so
inserting lines above an accepted finding does not bring it back."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from .atomic import WriteRefused, resolve_target, write_atomically
from .engine import FileReport, line_hash
from .findings import Finding
from .source import NotRegularFile, open_regular

FORMAT_VERSION = 1


class BaselineError(ValueError):
    pass


def _rel(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


_ENTRY_KEYS = ("path", "code", "line_hash")  # what an entry is matched by; each a string


def _read(path: str) -> bytes:
    """The baseline's bytes, if it is a regular file (source.open_regular: NotRegularFile for a
    FIFO or a folder, never opened for a blocking read)."""
    with open_regular(path) as f:
        return f.read()


def _json_kind(value: object) -> str:
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def load(path: str) -> Counter:
    """The accepted findings, (path, code, line hash) → how many. BaselineError, naming the file
    and the entry, for anything that is not a tunelint baseline."""
    try:
        data = json.loads(_read(path).decode("utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (create it with --write-baseline)") from None
    except NotRegularFile:  # a FIFO, whose read would block forever, or a folder
        raise BaselineError(f"{path}: the baseline is not a regular file") from None
    except OSError as e:
        raise BaselineError(f"{path}: cannot read the baseline ({e.strerror or e})") from None
    except (ValueError, RecursionError) as e:  # not JSON, not UTF-8, nested past the parser's limit
        raise BaselineError(f"{path}: not a tunelint baseline ({e})") from None
    if not isinstance(data, dict) or data.get("tunelint_baseline") != FORMAT_VERSION:
        raise BaselineError(f"{path}: not a tunelint baseline (version {FORMAT_VERSION})")
    entries = data.get("findings", [])
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: \"findings\" must be an array of entries, not {_json_kind(entries)}")
    accepted: Counter = Counter()
    for i, e in enumerate(entries):
        where = f"{path}: baseline entry findings[{i}]"
        if not isinstance(e, dict):
            raise BaselineError(f"{where} must be an object with {', '.join(_ENTRY_KEYS)}, not {_json_kind(e)}")
        missing = [k for k in _ENTRY_KEYS if k not in e]
        if missing:
            raise BaselineError(f"{where} lacks {', '.join(repr(k) for k in missing)} (every entry has "
                                f"{', '.join(_ENTRY_KEYS)})")
        for k in _ENTRY_KEYS:
            if not isinstance(e[k], str):
                raise BaselineError(f"{where}: {k!r} must be a string, not {_json_kind(e[k])}")
        accepted[(e["path"], e["code"], e["line_hash"])] += 1
    return accepted


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


def write(reports: list[FileReport], baseline_path: str, *, inside=None) -> int:
    """Record every finding of `reports` as the baseline (replacing the file); how many.
    `inside`: the folder(s) the file (a symlink's target) must be in (`write_atomically`)."""
    root = Path(baseline_path).parent
    entries = [_entry(_rel(f.path, root), f.code, r.line_hash(f.line), f.line, f.message)
               for r in reports for f in r.findings]
    _save(baseline_path, entries, inside)
    return len(entries)


def add(baseline_path: str, path: str, code: str, line_text: str, line: int, *, inside=None) -> int:
    """Add one finding (of `code` on the line `line_text`, number `line`, of `path`) to the
    baseline, creating it if needed; how many entries it then has. `inside`: as for `write`
    (the server passes the workspace: the file, or a symlink's target, must be in it)."""
    if inside is not None:
        try:  # refused before anything is read through a link that leads out
            resolve_target(baseline_path, inside)
        except WriteRefused as e:
            raise BaselineError(str(e)) from None
    try:
        data = json.loads(_read(baseline_path).decode("utf-8"))
    except FileNotFoundError:
        data = {"tunelint_baseline": FORMAT_VERSION, "findings": []}
    except NotRegularFile:
        raise BaselineError(f"{baseline_path}: the baseline is not a regular file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BaselineError(f"{baseline_path}: not a tunelint baseline ({e})") from None
    if not isinstance(data, dict) or data.get("tunelint_baseline") != FORMAT_VERSION \
            or not isinstance(data.get("findings"), list):
        raise BaselineError(f"{baseline_path} is not a tunelint baseline (version {FORMAT_VERSION})")
    rel = _rel(path, Path(baseline_path).parent)
    entries = data["findings"] + [_entry(rel, code, f"{line_hash(line_text):016x}", line)]
    _save(baseline_path, entries, inside)
    return len(entries)


def _entry(path: str, code: str, hash_: str, line: int, message: str | None = None) -> dict:
    out = {"path": path, "code": code, "line_hash": hash_, "line": line}
    if message is not None:
        out["message"] = message
    return out


def _save(baseline_path: str, entries: list[dict], inside) -> None:
    """Atomically; a read-only baseline is not replaced; with `inside`, never written outside."""
    data = {"tunelint_baseline": FORMAT_VERSION, "findings": entries}
    try:
        write_atomically(baseline_path, json.dumps(data, indent=1, ensure_ascii=False) + "\n", inside=inside,
                         refuse_read_only=True)
    except WriteRefused as e:
        raise BaselineError(f"baseline {e}") from None
    except OSError as e:  # a folder that does not exist, or that cannot be written
        raise BaselineError(f"{baseline_path}: cannot write the baseline ({e.strerror or e})") from None
