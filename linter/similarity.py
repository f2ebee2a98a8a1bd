"""Near-duplicate engine: normalisation, exact keys, batched MinHash signatures, an LSH index.

Self-contained (numpy and the standard library only). Nothing here knows about files, lines or
findings; the linter keys items however it likes (e.g. ``("train.jsonl", 12)``).

Shingles
    Word n-grams (default 3) of the text after NFC normalisation and case folding. A word is a run
    of letters, digits and combining marks (``str.isalnum()`` or Unicode category ``M*``), except
    that each Han ideograph, Hiragana or Katakana character is a word of its own (those scripts
    have no spaces, so without this a whole sentence would be one "word"). A text with fewer words
    than ``ngram`` has one shingle, the words it has; a text without words has none.
    :func:`words` and :func:`shingles` are the plain-Python reference of exactly this, used by
    the tests and by anyone who wants the same shingles for another tool.

Signatures (:class:`MinHasher`)
    One-permutation hashing: each shingle gets a 64-bit hash (polynomial hashes of the words,
    computed for the whole batch with numpy prefix sums, combined and mixed with the splitmix64
    finaliser); its high 32 bits pick one of ``num_perm`` bins and its low 32 bits are the value;
    each bin keeps its minimum. Empty bins are filled by improved densification (Shrivastava & Li,
    UAI 2014): from the nearest non-empty bin to the left or right, the direction fixed per bin.
    The cost is O(characters + shingles), not O(shingles x num_perm). Every step is deterministic
    and independent of the process (no ``hash()``), and a text's signature does not depend on the
    batch it is signed in. The fraction of equal positions of two signatures estimates the Jaccard
    similarity of their shingle sets. A text without words gets all ``0xFFFFFFFF``, which matches
    nothing (:func:`estimate_jaccard` returns 0.0 and the index never pairs it).

Index (:class:`LSHIndex`)
    Banded LSH over the signatures, verified with the full signature. It is kept in numpy arrays
    (signature, band hashes, insertion order per row; free rows are reused), so that
    :meth:`LSHIndex.bulk_add` and :meth:`LSHIndex.pairs` are vectorised. The per-band hash -> rows
    dictionaries that :meth:`LSHIndex.query` needs are only built on its first call, and then kept
    current by add/remove/replace.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Hashable, Iterator, Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "EMPTY",
    "LSHIndex",
    "MinHasher",
    "estimate_jaccard",
    "exact_key",
    "from_16_bits",
    "is_empty_signature",
    "lsh_params",
    "normalize",
    "shingles",
    "to_16_bits",
    "words",
]

EMPTY = 0xFFFFFFFF  # value of an empty bin; a signature of only EMPTY is the empty text's
_M64 = (1 << 64) - 1
_U64 = np.uint64


# ------------------------------------------------------------------------------------------------
# normalisation and exact keys


def normalize(text: str, *, casefold: bool = True) -> str:
    """Unicode NFC, runs of whitespace collapsed to one space, stripped, case-folded (optional)."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    # A printable text has no whitespace but " " (every other whitespace character is a control
    # or separator character): without doubled, leading or trailing spaces it is collapsed
    # already, and checking that costs a sixth of splitting and joining it.
    if not (text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "):
        text = " ".join(text.split())
    return text.casefold() if casefold else text


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


# ------------------------------------------------------------------------------------------------
# 64-bit hashing helpers (numpy uint64 arithmetic wraps mod 2**64)


def _splitmix_int(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array (returned)."""
    x ^= x >> _U64(30)
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    x ^= x >> _U64(31)
    return x


_BASE = 0x100000001B3 * 0x9E3779B97F4A7C15 & _M64 | 1  # odd polynomial base
_BASE_INV = pow(_BASE, -1, 1 << 64)
_POW_CACHE_MAX = 1 << 18  # keep powers cached up to this length (2 x 2 MB)
_pow_cache: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(BASE**i, BASE**-i) for i < n, as uint64."""
    global _pow_cache
    pw, pinv = _pow_cache
    if len(pw) >= n:
        return pw, pinv
    size = 1 << max(n - 1, 1).bit_length()
    if size > _POW_CACHE_MAX:
        size = n
    pw = np.full(size, _BASE, dtype=np.uint64)
    pw[0] = 1
    np.cumprod(pw, out=pw)
    pinv = np.full(size, _BASE_INV, dtype=np.uint64)
    pinv[0] = 1
    np.cumprod(pinv, out=pinv)
    if size <= _POW_CACHE_MAX:
        _pow_cache = (pw, pinv)
    return pw, pinv


# ------------------------------------------------------------------------------------------------
# signatures


class MinHasher:
    """Batched MinHash signatures (one-permutation hashing with densification) of word n-grams.

    Signatures are comparable only between hashers with the same ``num_perm``, ``ngram`` and
    ``seed``. They are stable across processes, machines and versions of numpy.
    """

    CHUNK_CHARS = 1 << 16  # characters per internal batch: bounds the temporary memory (small
    # arrays also avoid the page faults of fresh large allocations, which cost more than the work)

    def __init__(self, num_perm: int = 128, ngram: int = 3, seed: int = 1):
        if not 1 <= num_perm <= 1 << 16:
            raise ValueError("num_perm must be in [1, 65536]")
        if ngram < 1:
            raise ValueError("ngram must be >= 1")
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        state = _splitmix_int(0x5EED0000 ^ (seed & _M64))
        consts = []
        for _ in range(ngram + 2):
            state = _splitmix_int(state)
            consts.append(state | 1)
        self._k = [_U64(c) for c in consts[:ngram]]  # one multiplier per n-gram position
        self._k_len = _U64(consts[ngram])  # salts a word's hash with its length
        self._salt = _U64(consts[ngram + 1])
        bits = []
        for _ in range(num_perm):
            state = _splitmix_int(state)
            bits.append(state >> 63)
        self._go_right = np.array(bits, dtype=bool)  # densification direction per bin

    def __repr__(self) -> str:
        return f"MinHasher(num_perm={self.num_perm}, ngram={self.ngram}, seed={self.seed})"

    def signature(self, text: str) -> np.ndarray:
        return self.signatures([text])[0]

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32, one row per text."""
        return self._batched(list(texts), None)[0]

    def signatures_with_prefixes(self, texts: Sequence[str], cuts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Signatures of the texts and of their prefixes ``text[:cut]``, at the cost of the texts
        alone: a prefix's shingles are the texts' shingles that end before the cut. Exactly
        ``(signatures(texts), signatures([t[:c] for t, c in zip(texts, cuts)]))`` when each cut is
        0, ``len(text)`` or the position of a ``"\\n"`` (no word spans it, and Unicode normalisation
        never joins characters across it); other cuts raise ValueError."""
        texts = list(texts)
        cuts = [int(c) for c in cuts]
        if len(cuts) != len(texts):
            raise ValueError("one cut per text")
        for t, c in zip(texts, cuts):
            if not (c == 0 or c == len(t) or (0 < c < len(t) and t[c] == "\n")):
                raise ValueError(f"a cut must be at a newline or an end of its text, not at {c} of {len(t)}")
        return self._batched(texts, cuts)

    def _batched(self, texts: list[str], cuts: list[int] | None) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(texts)
        out = np.empty((n, self.num_perm), dtype=np.uint32)
        pre = np.empty((n, self.num_perm), dtype=np.uint32) if cuts is not None else None
        if n == 0:
            return out, pre
        cum = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=n) + 1)
        lo = 0
        while lo < n:
            base = cum[lo - 1] if lo else 0
            hi = int(np.searchsorted(cum, base + self.CHUNK_CHARS, side="right"))
            hi = min(max(hi, lo + 1), n)
            whole, prefix = self._chunk(texts[lo:hi], None if cuts is None else cuts[lo:hi])
            out[lo:hi] = whole
            if pre is not None:
                pre[lo:hi] = prefix
            lo = hi
        return out, pre

    # -- one batch --------------------------------------------------------------------------------

    def _chunk(self, texts: list[str], cuts: list[int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(texts)
        P = self.num_perm
        lens = np.fromiter(map(len, texts), dtype=np.int64, count=n)
        seg_start = np.cumsum(lens + 1) - (lens + 1)  # where each text starts in the joined text
        # where each segment's prefix ends, in joined coordinates
        seg_cut = None if cuts is None else seg_start + np.asarray(cuts, dtype=np.int64)
        seg_text = None  # segment -> text, when some texts take the slow path
        v = _lookup(_codepoints("\x00".join(texts)))
        if len(v) and v.max() >= _FLAG:
            # slow path for the texts with flagged characters: blank them out here, and append
            # their NFC-normalised, case-folded text as extra segments
            pos = np.flatnonzero(v >= _FLAG)
            slow = np.unique(np.searchsorted(seg_start, pos, side="right") - 1).tolist()
            for t in slow:
                v[seg_start[t] : seg_start[t] + lens[t]] = 0
            prepared = [unicodedata.normalize("NFC", texts[t]).casefold() for t in slow]
            extra = _resolved_values(prepared)
            plens = np.fromiter(map(len, prepared), dtype=np.int64, count=len(prepared))
            extra_start = len(v) + 1 + np.cumsum(plens + 1) - (plens + 1)
            v = np.concatenate([v, np.zeros(1, np.uint32), extra])
            seg_start = np.concatenate([seg_start, extra_start])
            seg_text = np.concatenate([np.arange(n), slow])
            if seg_cut is not None:  # the prefix of a prepared text is the prepared prefix
                pcuts = [len(unicodedata.normalize("NFC", texts[t][: cuts[t]]).casefold()) for t in slow]
                seg_cut = np.concatenate([seg_cut, extra_start + np.asarray(pcuts, dtype=np.int64)])

        # words: [starts, ends) of the runs of word characters
        L = len(v)
        isw = v != 0
        if L and v.max() >= _SOLO:
            solo = v >= _SOLO
            prev_w = np.concatenate([[False], isw])
            next_w = np.concatenate([isw, [False]])
            brk = np.concatenate([[False], solo])
            brk[:-1] |= solo
            starts = np.flatnonzero(next_w & (~prev_w | brk))
            ends = np.flatnonzero(prev_w & (~next_w | brk))
        else:
            edge = np.empty(L + 2, dtype=np.int8)
            edge[0] = edge[-1] = 0
            edge[1:-1] = isw
            e = np.flatnonzero(edge[1:] != edge[:-1])
            starts, ends = e[0::2], e[1::2]
        del isw
        out = np.full(n * P, EMPTY, dtype=np.uint32)
        pout = None if cuts is None else np.full(n * P, EMPTY, dtype=np.uint32)
        W = len(starts)
        if W == 0:
            return out.reshape(n, P), None if pout is None else pout.reshape(n, P)

        # polynomial hash of every word: sum v[j] * BASE**(j - start), from prefix sums
        pw, pinv = _powers(L + 1)
        pre = np.empty(L + 1, dtype=np.uint64)
        pre[0] = 0
        np.multiply(v, pw[:L], out=pre[1:])
        del v
        np.cumsum(pre[1:], out=pre[1:])
        h = pre[ends]
        h -= pre[starts]
        del pre
        h *= pinv[starts]
        wl = (ends - starts).astype(np.uint64)
        wl *= self._k_len
        h += wl
        del wl, ends

        # the segment of each word, from the number of words that start before each segment
        first = np.searchsorted(starts, seg_start)
        counts = np.diff(np.append(first, W))
        seg_of_word = np.repeat(np.arange(len(seg_start)), counts)
        # words of each segment's prefix: those that start before its cut (none spans it)
        pend = None if seg_cut is None else np.searchsorted(starts, seg_cut)  # first word after
        del starts
        k = self.ngram
        # per group of shingles: hashes, segments, in the whole text (mask), in the prefix (mask)
        parts_g, parts_t, parts_w, parts_p = [], [], [], []
        if W >= k:
            m = W - k + 1
            g = h[:m] * self._k[0]
            for i in range(1, k):
                g += h[i : i + m] * self._k[i]
            same = seg_of_word[:m] == seg_of_word[k - 1 :]
            seg = seg_of_word[:m][same]
            parts_g.append(g[same])
            parts_t.append(seg)
            parts_w.append(None)
            if pend is not None:  # the n-gram's last word is in the prefix
                parts_p.append(np.flatnonzero(same) + (k - 1) < pend[seg])
            del g, same
        if k > 1:
            # a text with fewer words than ngram has one shingle, of the words it has; so has a
            # prefix with fewer words than ngram (the text's own short shingle when it has them all)
            groups = [(counts, True)]
            if pend is not None:
                groups.append((pend - first, False))
            for cnt_all, of_whole in groups:
                short = np.flatnonzero((cnt_all > 0) & (cnt_all < k))
                if not of_whole:
                    short = short[cnt_all[short] != counts[short]]
                if not len(short):
                    continue
                f = first[short]
                cnt = cnt_all[short]
                g = h[f] * self._k[0]
                for i in range(1, k - 1):
                    take = cnt > i
                    g += np.where(take, h[np.where(take, f + i, 0)] * self._k[i], _U64(0))
                parts_g.append(g)
                parts_t.append(short)
                parts_w.append(None if of_whole else np.zeros(len(short), bool))
                if pend is not None:
                    parts_p.append(pend[short] - f == cnt if of_whole else np.ones(len(short), bool))
        del h
        if not parts_g or not sum(map(len, parts_g)):
            return out.reshape(n, P), None if pout is None else pout.reshape(n, P)
        g = np.concatenate(parts_g) if len(parts_g) > 1 else parts_g[0]
        seg = np.concatenate(parts_t) if len(parts_t) > 1 else parts_t[0]
        g ^= self._salt
        _mix(g)
        tid = seg if seg_text is None else seg_text[seg]

        # one-permutation hashing: high 32 bits -> bin, low 32 bits -> value, min per bin
        b = g >> _U64(32)
        b *= _U64(P)
        b >>= _U64(32)
        key = tid.astype(np.intp) * P + b.astype(np.intp)
        del b, tid
        val = g.astype(np.uint32)
        if all(w is None for w in parts_w):
            np.minimum.at(out, key, val)
        else:
            w = np.concatenate([np.ones(len(x), bool) if m is None else m for x, m in zip(parts_g, parts_w)])
            np.minimum.at(out, key[w], val[w])
        if pout is not None:
            in_prefix = np.concatenate(parts_p) if len(parts_p) > 1 else parts_p[0]
            np.minimum.at(pout, key[in_prefix], val[in_prefix])
        sig = out.reshape(n, P)
        self._densify(sig)
        if pout is None:
            return sig, None
        psig = pout.reshape(n, P)
        self._densify(psig)
        return sig, psig

    def _densify(self, sig: np.ndarray) -> None:
        """Fill each empty bin from the nearest non-empty bin to its right or to its left
        (circularly within the row; the direction is fixed per bin), in place."""
        P = sig.shape[1]
        full = sig != EMPTY
        nfull = full.sum(axis=1)
        rows = np.flatnonzero((nfull > 0) & (nfull < P))
        if not len(rows):
            return
        m = len(rows)
        f = sig[rows].ravel()
        full = full[rows].ravel()
        idx = np.arange(m * P)
        row_start = np.repeat(np.arange(0, m * P, P), P)
        # nearest full bin at or after each position (running min from the right); past the
        # row's end it wraps to the row's first full bin
        right = np.where(full, idx, m * P)
        right = np.minimum.accumulate(right[::-1])[::-1]
        wrap = right >= row_start + P
        right[wrap] = right[row_start[wrap]]
        # nearest full bin at or before (running max from the left), wrapping to the row's last
        left = np.where(full, idx, -1)
        np.maximum.accumulate(left, out=left)
        wrap = left < row_start
        left[wrap] = left[row_start[wrap] + P - 1]
        src = np.where(np.tile(self._go_right, m), right, left)
        sig[rows] = f[src].reshape(m, P)


def is_empty_signature(sig: np.ndarray) -> bool:
    return bool(np.all(sig == EMPTY))


EMPTY_16 = 0xFFFF


def to_16_bits(sigs: np.ndarray) -> np.ndarray:
    """Signatures kept in half the space: the low 16 bits of each bin's value (b-bit MinHash, Li
    and König 2010; a bin's minimum is small, its low bits are uniform), empty bins as 0xFFFF.
    Two different values agree by chance with probability 2**-16, which raises a similarity
    estimate by at most 0.00002; a value whose low bits are 0xFFFF reads back as an empty bin,
    which only matters for a signature of empty bins only."""
    out = (sigs & EMPTY_16).astype(np.uint16)
    out[sigs == EMPTY] = EMPTY_16
    return out


def from_16_bits(sigs16: np.ndarray) -> np.ndarray:
    """`to_16_bits`'s signatures as the uint32 values LSHIndex takes (empty bins as EMPTY)."""
    out = sigs16.astype(np.uint32)
    out[sigs16 == EMPTY_16] = EMPTY
    return out


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of equal positions; 0.0 when either is the empty text's signature."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError("signatures of different lengths")
    if not len(a) or is_empty_signature(a) or is_empty_signature(b):
        return 0.0
    return int(np.count_nonzero(a == b)) / len(a)


# ------------------------------------------------------------------------------------------------
# LSH parameters


@lru_cache(maxsize=64)
def lsh_params(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """(bands, rows) minimising ``fp_weight * FP + fn_weight * FN``, as datasketch's MinHashLSH.

    FP is the integral over [0, threshold] of the probability that a pair of that Jaccard
    similarity shares a bucket, 1 - (1 - s**r)**b; FN the integral over [threshold, 1] of the
    probability that it does not. Integrated with Simpson's rule (datasketch uses scipy's quad; the
    chosen parameters agree).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be in (0, 1)")
    fpw, fnw = weights
    cand = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    m = 2000  # Simpson's rule, an even number of intervals
    w = np.ones(m + 1)
    w[1:-1:2] = 4
    w[2:-1:2] = 2

    def integral(B: np.ndarray, R: np.ndarray, lo: float, hi: float, fn: bool) -> np.ndarray:
        s = np.linspace(lo, hi, m + 1)[None, :]
        p = 1.0 - (1.0 - s**R) ** B
        if fn:
            p = 1.0 - p
        return (p * w).sum(axis=1) * (hi - lo) / (3 * m)

    err = np.empty(len(cand))
    for lo in range(0, len(cand), 256):  # blocks of candidates: bounded temporaries
        blk = cand[lo : lo + 256]
        B = np.array([c[0] for c in blk], dtype=np.float64)[:, None]
        R = np.array([c[1] for c in blk], dtype=np.float64)[:, None]
        err[lo : lo + len(blk)] = (
            integral(B, R, 0.0, threshold, False) * fpw + integral(B, R, threshold, 1.0, True) * fnw
        )
    i = int(np.argmin(err))  # first minimum, as datasketch's strict "<" loop keeps the first
    return cand[i]


def _duplicates(h: np.ndarray) -> np.ndarray:
    """Positions of the entries of a uint64 array whose value occurs more than once, grouped by
    value in increasing order (in no particular order within a value)."""
    s = np.sort(h)  # a sort of the values alone is several times faster than an argsort
    rep = s[1:][s[1:] == s[:-1]]
    if not len(rep):
        return np.empty(0, dtype=np.int64)
    if len(rep) * 64 < len(h):  # few repeated values: find them by binary search
        rep = np.unique(rep)
        i = np.searchsorted(rep, h)
        i[i == len(rep)] = 0
        pos = np.flatnonzero(rep[i] == h)
        return pos[np.argsort(h[pos])]
    order = np.argsort(h)
    hs = h[order]
    eq = hs[1:] == hs[:-1]
    keep = np.zeros(len(h), dtype=bool)
    keep[1:] |= eq
    keep[:-1] |= eq
    return order[keep]


def _runs(hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted values: every (i, j), i < j, with hs[i] == hs[j], as two index arrays."""
    i = np.flatnonzero(hs[1:] == hs[:-1])
    out_a, out_b = [], []
    d = 1
    while len(i):
        out_a.append(i)
        out_b.append(i + d)
        d += 1
        i = i[i + d < len(hs)]
        i = i[hs[i + d] == hs[i]]
    if not out_a:
        e = np.empty(0, dtype=np.int64)
        return e, e
    return np.concatenate(out_a), np.concatenate(out_b)


# ------------------------------------------------------------------------------------------------
# the index


class LSHIndex:
    """Banded MinHash LSH with verification, updated one item at a time or in bulk.

    ``threshold``: pairs whose estimated Jaccard similarity (the full signature's fraction of equal
    positions) is at least this are reported. ``params``: (bands, rows); by default
    ``lsh_params(threshold, num_perm, weights)``. The default ``weights`` (0.1, 0.9) favour recall
    more than datasketch's (0.5, 0.5): false candidates cost only a verification here, since every
    candidate is checked against the full signature.

    Keys are any hashables. Pairs are reported with the earlier-added key first; ``replace`` keeps
    a key's place in that order. Texts without words (the all-``EMPTY`` signature) are held but
    never paired or returned.
    """

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 128,
        *,
        params: tuple[int, int] | None = None,
        weights: tuple[float, float] = (0.1, 0.9),
    ):
        self.threshold = float(threshold)
        self.num_perm = int(num_perm)
        if params is None:
            params = lsh_params(self.threshold, self.num_perm, tuple(weights))
        b, r = params
        if b * r > num_perm or b < 1 or r < 1:
            raise ValueError("bands * rows must be <= num_perm")
        self.bands, self.rows = b, r
        # smallest number of equal positions that reaches the threshold
        self._min_equal = next(
            (c for c in range(num_perm + 1) if c / num_perm >= self.threshold), num_perm + 1
        )
        state = _splitmix_int(0xBA4D5 ^ b << 8 ^ r)
        mul, add = [], []
        for _ in range(r):
            state = _splitmix_int(state)
            mul.append(state | 1)
            state = _splitmix_int(state)
            add.append(state)
        self._bmul = np.array(mul, dtype=np.uint64)  # random odd multiplier per row of a band
        self._badd = np.array(add, dtype=np.uint64)
        cap = 16
        self._sig = np.empty((cap, num_perm), dtype=np.uint32)
        self._bh = np.empty((cap, b), dtype=np.uint64)
        self._seq = np.zeros(cap, dtype=np.int64)
        self._on = np.zeros(cap, dtype=bool)  # live and not empty: in the buckets
        self._keys: list = []  # row -> key (None when free)
        self._row: dict = {}  # key -> row
        self._free: list[int] = []
        self._next_seq = 0
        self._buckets: list[dict] | None = None  # built on the first query

    # -- sizes and lookups ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, key) -> bool:
        return key in self._row

    def keys(self) -> list:
        """Keys in the order they were added."""
        rows = np.fromiter(self._row.values(), dtype=np.int64, count=len(self._row))
        rows = rows[np.argsort(self._seq[rows], kind="stable")]
        return [self._keys[r] for r in rows.tolist()]

    def get(self, key) -> np.ndarray:
        """The stored signature of ``key`` (a copy). KeyError when unknown."""
        return self._sig[self._row[key]].copy()

    # -- band hashes ------------------------------------------------------------------------------

    def _band_hashes(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 (60 bits): band k hashes positions k, k + bands, k + 2*bands, ...

        sum over the band's rows j of (x_j + add_j) * mul_j mod 2**64, then splitmix64: two
        different bands collide with probability <= 2**-32 (and a collision only costs a
        verification)."""
        b, r = self.bands, self.rows
        n = len(sigs)
        if n <= 64:  # one expression, no loop: a single row (add, query) is cheap
            x = sigs[:, : b * r].reshape(n, r, b)
            h = ((x + self._badd[:, None]) * self._bmul[:, None]).sum(axis=1, dtype=np.uint64)
        else:  # row by row of the bands, in blocks of signatures: small temporaries
            h = np.empty((n, b), dtype=np.uint64)
            for lo in range(0, n, 1 << 15):
                blk = sigs[lo : lo + (1 << 15)]
                acc = np.zeros((len(blk), b), dtype=np.uint64)
                for j in range(r):
                    t = blk[:, j * b : (j + 1) * b] + self._badd[j]
                    t *= self._bmul[j]
                    acc += t
                h[lo : lo + len(blk)] = acc
        _mix(h)
        h &= _U64((1 << 60) - 1)
        return h

    def _check(self, sigs: np.ndarray) -> np.ndarray:
        sigs = np.asarray(sigs)
        if sigs.ndim != 2 or sigs.shape[1] != self.num_perm:
            raise ValueError(f"signatures must have {self.num_perm} positions")
        return sigs.astype(np.uint32, copy=False)

    # -- storage ----------------------------------------------------------------------------------

    def _grow(self, need: int) -> None:
        cap = len(self._sig)
        if need <= cap:
            return
        new = max(need, cap * 2)
        for name in ("_sig", "_bh", "_seq", "_on"):
            old = getattr(self, name)
            arr = np.zeros((new,) + old.shape[1:], dtype=old.dtype)
            arr[: len(old)] = old
            setattr(self, name, arr)

    def _take_rows(self, n: int) -> np.ndarray | slice:
        """Rows for n new items: free rows first, then new ones (a slice when all are new)."""
        start = len(self._keys)
        if not self._free:
            self._grow(start + n)
            self._keys.extend([None] * n)
            return slice(start, start + n)
        reuse = [self._free.pop() for _ in range(min(n, len(self._free)))]
        fresh = n - len(reuse)
        self._grow(start + fresh)
        self._keys.extend([None] * fresh)
        return np.concatenate([np.array(reuse, dtype=np.int64), np.arange(start, start + fresh)])

    # -- buckets (for query) -----------------------------------------------------------------------

    def _bucket_add(self, row: int, bh: list[int]) -> None:
        for d, h in zip(self._buckets, bh, strict=True):
            cur = d.get(h)
            if cur is None:
                d[h] = row
            elif type(cur) is list:
                cur.append(row)
            else:
                d[h] = [cur, row]

    def _bucket_remove(self, row: int, bh: list[int]) -> None:
        for d, h in zip(self._buckets, bh, strict=True):
            cur = d.get(h)
            if cur is None:
                continue
            if type(cur) is list:
                cur.remove(row)
                if len(cur) == 1:
                    d[h] = cur[0]
            elif cur == row:
                del d[h]

    def _ensure_buckets(self) -> list[dict]:
        if self._buckets is not None:
            return self._buckets
        rows = np.flatnonzero(self._on[: len(self._keys)])
        row_objs = rows.tolist()  # one int object per row, shared by the bands
        row_arr = np.empty(len(row_objs), dtype=object)
        row_arr[:] = row_objs
        buckets = []
        for k in range(self.bands):
            h = self._bh[rows, k]
            d = dict(zip(h.tolist(), row_objs, strict=True))  # a repeated hash keeps its last row
            dup = _duplicates(h)
            if len(dup):
                hs = h[dup]
                new = np.ones(len(hs), dtype=bool)
                new[1:] = hs[1:] != hs[:-1]
                start = np.flatnonzero(new)
                ends = np.append(start[1:], len(hs)).tolist()
                members = row_arr[dup].tolist()
                for key, st, en in zip(hs[start].tolist(), start.tolist(), ends, strict=True):
                    d[key] = members[st:en]
            buckets.append(d)
        self._buckets = buckets
        return buckets

    # -- updates ----------------------------------------------------------------------------------

    def add(self, key: Hashable, sig: np.ndarray) -> None:
        """Add ``key`` with its signature; an existing key is replaced."""
        if key in self._row:
            self.replace(key, sig)
            return
        sig = self._check(np.asarray(sig).reshape(1, -1))
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._keys)
            self._grow(row + 1)
            self._keys.append(None)
        bh = self._band_hashes(sig)
        self._sig[row] = sig[0]
        self._bh[row] = bh[0]
        on = bool((sig != EMPTY).any())
        self._on[row] = on
        self._seq[row] = self._next_seq
        self._next_seq += 1
        self._keys[row] = key
        self._row[key] = row
        if self._buckets is not None and on:
            self._bucket_add(row, bh[0].tolist())

    def bulk_add(self, keys: Sequence[Hashable], sigs: np.ndarray) -> None:
        """Add many at once (band hashes vectorised). Existing keys are replaced, keeping their
        place in the order; a key repeated in ``keys`` takes its last signature."""
        keys = list(keys)
        sigs = self._check(sigs)
        if len(keys) != len(sigs):
            raise ValueError("keys and signatures differ in number")
        last = dict(zip(keys, range(len(keys)), strict=True))
        if len(last) != len(keys):
            keys = list(last)
            sigs = sigs[list(last.values())]
        seq_keep = {}
        if self._row:
            for k in keys:
                row = self._row.get(k)
                if row is not None:
                    seq_keep[k] = int(self._seq[row])
                    self.remove(k)
        n = len(keys)
        if n == 0:
            return
        rows = self._take_rows(n)
        self._sig[rows] = sigs
        bh = self._band_hashes(sigs)
        self._bh[rows] = bh
        on = sigs.min(axis=1) != EMPTY
        self._on[rows] = on
        seq = np.arange(self._next_seq, self._next_seq + n, dtype=np.int64)
        self._next_seq += n
        if seq_keep:
            seq = np.array(
                [seq_keep.get(k, s) for k, s in zip(keys, seq.tolist(), strict=True)],
                dtype=np.int64,
            )
        self._seq[rows] = seq
        if isinstance(rows, slice):
            self._keys[rows] = keys
            self._row.update(zip(keys, range(rows.start, rows.stop), strict=True))
            rl = range(rows.start, rows.stop)
        else:
            rl = rows.tolist()
            for k, r in zip(keys, rl, strict=True):
                self._keys[r] = k
                self._row[k] = r
        if self._buckets is not None:
            bhl = bh.tolist()
            for i in np.flatnonzero(on).tolist():
                self._bucket_add(rl[i], bhl[i])

    def remove(self, key: Hashable) -> None:
        """Remove ``key``; an unknown key is ignored."""
        row = self._row.pop(key, None)
        if row is None:
            return
        if self._buckets is not None and self._on[row]:
            self._bucket_remove(row, self._bh[row].tolist())
        self._on[row] = False
        self._keys[row] = None
        self._free.append(row)

    def replace(self, key: Hashable, sig: np.ndarray) -> None:
        """Set the signature of ``key`` (added when unknown), keeping its place in the order."""
        sig = self._check(np.asarray(sig).reshape(1, -1))
        row = self._row.get(key)
        if row is None:
            self.bulk_add([key], sig)
            return
        if self._buckets is not None and self._on[row]:
            self._bucket_remove(row, self._bh[row].tolist())
        bh = self._band_hashes(sig)
        self._sig[row] = sig[0]
        self._bh[row] = bh[0]
        on = bool((sig != EMPTY).any())
        self._on[row] = on
        if self._buckets is not None and on:
            self._bucket_add(row, bh[0].tolist())

    # -- queries ----------------------------------------------------------------------------------

    def _equal_counts(self, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
        out = np.empty(len(ra), dtype=np.int64)
        step = max(1, (1 << 22) // self.num_perm)
        for i in range(0, len(ra), step):
            a = self._sig[ra[i : i + step]]
            b = self._sig[rb[i : i + step]]
            out[i : i + step] = np.count_nonzero(a == b, axis=1)
        return out

    def query(
        self, sig: np.ndarray, *, verify: bool = True, exclude: Hashable = None
    ) -> list[tuple[Hashable, float]]:
        """Keys sharing a band bucket with ``sig``, with their estimated similarity, most similar
        first. ``verify``: only those at or above the threshold. ``exclude``: leave this key out
        (e.g. the query's own key)."""
        sig = self._check(np.asarray(sig).reshape(1, -1))
        if np.all(sig == EMPTY):
            return []
        buckets = self._ensure_buckets()
        found: set[int] = set()
        for d, h in zip(buckets, self._band_hashes(sig)[0].tolist(), strict=True):
            cur = d.get(h)
            if cur is None:
                continue
            if type(cur) is list:
                found.update(cur)
            else:
                found.add(cur)
        if exclude is not None and exclude in self._row:
            found.discard(self._row[exclude])
        if not found:
            return []
        rows = np.fromiter(found, dtype=np.int64, count=len(found))
        eq = np.count_nonzero(self._sig[rows] == sig, axis=1)
        if verify:
            keep = eq >= self._min_equal
            rows, eq = rows[keep], eq[keep]
        order = np.lexsort((self._seq[rows], -eq))
        P = self.num_perm
        return [
            (self._keys[r], c / P)
            for r, c in zip(rows[order].tolist(), eq[order].tolist(), strict=True)
        ]

    def similar(self, key: Hashable) -> list[tuple[Hashable, float]]:
        """``query`` with the stored signature of ``key``, leaving ``key`` out."""
        row = self._row.get(key)
        if row is None:
            return []
        return self.query(self._sig[row], exclude=key)

    def _rep_pairs(self):
        """(rows, group, reps, pa, pb, eq): the rows in the buckets, the group of identical
        signatures of each (an index into reps, the earliest-added row of each group), and the
        verified pairs of different groups (indices into reps, with their equal positions)."""
        n = len(self._keys)
        rows = np.flatnonzero(self._on[:n])
        m = len(rows)
        e = np.empty(0, dtype=np.int64)
        if m == 0:
            return rows, e, e, e, e, e
        # groups of identical signatures: hash the band hashes and the positions outside bands
        bh = self._bh[rows]
        fh = bh[:, 0].copy()
        for k in range(1, self.bands):
            fh *= _U64(0x9E3779B97F4A7C15)
            fh ^= bh[:, k]
            _mix(fh)
        for c in range(self.bands * self.rows, self.num_perm):
            fh *= _U64(0x9E3779B97F4A7C15)
            fh ^= self._sig[rows, c]
            _mix(fh)
        del bh
        rep_of = np.arange(m)  # position (in rows) of each row's representative
        dup = _duplicates(fh)
        if len(dup):
            dup = dup[np.lexsort((self._seq[rows[dup]], fh[dup]))]
            fs = fh[dup]
            new = np.ones(len(dup), dtype=bool)
            new[1:] = fs[1:] != fs[:-1]
            first = dup[new][np.cumsum(new) - 1]
            # a 64-bit collision between different signatures must not merge them: check
            same = self._equal_counts(rows[dup], rows[first]) == self.num_perm
            rep_of[dup[same]] = first[same]
        is_rep = rep_of == np.arange(m)
        reps = rows[is_rep]
        gid = np.cumsum(is_rep) - 1
        group = gid[rep_of]
        # candidate pairs of groups sharing a band hash
        ng = len(reps)
        cand = []
        for k in range(self.bands):
            h = self._bh[reps, k]
            pos = _duplicates(h)
            if len(pos):
                a, b = _runs(h[pos])
                a, b = pos[a], pos[b]
                cand.append(np.minimum(a, b) * ng + np.maximum(a, b))
        if not cand:
            return rows, group, reps, e, e, e
        c = np.unique(np.concatenate(cand))
        pa, pb = c // ng, c % ng
        eq = self._equal_counts(reps[pa], reps[pb])
        keep = eq >= self._min_equal
        return rows, group, reps, pa[keep], pb[keep], eq[keep]

    def _pair_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows a, rows b, equal positions) of every verified pair, a added before b, sorted by
        the add order of a, then of b. Vectorised: no Python object per pair."""
        rows, group, reps, pa, pb, eq = self._rep_pairs()
        P = self.num_perm
        e = np.empty(0, dtype=np.int64)
        if len(rows) == 0:
            return e, e, e
        ng = len(reps)
        gsize = np.bincount(group, minlength=ng)
        involved = gsize > 1
        involved[pa] = True
        involved[pb] = True
        sel = np.flatnonzero(involved[group])  # only the rows of groups that have pairs
        if not len(sel):
            return e, e, e
        sel = sel[np.lexsort((self._seq[rows[sel]], group[sel]))]
        mem = rows[sel]  # by group, in add order within a group
        gsorted = group[sel]
        gstart = np.zeros(ng, dtype=np.int64)
        gstart[involved] = np.cumsum(gsize[involved]) - gsize[involved]
        parts_a, parts_b, parts_e = [], [], []
        # within a group of identical signatures: every pair, similarity 1
        i, j = _runs(gsorted)
        parts_a.append(mem[i])
        parts_b.append(mem[j])
        parts_e.append(np.full(len(i), P, dtype=np.int64))
        # across two verified groups: every member of one with every member of the other
        if len(pa):
            cnt = gsize[pa] * gsize[pb]
            k = np.repeat(np.arange(len(pa)), cnt)
            t = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            sb = gsize[pb][k]
            parts_a.append(mem[gstart[pa][k] + t // sb])
            parts_b.append(mem[gstart[pb][k] + t % sb])
            parts_e.append(eq[k])
        a = np.concatenate(parts_a)
        b = np.concatenate(parts_b)
        e = np.concatenate(parts_e)
        swap = self._seq[a] > self._seq[b]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        o = np.lexsort((self._seq[b], self._seq[a]))
        return a[o], b[o], e[o]

    def pairs(self) -> Iterator[tuple[Hashable, Hashable, float]]:
        """Every verified pair once: (earlier-added key, later key, estimated similarity), sorted by
        the add order of the first key, then of the second. Found through the band buckets (no
        all-pairs scan); identical signatures are grouped first, so a thousand copies of one text
        cost one candidate, not half a million (the pairs themselves are still all reported)."""
        a, b, e = self._pair_rows()
        keys = self._keys
        P = self.num_perm
        for ra, rb, c in zip(a.tolist(), b.tolist(), e.tolist(), strict=True):
            yield keys[ra], keys[rb], c / P

    def groups(self) -> list[list[Hashable]]:
        """Connected components (size >= 2) of the verified pairs, each in add order, the groups
        ordered by their first key. Cheap even when ``pairs()`` would be huge (many copies)."""
        rows, group, reps, pa, pb, _ = self._rep_pairs()
        if len(rows) == 0:
            return []
        ng = len(reps)
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while x != root:  # path compression
                parent[x], x = root, parent[x]
            return root

        for a, b in zip(pa.tolist(), pb.tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        comp = np.arange(ng)
        if parent:
            nodes = np.fromiter(parent, dtype=np.int64, count=len(parent))
            comp[nodes] = [find(x) for x in nodes.tolist()]
        size = np.bincount(comp[group], minlength=ng)
        sel = np.flatnonzero(size[comp[group]] > 1)
        if not len(sel):
            return []
        c = comp[group[sel]]
        order = np.lexsort((self._seq[rows[sel]], c))
        cs = c[order]
        srows = rows[sel][order].tolist()
        bounds = np.flatnonzero(np.diff(cs)) + 1
        out = []
        for st, en in zip([0, *bounds.tolist()], [*bounds.tolist(), len(cs)], strict=True):
            out.append([self._keys[r] for r in srows[st:en]])
        out.sort(key=lambda ks: int(self._seq[self._row[ks[0]]]))
        return out

    def nbytes(self) -> int:
        """Bytes of the numpy arrays (not the Python dicts and keys)."""
        return self._sig.nbytes + self._bh.nbytes + self._seq.nbytes + self._on.nbytes
