"""Position-aware JSON scan: maps JSON paths to exact column spans.

The fast path parses lines with orjson, which knows no positions. This scanner runs only on
lines that have a finding, so it can be written for clarity rather than speed. It accepts the
same JSON as orjson and also records what orjson hides: duplicate keys and NaN/Infinity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Path = tuple  # of str keys and int indices


@dataclass(slots=True)
class Span:
    key_start: int
    key_end: int
    start: int  # value
    end: int


@dataclass(slots=True)
class DuplicateKey:
    parent: Path
    key: str
    first: tuple[int, int]
    second: tuple[int, int]


@dataclass(slots=True)
class Locations:
    spans: dict[Path, Span] = field(default_factory=dict)
    duplicates: list[DuplicateKey] = field(default_factory=list)
    non_finite: list[tuple[int, int, str]] = field(default_factory=list)

    def span(self, path: Path, part: str = "value") -> tuple[int, int]:
        """Column span of `path`'s key or value; the nearest ancestor's if `path` is absent."""
        p = tuple(path)
        while p not in self.spans and p:
            p = p[:-1]
        s = self.spans.get(p)
        if s is None:
            return (0, 0)
        if part == "key" and p == tuple(path):
            return (s.key_start, s.key_end)
        return (s.start, s.end)


class ScanError(ValueError):
    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.pos = pos


# Deepest nesting of objects and arrays a line may have (the root object is level 1): reading
# TL017's limit. It bounds this scanner's recursion (orjson writes at most 254 levels).
MAX_DEPTH = 128


class NestingError(ScanError):
    """The line nests objects and arrays deeper than MAX_DEPTH; `pos` is the bracket that opens
    level MAX_DEPTH + 1."""


_WS = " \t\r\n"
_LITERALS = {"true": True, "false": False, "null": None}
_NON_FINITE = ("NaN", "Infinity", "-Infinity")
_HEX = frozenset("0123456789abcdefABCDEF")


class _Scanner:
    def __init__(self, text: str):
        self.s = text
        self.n = len(text)
        self.last = len(text.rstrip(_WS))  # end of the text without trailing whitespace
        self.loc = Locations()
        self.depth = 0  # objects and arrays open around the position being scanned

    def ws(self, i: int) -> int:
        s, n = self.s, self.n
        while i < n and s[i] in _WS:
            i += 1
        return i

    def value(self, i: int, path: Path, key_span: tuple[int, int]) -> int:
        i = self.ws(i)
        if i >= self.n:
            raise ScanError("unexpected end of line: a value is missing", i)
        c = self.s[i]
        start = i
        if c in "{[":
            if self.depth == MAX_DEPTH:
                raise NestingError(f"nested more than {MAX_DEPTH} levels deep", i)
            self.depth += 1
            end = self.obj(i, path) if c == "{" else self.arr(i, path)
            self.depth -= 1
        elif c == '"':
            end, _ = self.string(i)
        else:
            end = self.scalar(i)
        ks, ke = key_span if key_span[0] >= 0 else (start, end)
        self.loc.spans[path] = Span(ks, ke, start, end)
        return end

    def obj(self, i: int, path: Path) -> int:
        i = self.ws(i + 1)
        seen: dict[str, tuple[int, int]] = {}
        if i < self.n and self.s[i] == "}":
            return i + 1
        while True:
            if i >= self.n:
                raise ScanError("unexpected end of line inside an object", i)
            if self.s[i] != '"':
                if self.s[i] == "}":
                    raise ScanError("trailing comma before '}'", i)
                if self.s[i] == "'":
                    raise ScanError("keys must use double quotes", i)
                raise ScanError("expected a key in double quotes", i)
            ks = i
            i, key = self.string(i)
            ke = i
            if key in seen:
                self.loc.duplicates.append(DuplicateKey(path, key, seen[key], (ks, i)))
            seen[key] = (ks, i)
            i = self.ws(i)
            if i >= self.n or self.s[i] != ":":
                raise ScanError("expected ':' after a key", i)
            i = self.value(i + 1, path + (key,), (ks, ke))
            i = self.ws(i)
            if i >= self.n:
                raise ScanError("unexpected end of line inside an object", i)
            if self.s[i] == ",":
                i = self.ws(i + 1)
                continue
            if self.s[i] == "}":
                return i + 1
            raise ScanError("expected ',' or '}' after a value", i)

    def arr(self, i: int, path: Path) -> int:
        i = self.ws(i + 1)
        if i < self.n and self.s[i] == "]":
            return i + 1
        idx = 0
        while True:
            if i < self.n and self.s[i] == "]":
                raise ScanError("trailing comma before ']'", i)
            i = self.value(i, path + (idx,), (-1, -1))
            idx += 1
            i = self.ws(i)
            if i >= self.n:
                raise ScanError("unexpected end of line inside an array", i)
            if self.s[i] == ",":
                i = self.ws(i + 1)
                continue
            if self.s[i] == "]":
                return i + 1
            raise ScanError("expected ',' or ']' after a value", i)

    def string(self, i: int) -> tuple[int, str]:
        s, n = self.s, self.n
        j = i + 1
        chunks = []
        start = j
        while j < n:
            c = s[j]
            if c == '"':
                chunks.append(s[start:j])
                text = "".join(chunks)
                if "\\u" in s[i:j]:  # join escaped surrogate pairs as JSON parsers do
                    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
                return j + 1, text
            if c == "\\":
                chunks.append(s[start:j])
                if j + 1 >= n:
                    break
                e = s[j + 1]
                if e == "u":
                    digits = s[j + 2 : j + 6]
                    if not all(d in _HEX for d in digits):
                        raise ScanError("invalid \\u escape: expected four hex digits", j)
                    if len(digits) < 4:
                        break  # the line ends inside the escape
                    chunks.append(chr(int(digits, 16)))
                    j += 6
                else:
                    chunks.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(e, e))
                    j += 2
                start = j
                continue
            j += 1
        raise ScanError("unterminated string: the line ends inside a string", i)

    def scalar(self, i: int) -> int:
        s = self.s
        for lit in _NON_FINITE:
            if s.startswith(lit, i):
                self.loc.non_finite.append((i, i + len(lit), lit))
                return i + len(lit)
        for lit in _LITERALS:
            if s.startswith(lit, i):
                return i + len(lit)
        rest = s[i : self.last] if self.last - i < 9 else ""  # the line ends within a literal's length
        if rest and any(lit.startswith(rest) for lit in (*_LITERALS, *_NON_FINITE)):
            raise ScanError(f"unexpected end of line: the value {rest!r} is cut short", self.n)
        j = i
        while j < self.n and s[j] in "+-0123456789.eE":
            j += 1
        if j == i:
            if s[i] == "'":
                raise ScanError("strings must use double quotes", i)
            raise ScanError(f"unexpected character {s[i]!r}", i)
        return j


def locate(text: str) -> Locations:
    """Spans for every key and value in `text`. Raises ScanError on malformed JSON, NestingError
    (a ScanError) on JSON nested deeper than MAX_DEPTH."""
    sc = _Scanner(text)
    end = sc.value(0, (), (-1, -1))
    end = sc.ws(end)
    if end < sc.n:
        raise ScanError("more than one JSON value on this line", end)
    return sc.loc
