"""MinHash signatures of word n-grams (:class:`MinHasher`), their 16-bit storage form, and the
Jaccard estimate they give.

Numpy and the standard library only; the words are those of ``textnorm`` (normalisation and the
character table).

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
    nothing (:func:`estimate_jaccard` returns 0.0 and ``lsh.LSHIndex`` never pairs it).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from .textnorm import _FLAG, _SOLO, _codepoints, _lookup, _resolved_values

__all__ = ["EMPTY", "MinHasher", "estimate_jaccard", "from_16_bits", "is_empty_signature", "to_16_bits"]

EMPTY = 0xFFFFFFFF  # value of an empty bin; a signature of only EMPTY is the empty text's
_M64 = (1 << 64) - 1
_U64 = np.uint64


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
        for t, c in zip(texts, cuts, strict=True):
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
        # once for the whole batch, not per chunk: a dozen numpy calls on small arrays cost
        # more in calling than in work
        self._densify(out)
        if pre is not None:
            self._densify(pre)
        return out, pre

    # -- one batch --------------------------------------------------------------------------------

    def _chunk(self, texts: list[str], cuts: list[int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The chunk's signatures (and its prefixes'), not densified yet."""
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
            w = np.concatenate([np.ones(len(x), bool) if m is None else m
                                for x, m in zip(parts_g, parts_w, strict=True)])
            np.minimum.at(out, key[w], val[w])
        if pout is not None:
            in_prefix = np.concatenate(parts_p) if len(parts_p) > 1 else parts_p[0]
            np.minimum.at(pout, key[in_prefix], val[in_prefix])
        return out.reshape(n, P), None if pout is None else pout.reshape(n, P)

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
