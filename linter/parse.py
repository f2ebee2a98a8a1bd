"""One line of text → a JSON object, or reading findings that say exactly where and why not."""

from __future__ import annotations

import re

import orjson

from .findings import Edit
from .locate import MAX_DEPTH, NestingError, ScanError, locate
from .violation import RawEdits, Violation

# A key is an unescaped '"' followed by ':'. Inside a string a '"' is always escaped, so this
# counts keys exactly (the slow path of `_may_have_duplicate_keys`, for a line that writes a
# colon as an escape).
_KEY_RE = r'(?<!\\)(?:\\\\)*"\s*:'
# the duplicate-key patterns for a text and for UTF-8 bytes: (an escape that may be a colon's
# ("\u003a"), key, colon)
_DUP_PATTERNS = {
    str: ("\\u003", re.compile(_KEY_RE), ":"),
    bytes: (b"\\u003", re.compile(_KEY_RE.encode()), b":"),
}


def text_of(line: str | bytes) -> str:
    """A line's text, from its text or its (valid) UTF-8 bytes."""
    return line if isinstance(line, str) else line.decode("utf-8")


def _count_keys(o: object) -> int:
    n = 0
    stack = [o]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            n += len(x)
            stack.extend(v for v in x.values() if isinstance(v, (dict, list)))
        elif isinstance(x, list):
            stack.extend(v for v in x if isinstance(v, (dict, list)))
    return n


def parse_line(line: str | bytes) -> tuple[object, list[Violation]]:
    """Parse one JSONL line, its text or its (valid) UTF-8 bytes. Returns (object or None,
    reading violations); their columns count the text's characters."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        if isinstance(line, bytes):  # reported from the text: positions count characters
            return parse_line(text_of(line))
        if not line.strip():
            return None, [Violation("blank line", columns=(0, len(line)), code="TL007",
                                    fix=RawEdits((Edit(-1, -1, None),), "Delete the blank line"))]
        return None, diagnose(line, e)
    if isinstance(obj, (dict, list)) and _opening_brackets(line) > MAX_DEPTH and _deeper_than(obj, MAX_DEPTH):
        return None, [too_deep(text_of(line))]
    if isinstance(obj, (dict, list)) and _may_have_duplicate_keys(line, obj):
        dups = duplicate_keys(text_of(line))
        if dups:
            return obj, dups
    return obj, []


def _opening_brackets(line: str | bytes) -> int:
    """At least the line's depth of nesting (brackets inside strings count too): two fast counts
    that let almost every line skip walking its object."""
    if isinstance(line, bytes):
        return line.count(b"{") + line.count(b"[")
    return line.count("{") + line.count("[")


def _deeper_than(o: object, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels deep in `o` (level 1: `o`)."""
    stack = [(o, 1)]
    while stack:
        x, depth = stack.pop()
        if depth > limit:
            return True
        children = x.values() if isinstance(x, dict) else x
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def too_deep(text: str) -> Violation:
    """The finding on a line that nests deeper than MAX_DEPTH (TL017), at the bracket that opens
    the first level too many."""
    try:
        locate(text)
    except NestingError as e:
        return _nesting_violation(text, e)
    except ScanError:
        pass
    return _nesting_violation(text, NestingError("", 0))  # not reached: the caller measured the depth


def _nesting_violation(text: str, e: NestingError) -> Violation:
    pos = min(e.pos, max(len(text) - 1, 0))
    return Violation(f"objects and arrays nested more than {MAX_DEPTH} levels deep (the limit): many JSON "
                     "libraries refuse such a line, and nothing else in it is checked",
                     columns=(pos, min(pos + 1, len(text))), code="TL017")


def _may_have_duplicate_keys(line: str | bytes, obj: object) -> bool:
    """False only when the line certainly has no duplicate key. Fast path: the line's colons are
    its keys' and those inside its strings; orjson writes the parsed object's the same way (it
    never escapes a colon), and the object lacks only what duplicates the line holds (orjson
    keeps the last value), each with its key's colon. So the two count the same colons exactly
    when the line has no duplicate key, unless the line writes a colon as an escape
    (`\\u003a`): then its keys are counted."""
    escape, key, colon = _DUP_PATTERNS[type(line)]
    if escape in line:
        return _count_keys(obj) != len(key.findall(line))
    return line.count(colon) != orjson.dumps(obj).count(b":")


def duplicate_keys(text: str) -> list[Violation]:
    out = []
    for d in locate(text).duplicates:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in d.parent) or "the example"
        out.append(Violation(
            f"duplicate key {d.key!r} in {where.lstrip('.')}: most parsers keep this value and silently drop "
            f"the one at column {d.first[0] + 1}",
            columns=d.second, code="TL011", related_columns=((d.first, "first occurrence"),)))
    return out


def diagnose(text: str, err: orjson.JSONDecodeError) -> list[Violation]:
    """Say why a line is not JSON, precisely, choosing the most useful rule."""
    try:
        loc = locate(text)
    except ScanError as e:
        return [_scan_violation(text, e)]
    if loc.non_finite:
        return [Violation(f"{lit} is not valid JSON (use null, or a string)", columns=(s, e), code="TL010")
                for s, e, lit in loc.non_finite]
    # orjson is stricter than the scanner (control characters in strings, bad escapes).
    pos = min(max(err.pos, 0), len(text))
    msg = err.msg
    if "control character" in msg:
        msg += ": a raw tab or newline inside a string must be written as \\t or \\n"
    return [Violation(f"invalid JSON: {msg}", columns=(pos, min(pos + 1, len(text))), code="TL008")]


def _scan_violation(text: str, e: ScanError) -> Violation:
    if isinstance(e, NestingError):
        return _nesting_violation(text, e)
    pos = min(e.pos, len(text))
    msg = str(e)
    if msg.startswith("trailing comma"):
        comma = text.rfind(",", 0, pos)
        return Violation(f"invalid JSON: {msg}", columns=(comma, comma + 1), code="TL008",
                         fix=RawEdits((Edit(comma, comma + 1, ""),), "Remove the trailing comma"))
    if msg.startswith(("unexpected end of line", "unterminated string")):
        return Violation(f"the line ends before the JSON is complete ({msg}): truncated, or a closing "
                         "bracket or quote is missing", columns=(max(len(text) - 1, 0), len(text)), code="TL009")
    if msg.startswith("more than one JSON value"):
        rest = text[pos:].rstrip()
        if rest == ",":  # the items of a JSON array, one per line
            return Violation("invalid JSON: a comma after the example (JSONL lines are not separated by commas)",
                             columns=(pos, pos + 1), code="TL008",
                             fix=RawEdits((Edit(pos, pos + 1, ""),), "Remove the trailing comma"))
        if rest[:1] in ("}", "]"):
            return Violation(f"invalid JSON: an extra {rest[0]!r} after the end of the example",
                             columns=(pos, pos + 1), code="TL008")
        fix = None
        try:
            orjson.loads(text[pos:])
            fix = RawEdits((Edit(pos, pos, "\n"),), "Split the line in two")
        except orjson.JSONDecodeError:
            pass
        return Violation("more than one JSON value on this line (a newline between two examples lost?)",
                         columns=(pos, len(text)), code="TL015", fix=fix)
    return Violation(f"invalid JSON: {msg}", columns=(pos, min(pos + 1, len(text))), code="TL008")
