"""Banded LSH over MinHash signatures (``minhash``): the banding parameters and the index that
finds the pairs of similar items.

Numpy and the standard library only. Nothing here knows about files, lines or findings; the
linter keys items however it likes (e.g. ``("train.jsonl", 12)``).

Index (:class:`LSHIndex`)
    Banded LSH over the signatures, verified with the full signature. It is kept in numpy arrays
    (signature, band hashes, insertion order per row; free rows are reused), so that
    :meth:`LSHIndex.bulk_add` and :meth:`LSHIndex.pairs` are vectorised. The per-band hash -> rows
    dictionaries that :meth:`LSHIndex.query` needs are only built on its first call, and then kept
    current by add/remove/replace.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from functools import lru_cache

import numpy as np

from .minhash import _U64, EMPTY, _mix, _splitmix_int

__all__ = ["LSHIndex", "lsh_params"]


# ------------------------------------------------------------------------------------------------
# LSH parameters


@lru_cache(maxsize=64)
def lsh_params(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5), intervals: int = 200
) -> tuple[int, int]:
    """(bands, rows) minimising ``fp_weight * FP + fn_weight * FN``, as datasketch's MinHashLSH.

    FP is the integral over [0, threshold] of the probability that a pair of that Jaccard
    similarity shares a bucket, 1 - (1 - s**r)**b; FN the integral over [threshold, 1] of the
    probability that it does not. Integrated with Simpson's rule over `intervals` (an even number;
    datasketch uses scipy's adaptive quad): 200 choose what it does for every threshold, size and
    weights tried (`tests/test_similarity.py`), at a tenth of the cost of 2,000 (0.06 s before
    a run's workers could start).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be in (0, 1)")
    fpw, fnw = weights
    cand = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    m = intervals
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

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) band hashes of the signatures, as the index buckets them: two items are
        candidates when any band's hash is equal (an engine that buckets elsewhere, by a shuffle,
        uses these). Signatures of empty texts (all ``EMPTY``) are never candidates: leave them out."""
        return self._band_hashes(self._check(sigs))

    @property
    def min_equal(self) -> int:
        """The fewest equal positions of two signatures that make a verified pair."""
        return self._min_equal

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

    def reserve(self, n: int) -> None:
        """Room for n more items, allocated now: adding them in several `bulk_add` calls then
        never copies the arrays to grow them."""
        self._grow(len(self._keys) + max(0, n - len(self._free)))

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
