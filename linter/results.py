"""What analysis produces: a line's result (what the line cache holds, one per line) and the
findings of the dataset-wide indexes.

A leaf: it imports nothing of the linter but `findings`, so the analyzer, the indexes, the
duplicate index and the cache all take these types from here without importing each other.
A line's result goes into the line cache, and from a worker to the main process, as the bytes
`dump_result` makes: pickled, by its classes' module paths (moving one means bumping
`cache.SCHEMA_VERSION`), or, for a result without findings (nearly every line), as a tuple of
plain values in `marshal`'s format, which loads four times as fast.

The per-line classes are immutable by convention, not `frozen`: a frozen dataclass's `__init__`
sets each field through `object.__setattr__`, three times slower, and a run makes (and loads
from the cache) one `LineResult` and one `Signature` per line. `unsafe_hash` keeps them hashable.
"""

from __future__ import annotations

import marshal
import operator
import pickle
from dataclasses import dataclass, fields

from .findings import Fix, Severity, positional_reduce


@dataclass(slots=True, unsafe_hash=True)
class LineFinding:
    """A finding on one line, columns 0-based within the line, end exclusive."""

    code: str
    severity: Severity | None  # None: the rule's default (after config overrides)
    start: int
    end: int
    message: str
    fix: Fix | None = None
    related: tuple[tuple[int, str], ...] = ()  # (column on the same line, message)

    __reduce__ = positional_reduce


@dataclass(slots=True, unsafe_hash=True)
class Signature:
    """A line's duplicate signature (made by `dedupe.Signer`, held by `dedupe.DuplicateIndex`)."""

    whole_key: int  # exact key of the normalised conversation (system messages left out); 0: empty
    prompt_key: int  # of everything before the final assistant turn; 0: no prompt
    answer_key: int  # of the final assistant turn; 0: no answer
    whole_sig: bytes  # MinHash signature, dedupe.NUM_PERM uint16 (minhash.to_16_bits); b"": near matching off
    # or too few words; the prompt's likewise, and None: not made (a run that never compares
    # prompts, `Signer.sign`: the cache answers a run that does with a new analysis, `Linter._start`)
    prompt_sig: bytes | None
    media_key: int = 0  # of the example's images: near matches need the same images

    __reduce__ = positional_reduce


@dataclass(slots=True, unsafe_hash=True)
class LineResult:
    format: str | None  # None: not an example (bad JSON, blank, unknown format)
    findings: tuple[LineFinding, ...]
    tokens: int = -1  # -1: not counted
    trainable: int = -1
    messages: int = 0
    is_example: bool = False  # a JSON object (counts towards the dataset's size)
    language: str = ""  # ISO 639-1 code of the example's language, when TLC201 needs it ("": undecided)
    dedupe: Signature | None = None  # when duplicate rules are on

    __reduce__ = positional_reduce  # the cache holds one per line: fast to load


@dataclass(frozen=True, slots=True)
class IndexFinding:
    """A cross-line finding on a whole line, with related places (path, line, message)."""

    path: str
    line: int
    code: str
    message: str
    related: tuple[tuple[str, int, str], ...] = ()
    columns: tuple[int, int] | None = None  # 0-based, end exclusive; None: the line's start


# -- the bytes a LineResult is stored and sent as --------------------------------------------------

_PLAIN = b"\x00"  # first byte of a result in marshal's form: never a pickle's (protocol 2 on: 0x80)
_PLAIN_FIELDS = tuple(f.name for f in fields(LineResult) if f.name not in ("findings", "dedupe"))
_plain_values = operator.attrgetter(*_PLAIN_FIELDS)
_signature_values = operator.attrgetter(*(f.name for f in fields(Signature)))


def dump_result(r: LineResult) -> bytes:
    """`r` as bytes (`load_result`): without findings, its values (the signature's as a tuple)
    marshalled; with findings (objects marshal does not know), pickled."""
    if not r.findings:
        d = r.dedupe
        return _PLAIN + marshal.dumps((*_plain_values(r), None if d is None else _signature_values(d)))
    return pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)


def load_result(data: bytes) -> LineResult:
    """The result `dump_result` made `data` of. Raises (ValueError, EOFError, TypeError,
    pickle's errors) on bytes it did not make: the cache takes those for a miss."""
    if data[:1] == _PLAIN:
        values = marshal.loads(memoryview(data)[1:])
        sig = values[-1]
        return LineResult(values[0], (), *values[1:-1], None if sig is None else Signature(*sig))
    return pickle.loads(data)
