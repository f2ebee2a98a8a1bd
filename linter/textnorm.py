"""Text as near-duplicate matching sees it: normalisation, exact keys, words and shingles, and
the character table behind the signatures' fast path.

Numpy and the standard library only. Nothing here knows about files, lines or findings.

Shingles
    Word n-grams (default 3) of the text after NFC normalisation and case folding. A word is a run
    of letters, digits and combining marks (``str.isalnum()`` or Unicode category ``M*``), except
    that each Han ideograph, Hiragana or Katakana character is a word of its own (those scripts
    have no spaces, so without this a whole sentence would be one "word"). A text with fewer words
    than ``ngram`` has one shingle, the words it has; a text without words has none.
    :func:`words` and :func:`shingles` are the plain-Python reference of exactly this, used by
    the tests and by anyone who wants the same shingles for another tool; ``minhash.MinHasher``
    computes the same words with numpy, from the character table (:func:`_lookup`).
"""

from __future__ import annotations

import hashlib
import unicodedata

import numpy as np

__all__ = ["exact_key", "normalize", "shingles", "words"]


# ------------------------------------------------------------------------------------------------
# normalisation and exact keys


def normalize(text: str, *, casefold: bool = True) -> str:
    """Unicode NFC, runs of whitespace collapsed to one space, stripped, case-folded (optional)."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _collapsed(text)
    return text.casefold() if casefold else text


def _is_collapsed(text: str) -> bool:
    """A printable text has no whitespace but " " (every other whitespace character is a control
    or separator character): without doubled, leading or trailing spaces it is collapsed
    already, and checking that costs a sixth of splitting and joining it."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def _collapsed(text: str) -> str:
    """``" ".join(text.split())``. Most texts that are not collapsed already only have line
    breaks, single or paired (paragraphs), between words: replacing those and checking the result
    costs two thirds of splitting and joining."""
    if _is_collapsed(text):
        return text
    if "\n" in text:
        joined = text.replace("\n\n", "\n").replace("\n", " ")
        if _is_collapsed(joined):
            return joined
    return " ".join(text.split())


def exact_key(text: str, *, casefold: bool = True) -> int:
    """A stable 64-bit key of ``normalize(text)``, in ``[0, 2**63)``.

    blake2b of the UTF-8 bytes (lone surrogates passed through), so it is the same in every process
    and on every machine, unlike ``hash()``.
    """
    data = normalize(text, casefold=casefold).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


# ------------------------------------------------------------------------------------------------
# characters: what is a word character, and the case-folding / normalisation fast path

_FLAG = 1 << 31  # the character needs the slow path (NFC or multi-character case folding)
_FWORD = 1 << 30  # (with _FLAG) ... and it is a word character
_SOLO = 1 << 29  # a word character that is a word on its own (Han, Hiragana, Katakana)
_CP_MASK = (1 << 21) - 1
_UNKNOWN = 0xFFFFFFFF  # table entry not computed yet (code points above the BMP, on demand)


def _is_solo(cp: int) -> bool:
    return (
        0x3040 <= cp <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= cp <= 0x4DBF  # CJK extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= cp <= 0x3FFFF  # CJK extensions B and later (planes 2 and 3)
    )


def _is_word(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c)[0] == "M"


class _WordMap(dict):
    """``str.translate`` table of the reference tokenizer, filled on demand."""

    def __missing__(self, cp: int):
        c = chr(cp)
        if not _is_word(c):
            v = " "
        elif _is_solo(cp):
            v = f" {c} "
        else:
            v = cp  # unchanged (None would delete it)
        self[cp] = v
        return v


_WORDMAP = _WordMap()


def words(text: str) -> list[str]:
    """The words of ``normalize(text)`` as the signatures see them (plain-Python reference)."""
    return normalize(text).translate(_WORDMAP).split()


def shingles(text: str, ngram: int = 3) -> set[tuple[str, ...]]:
    """The shingle set whose Jaccard similarity the signatures estimate (plain-Python reference)."""
    ws = words(text)
    if not ws:
        return set()
    if len(ws) < ngram:
        return {tuple(ws)}
    return {tuple(ws[i : i + ngram]) for i in range(len(ws) - ngram + 1)}


def _second_chars(lo: int, hi: int) -> set[int]:
    """Code points that can be the second character of a canonical composition, from the
    decompositions of the characters in [lo, hi)."""
    out = set()
    for cp in range(lo, hi):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = d.split()
            if len(parts) == 2:
                out.add(int(parts[1], 16))
    return out


def _entry(cp: int, second: set[int]) -> int:
    c = chr(cp)
    f = c.casefold()
    if (
        len(f) != 1
        or cp in second
        or 0x1161 <= cp <= 0x1175  # Hangul V jamo
        or 0x11A8 <= cp <= 0x11C2  # Hangul T jamo
        or unicodedata.combining(c)
        or unicodedata.normalize("NFC", c) != c
    ):
        return _FLAG | (_FWORD if _is_word(c) else 0) | (_SOLO if _is_solo(cp) else 0) | cp
    if _is_word(f):
        fc = ord(f)
        return (_SOLO if _is_solo(fc) else 0) | fc
    return 0


_TABLE: np.ndarray | None = None
_SECOND: dict[int, set[int]] = {}  # plane -> its code points that can end a composition


def _char_table() -> np.ndarray:
    """uint32 per code point: 0 for a non-word character, else the case-folded code point (with
    _SOLO for a one-character word); _FLAG for characters that need the slow path; _UNKNOWN for
    entries not computed yet: only ASCII is computed up front, other characters when a text
    first has them (:func:`_lookup`), which costs microseconds per distinct character instead of
    0.2 s for the whole BMP in every process.

    A character is flagged when the fast path could differ from ``casefold(NFC(text))``: its case
    folding is not one character, it has a non-zero combining class, NFC changes it on its own, it
    can be the second character of a canonical composition, or it is a Hangul vowel or trailing
    jamo. A text without flagged characters is already NFC, and its case folding is character by
    character.
    """
    global _TABLE
    if _TABLE is None:
        table = np.full(0x110000, _UNKNOWN, dtype=np.uint32)
        table[:128] = [_entry(cp, set()) for cp in range(128)]  # no ASCII character ends a composition
        _TABLE = table
    return _TABLE


def _second_of(plane: int) -> set[int]:
    if plane not in _SECOND:
        # canonical compositions end in the BMP or plane 1 only; the scan costs 0.06 s a plane
        _SECOND[plane] = _second_chars(plane << 16, (plane + 1) << 16) if plane < 2 else set()
    return _SECOND[plane]


def prepare() -> None:
    """Build the character table now rather than on first use (before forking workers, which
    then share it)."""
    _char_table()
    _second_of(0)


def _fill(table: np.ndarray, cps: np.ndarray) -> None:
    for cp in np.unique(cps).tolist():
        table[cp] = _entry(cp, _second_of(cp >> 16))


def _codepoints(joined: str) -> np.ndarray:
    if joined.isascii():
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _lookup(cp: np.ndarray) -> np.ndarray:
    """Table values of the code points (writable uint32), unknown entries filled in."""
    table = _char_table()
    v = np.take(table, cp, mode="clip")
    if cp.dtype == np.uint32 and len(v) and v.max() == _UNKNOWN:
        pos = np.flatnonzero(v == _UNKNOWN)
        _fill(table, cp[pos])
        v[pos] = table[cp[pos]]
    return v


def _resolved_values(texts: list[str]) -> np.ndarray:
    """Values of already NFC-normalised and case-folded texts joined by NUL: no flags left."""
    v = _lookup(_codepoints("\x00".join(texts)))
    flagged = np.flatnonzero(v >= _FLAG)
    if len(flagged):
        raw = v[flagged]
        v[flagged] = np.where(raw & _FWORD, raw & (_SOLO | _CP_MASK), 0)
    return v
