"""What analysis produces: a line's result (what the line cache holds, one per line) and the
findings of the dataset-wide indexes.

A leaf: it imports nothing of the linter but `findings`, so the analyzer, the indexes, the
duplicate index and the cache all take these types from here without importing each other.
Every class here is pickled into the line cache by its module path: moving one means bumping
`cache.SCHEMA_VERSION`.

The per-line classes are immutable by convention, not `frozen`: a frozen dataclass's `__init__`
sets each field through `object.__setattr__`, three times slower, and a run makes (and loads
from the cache) one `LineResult` and one `Signature` per line. `unsafe_hash` keeps them hashable.
"""

from __future__ import annotations

from dataclasses import dataclass

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
