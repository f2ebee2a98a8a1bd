"""Per-line analysis: the unit of work that is cached and run in parallel.

A line analyses to a `LineResult` (`results.py`): everything later stages need from one line,
with columns relative to the line, so it can be cached by the line's text and reused wherever
the same line appears.
"""

from __future__ import annotations

import orjson

from .dedupe import Signer, comparable_turns
from .example import Example, detect_format
from .findings import Edit, Fix
from .locate import Locations, locate
from .parse import parse_line, text_of
from .profiles import get_profile
from .results import LineFinding, LineResult
from .rule import all_rules
from .settings import Settings
from .strspan import columns_within
from .to_chat import ConvertError, to_chat
from .token_counts import ChatTemplateError, ExampleTokens
from .violation import RawEdits, ReplaceKey, ReplaceValue, ReplaceWithin, Violation

DUPLICATE_CODES = ("TL901", "TL902", "TL903", "TL904", "TL905")
NEAR_CODES = ("TL902", "TL904", "TL905")
FORMAT_INDEX = {None: 0, "chat": 1, "preference": 2, "prompt_completion": 3, "sharegpt": 4, "alpaca": 5, "text": 6}


# the result of a line over `max_line_bytes` (TL014): not analysed, so neither an example nor findings
NOT_ANALYSED = LineResult(None, ())
# per-example rules that also run when only a dataset rule they feed is on (TLC402 counts TLC401's)
FEEDS = {"TLC401": ("TLC402",)}


def too_long(line: str | bytes, max_bytes: int) -> bool:
    """Whether the line (a text, or its UTF-8 bytes) is over `max_bytes` in UTF-8: the lines
    that are reported TL014 and not analysed. Encodes only texts that may be."""
    if isinstance(line, bytes) or len(line) > max_bytes or len(line) * 4 <= max_bytes:
        return len(line) > max_bytes
    return len(line.encode("utf-8", "surrogatepass")) > max_bytes


class Analyzer:
    """Runs every enabled per-example rule on a line. One per process; holds the tokenizer."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.profile = get_profile(settings.profile)
        self.counter = None
        if settings.tokenizer:
            from .tokens import make_counter

            self.counter = make_counter(settings.tokenizer)
        rules = [r for r in all_rules() if r.scope == "example" and r.check is not None
                 and (settings.enabled(r.code) or any(settings.enabled(c) for c in FEEDS.get(r.code, ())))]
        self._rules_by_format = {
            fmt: [r for r in rules if not r.formats or fmt in r.formats] for fmt in FORMAT_INDEX if fmt
        }
        # the same lists without the rules an example lacks the features for: (tools, parts) → rules
        self._gated = {
            fmt: {(t, p): [r for r in rs if r.needs is None or (r.needs == "tools" and t) or (r.needs == "parts" and p)]
                  for t in (False, True) for p in (False, True)}
            for fmt, rs in self._rules_by_format.items()
        }
        self.gate = True  # False: run every rule (what the tests compare the gated run with)
        self.options = {"max_tokens": settings.limit, "tokenizer": settings.tokenizer,
                        "languages": settings.languages}
        # TLC201: with `languages`, each line is checked against them; without, each line's
        # language goes to the dataset index (`content_index`), which knows the dominant one
        self.language = settings.enabled("TLC201")
        if self.language or any(settings.enabled(r.code) and r.code.startswith("TLC2") for r in rules):
            from .langid import detector

            detector(settings.languages)  # loaded now: a clear error if lingua is missing
        self.signer = None
        if any(settings.enabled(c) for c in DUPLICATE_CODES):
            near = any(settings.enabled(c) for c in NEAR_CODES)
            self.signer = Signer(casefold=settings.duplicate_casefold, near=near)

    def prepare(self) -> None:
        """Build now what is otherwise built on first use (the near-duplicate character table):
        before forking workers, so that they share it."""
        if self.signer is not None:
            self.signer.prepare()
        codes = {r.code for rs in self._rules_by_format.values() for r in rs}
        if any(c.startswith("TLC") for c in codes):
            from .rules.content import prepare

            prepare(codes)

    def analyze(self, text: str) -> LineResult:
        return self.analyze_many([text])[0]

    def analyze_many(self, lines: list[str | bytes], prompts: bool = True) -> list[LineResult]:
        """Analyse lines, given as texts or as their (valid) UTF-8 bytes; duplicate signatures
        are computed for the whole batch at once. `prompts=False`: no prompt MinHash (a run
        that never compares prompts, `Signer.sign`)."""
        pairs = [self._analyze(t) for t in lines]
        if self.signer is None:
            return [r for r, _ in pairs]
        todo = [i for i, (_, c) in enumerate(pairs) if c is not None]
        sigs = self.signer.sign([pairs[i][1] for i in todo], prompts)
        out = [r for r, _ in pairs]
        for i, sig in zip(todo, sigs, strict=True):
            out[i] = LineResult(*out[i], dedupe=sig)  # the fields so far, as a tuple (_analyze)
        return out

    def _analyze(self, line: str | bytes) -> tuple[LineResult, tuple | None]:
        # Bytes are parsed as they are and decoded only for findings' columns: most lines have
        # none, and orjson parses UTF-8 bytes faster than a new text (whose UTF-8 it must make).
        if too_long(line, self.settings.max_line_bytes):
            return NOT_ANALYSED, None  # TL014 says so (file_findings): not parsed, counted, signed or checked
        obj, violations = parse_line(line)
        if obj is None:
            return LineResult(None, self._resolve(line, violations, None)), None
        if not isinstance(obj, dict):
            return LineResult(None, self._resolve(line, violations + [_not_object(obj)], None)), None
        fmt = detect_format(obj)
        if fmt is None:
            found = self._resolve(line, violations + [_unknown_format(obj)], None)
            return LineResult(None, found, is_example=True), None
        ex = Example(obj, fmt, self.profile, self.options, line=line)
        tokens = trainable = -1
        if self.counter is not None:
            counted = self._count(ex)
            if counted is not None:
                ex.tokens = counted
                tokens, trainable = counted.total, counted.trainable
        for r in self._gated[fmt][_features(ex)] if self.gate else self._rules_by_format[fmt]:
            for v in r.check(ex):
                v.code = r.code
                violations.append(v)
        language = ""
        if self.language:
            from .rules.content import example_language, languages_outside

            if self.settings.languages:
                violations += languages_outside(ex, self.settings.languages)
            else:
                language = example_language(ex)
        n_msgs = len(ex.chat) if fmt in ("chat", "preference") else _turns(obj, fmt)
        compare = comparable_turns(obj, fmt) if self.signer is not None else None
        fields = (fmt, self._resolve(line, violations, None), tokens, trainable, n_msgs, True, language)
        return (fields, compare) if compare is not None else (LineResult(*fields), None)

    def _count(self, ex: Example):
        obj, fmt = ex.obj, ex.format
        try:
            if fmt == "chat":
                msgs = obj.get("messages")
                return self.counter.count_messages(msgs, obj.get("tools")) if isinstance(msgs, list) else None
            if fmt == "preference":
                out = obj.get("preferred_output")
                msgs = ex.chat + (out if isinstance(out, list) else [])
                return self.counter.count_messages(msgs, obj.get("tools"))
            if fmt == "text":
                t = obj.get("text")
                if isinstance(t, str):
                    n = self.counter.count(t)
                    return ExampleTokens(n, n, 0, n, (n,))
                return None
            return self.counter.count_messages(to_chat(obj, fmt)["messages"])
        except (ConvertError, ChatTemplateError, TypeError, AttributeError):
            return None

    def _resolve(
        self, line: str | bytes, violations: list[Violation], loc: Locations | None
    ) -> tuple[LineFinding, ...]:
        if not violations:
            return ()
        text = text_of(line)
        out = []
        for v in violations:
            if loc is None and (v.columns is None or v.related
                                or isinstance(v.fix, (ReplaceValue, ReplaceKey, ReplaceWithin))):
                try:
                    loc = locate(text)
                except ValueError:
                    loc = Locations()
            if v.columns is not None:
                start, end = v.columns
            elif v.at == ():
                start, end = _root_span(text)
            else:
                start, end = loc.span(v.at, v.part)
                if v.within is not None and tuple(v.at) in loc.spans:
                    start, end = columns_within(text, (start, end), v.within)
            related = tuple((loc.span(p)[0], m) for p, m in v.related) if v.related else ()
            related += tuple((c[0], m) for c, m in v.related_columns)
            out.append(LineFinding(v.code, v.severity, start, end, v.message, _fix(v.fix, loc, text), related))
        return _without_secrets(text, tuple(out))


def _without_secrets(text: str, found: tuple[LineFinding, ...]) -> tuple[LineFinding, ...]:
    """The findings, without any fix whose text would repeat a secret the line holds (TLC106):
    tunelint prints and caches a secret only masked, and a fix's text is printed (`--format
    json`, `--diff`) and cached like its message."""
    secrets = [text[f.start : f.end] for f in found if f.code == "TLC106" and f.end - f.start >= 8]
    if not secrets:
        return found
    return tuple(
        LineFinding(f.code, f.severity, f.start, f.end, f.message, None, f.related)
        if f.fix is not None and any(s in (e.text or "") for e in f.fix.edits for s in secrets) else f
        for f in found)


def _features(ex: Example) -> tuple[bool, bool]:
    """(has tools, has content parts), as `Rule.needs` means them."""
    o = ex.obj
    tools = "tools" in o or "functions" in o
    parts = False
    if ex.format == "prompt_completion":
        return tools, isinstance(o.get("prompt"), list) or isinstance(o.get("completion"), list)
    if ex.format == "preference" and not tools:
        inp = o.get("input")
        tools = isinstance(inp, dict) and "tools" in inp
    for _, m in ex.messages():
        if not tools and ("tool_calls" in m or m.get("role") == "tool"):
            tools = True
        if not parts and isinstance(m.get("content"), list):
            parts = True
    return tools, parts


def _root_span(text: str) -> tuple[int, int]:
    stripped = text.rstrip()
    start = len(text) - len(text.lstrip())
    return start, len(stripped)


def _fix(spec, loc: Locations | None, text: str = "") -> Fix | None:
    if spec is None:
        return None
    if isinstance(spec, ReplaceWithin):
        s = loc.spans.get(tuple(spec.path)) if loc else None
        if s is None or not text.startswith('"', s.start):
            return None
        a, b = columns_within(text, (s.start, s.end), (spec.start, spec.end))
        return Fix(spec.title, (Edit(a, b, orjson.dumps(spec.text).decode()[1:-1]),), spec.safe)
    if isinstance(spec, RawEdits):
        return Fix(spec.title, spec.edits, spec.safe, spec.normalize_newlines)
    if isinstance(spec, ReplaceValue):
        s = loc.spans.get(tuple(spec.path)) if loc else None
        if s is None:
            return None
        return Fix(spec.title, (Edit(s.start, s.end, orjson.dumps(spec.value).decode()),), spec.safe)
    if isinstance(spec, ReplaceKey):
        s = loc.spans.get(tuple(spec.path)) if loc else None
        if s is None:
            return None
        return Fix(spec.title, (Edit(s.key_start, s.key_end, orjson.dumps(spec.key).decode()),), spec.safe)
    raise TypeError(spec)


def _turns(obj: dict, fmt: str) -> int:
    if fmt == "sharegpt" and isinstance(obj.get("conversations"), list):
        return len(obj["conversations"])
    return 2 if fmt in ("alpaca", "prompt_completion") else 1


def _not_object(obj: object) -> Violation:
    if isinstance(obj, list):
        n = sum(isinstance(x, dict) for x in obj)
        msg = (f"a JSON array of {len(obj)} items on one line; JSONL needs one example object per line"
               if n else "the line is a JSON array, not an example object")
        return Violation(msg, (), code="TL012")
    kind = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}[type(obj)]
    return Violation(f"the line is a JSON {kind}, not an example object", (), code="TL012")


_NEAR_MISSES = {"message": "messages", "Messages": "messages", "conversation": "conversations",
                "msgs": "messages", "chat": "messages", "dialog": "messages", "turns": "messages"}


def _unknown_format(obj: dict) -> Violation:
    keys = ", ".join(repr(k) for k in list(obj)[:8]) or "none"
    hint = next((f" (did you mean {_NEAR_MISSES[k]!r} instead of {k!r}?)" for k in obj if k in _NEAR_MISSES), "")
    return Violation(f"no known format: keys are {keys}; expected 'messages' (chat) or another known format{hint}",
                     (), code="TL016")
