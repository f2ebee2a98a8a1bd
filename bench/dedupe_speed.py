"""Near-duplicate detection: tunelint's similarity engine against datasketch, on the same texts.

Generates N chat-answer-like texts (bench/datagen.py's English-like markdown, ~2.5 KB each), a
quarter of them with 1-3 edited copies (word substitutions, insertions, deletions; some also
re-cased and re-spaced), so that every near-duplicate pair is known and its true Jaccard
similarity (of the word 3-gram shingle sets) is computed exactly. Then, in the same run:

* datasketch: MinHash(num_perm=128) over the same shingles (``textnorm.shingles``, encoded to
  UTF-8) with ``MinHash.bulk``, MinHashLSH(threshold) filled in an insertion session, and a
  query for every item. Its candidates are its answer; a second row also verifies them with
  ``MinHash.jaccard`` (not part of datasketch's LSH, added for a like-for-like comparison).
* tunelint: ``MinHasher.signatures`` on the raw texts (normalisation and shingling included),
  ``LSHIndex.bulk_add`` and ``pairs()``; the same with datasketch's LSH parameters; and item by
  item, ``add`` + ``query`` per text, as a language server would.

Precision counts a reported pair as right when its true Jaccard is >= threshold - tolerance;
recall is over the true pairs >= threshold + tolerance (true Jaccard is computed for every
reported pair, cross-cluster ones included). Timings are wall-clock, single process.

    python bench/dedupe_speed.py            # N = 20,000
    python bench/dedupe_speed.py --quick    # N = 2,000
    python bench/dedupe_speed.py --n 100000 --no-datasketch
    python bench/dedupe_speed.py --memory-items 1000000   # index memory per item, short texts
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402
from datagen import TextGen  # noqa: E402

from tunelint.linter.lsh import LSHIndex  # noqa: E402
from tunelint.linter.minhash import MinHasher  # noqa: E402
from tunelint.linter.textnorm import shingles  # noqa: E402

NUM_PERM = 128


# ------------------------------------------------------------------------------------------------
# data


def edit_rate(rng: random.Random) -> float:
    """Fraction of the words edited in a copy: many light edits, a spread of heavier ones."""
    r = rng.random()
    if r < 0.1:
        return 0.0
    if r < 0.45:
        return rng.uniform(0.0, 0.02)
    if r < 0.75:
        return rng.uniform(0.02, 0.06)
    return rng.uniform(0.06, 0.25)


def variant(text: str, rate: float, rng: random.Random, gen: TextGen) -> str:
    toks = text.split(" ")
    for _ in range(round(rate * len(toks))):
        op = rng.random()
        i = rng.randrange(len(toks))
        if op < 0.5:
            toks[i] = gen.words(1)[0]
        elif op < 0.75:
            toks.insert(i, gen.words(1)[0])
        elif len(toks) > 1:
            del toks[i]
    out = " ".join(toks)
    if rng.random() < 0.15:  # case and spacing changes do not count
        out = out.upper().replace(" ", "  ")
    return out


def generate(n: int, seed: int) -> tuple[list[str], list[list[int]]]:
    """n texts and the clusters (lists of indices) of a base text and its copies."""
    rng = random.Random(seed)
    gen = TextGen(random.Random(seed + 1))
    texts: list[str] = []
    clusters: list[list[int]] = []
    while len(texts) < n:
        base = gen.markdown(rng.randint(1500, 3500), code_rate=0.12)
        members = [len(texts)]
        texts.append(base)
        if rng.random() < 0.25:
            for _ in range(rng.randint(1, 3)):
                if len(texts) >= n:
                    break
                members.append(len(texts))
                texts.append(variant(base, edit_rate(rng), rng, gen))
        if len(members) > 1:
            clusters.append(members)
    order = list(range(n))
    rng.shuffle(order)
    where = {old: new for new, old in enumerate(order)}
    texts = [texts[i] for i in order]
    clusters = [sorted(where[m] for m in c) for c in clusters]
    return texts, clusters


class Truth:
    def __init__(self, texts: list[str], clusters: list[list[int]]):
        self.texts = texts
        self._sh: dict[int, set] = {}
        self.pairs: dict[tuple[int, int], float] = {}
        for c in clusters:
            for i, a in enumerate(c):
                for b in c[i + 1 :]:
                    self.pairs[(a, b)] = self.jaccard(a, b)

    def shingles(self, i: int) -> set:
        s = self._sh.get(i)
        if s is None:
            s = self._sh[i] = shingles(self.texts[i])
        return s

    def jaccard(self, a: int, b: int) -> float:
        if (a, b) in self.pairs:
            return self.pairs[(a, b)]
        x, y = self.shingles(a), self.shingles(b)
        return len(x & y) / len(x | y) if x or y else 0.0


def score(found: set, truth: Truth, thr: float, tol: float) -> dict:
    must = {p for p, j in truth.pairs.items() if j >= thr + tol}
    wrong = sum(1 for a, b in found if truth.jaccard(a, b) < thr - tol)
    bands = {}
    for lo, hi in ((thr - tol, thr), (thr, thr + tol), (thr + tol, 0.9), (0.9, 0.95), (0.95, 1.01)):
        ps = [p for p, j in truth.pairs.items() if lo <= j < hi]
        bands[(lo, hi)] = (sum(p in found for p in ps), len(ps))
    return {
        "found": len(found),
        "precision": 1 - wrong / len(found) if found else 1.0,
        "recall": len(must & found) / len(must) if must else 1.0,
        "bands": bands,
    }


# ------------------------------------------------------------------------------------------------
# the contenders


def run_datasketch(texts: list[str], thr: float) -> tuple[list[dict], str]:
    import datasketch
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    sh = [[" ".join(g).encode("utf-8") for g in shingles(t)] for t in texts]
    t1 = time.perf_counter()
    mhs = MinHash.bulk(sh, num_perm=NUM_PERM)
    t2 = time.perf_counter()
    lsh = MinHashLSH(threshold=thr, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, m in enumerate(mhs):
            session.insert(i, m)
    found = set()
    for i, m in enumerate(mhs):
        for j in lsh.query(m):
            if j != i:
                found.add((i, j) if i < j else (j, i))
    t3 = time.perf_counter()
    verified = {(a, b) for a, b in found if mhs[a].jaccard(mhs[b]) >= thr}
    t4 = time.perf_counter()
    b, r = lsh.b, lsh.r
    rows = [
        {
            "name": f"datasketch {datasketch.__version__}: MinHash + MinHashLSH (b={b}, r={r})",
            "shingle": t1 - t0,
            "sign": t2 - t1,
            "index": t3 - t2,
            "found_set": found,
        },
        {
            "name": "datasketch, candidates verified with MinHash.jaccard",
            "shingle": t1 - t0,
            "sign": t2 - t1,
            "index": t4 - t2,
            "found_set": verified,
        },
    ]
    return rows, f"datasketch {datasketch.__version__}"


def run_ours(texts: list[str], thr: float, params=None, label="") -> dict:
    t0 = time.perf_counter()
    sig = MinHasher(num_perm=NUM_PERM).signatures(texts)
    t1 = time.perf_counter()
    idx = LSHIndex(threshold=thr, num_perm=NUM_PERM, params=params)
    idx.bulk_add(list(range(len(texts))), sig)
    pairs = list(idx.pairs())
    t2 = time.perf_counter()
    return {
        "name": f"tunelint similarity{label} (b={idx.bands}, r={idx.rows})",
        "shingle": None,
        "sign": t1 - t0,
        "index": t2 - t1,
        "found_set": {(a, b) if a < b else (b, a) for a, b, _ in pairs},
        "sig": sig,
    }


def run_ours_incremental(texts: list[str], thr: float, sig: np.ndarray) -> dict:
    """add() + query() one item at a time (the language server's pattern), same signatures."""
    t0 = time.perf_counter()
    hasher = MinHasher(num_perm=NUM_PERM)
    for t in texts[:200]:  # signing one text per call, timed on a sample and extrapolated
        hasher.signature(t)
    t_sign1 = (time.perf_counter() - t0) / min(200, len(texts)) * len(texts)
    t1 = time.perf_counter()
    idx = LSHIndex(threshold=thr, num_perm=NUM_PERM)
    idx.query(sig[0])  # build the (empty) query buckets first: every add() then maintains them
    found = set()
    for i in range(len(texts)):
        for j, _ in idx.query(sig[i]):
            found.add((j, i))
        idx.add(i, sig[i])
    t2 = time.perf_counter()
    return {
        "name": "tunelint similarity, one at a time: signature() + query() + add() per text",
        "shingle": None,
        "sign": t_sign1,
        "index": t2 - t1,
        "found_set": found,
    }


# ------------------------------------------------------------------------------------------------
# memory


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure_memory(sig: np.ndarray) -> dict:
    """Bytes per item of an LSHIndex holding these signatures: numpy arrays only (bulk use,
    what pairs() needs), then with the query buckets built (the language server's use). Keys are
    ("train.jsonl", line) tuples; their own size is counted."""
    n = len(sig)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    keys = [("train.jsonl", i) for i in range(n)]
    k_bytes = tracemalloc.get_traced_memory()[0] - base
    idx = LSHIndex(threshold=0.8, num_perm=NUM_PERM)
    idx.bulk_add(keys, sig)
    bulk = tracemalloc.get_traced_memory()[0] - base
    idx.query(sig[0])
    full = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    # exact capacity trimmed out: the arrays grow by doubling, so report the used share too
    used_arrays = n * (NUM_PERM * 4 + idx.bands * 8 + 8 + 1)
    return {
        "n": n,
        "keys": k_bytes / n,
        "bulk": bulk / n,
        "full": full / n,
        "arrays_used": used_arrays / n,
        "bands": idx.bands,
    }


def memory_items(n: int, seed: int) -> str:
    rng = random.Random(seed)
    gen = TextGen(random.Random(seed))
    t0 = time.perf_counter()
    texts = [" ".join(gen.words(rng.randint(8, 40))) for _ in range(n)]
    keys = [("train.jsonl", i) for i in range(n)]
    t1 = time.perf_counter()
    gc.collect()
    r0 = rss_mb()
    sig = MinHasher(num_perm=NUM_PERM).signatures(texts)
    t2 = time.perf_counter()
    idx = LSHIndex(threshold=0.8, num_perm=NUM_PERM)
    idx.bulk_add(keys, sig)
    t3 = time.perf_counter()
    del sig  # the index holds its own copy
    gc.collect()
    r1 = rss_mb()
    npairs = sum(1 for _ in idx.pairs())
    t4 = time.perf_counter()
    idx.query(idx.get(keys[0]))
    t5 = time.perf_counter()
    gc.collect()
    r2 = rss_mb()
    per = 2**20 / n
    lines = [
        f"### Index memory, {n:,} short texts (8-40 words)",
        "",
        f"Keys are (path, line) tuples created beforehand (not counted); RSS before: {r0:.0f} MB.",
        "",
        "| step | seconds | RSS MB | index per item |",
        "|---|---:|---:|---:|",
        f"| generate texts and keys | {t1 - t0:.1f} | {r0:.0f} | |",
        f"| signatures | {t2 - t1:.1f} | | |",
        f"| bulk_add | {t3 - t2:.1f} | {r1:.0f} | {(r1 - r0) * per:.0f} B |",
        f"| pairs() ({npairs:,} pairs) | {t4 - t3:.1f} | | |",
        f"| first query() builds the buckets | {t5 - t4:.1f} | {r2:.0f} | "
        f"{(r2 - r0) * per:.0f} B |",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=20000, help="number of texts (default 20,000)")
    ap.add_argument("--quick", action="store_true", help="2,000 texts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--tolerance", type=float, default=0.05, help="band around the threshold")
    ap.add_argument("--no-datasketch", action="store_true", help="tunelint rows only")
    ap.add_argument(
        "--memory-items", type=int, default=0, help="also: index memory for N short texts"
    )
    ap.add_argument("--results", type=Path, default=HERE / "results" / "dedupe_speed.md")
    args = ap.parse_args()
    n = 2000 if args.quick else args.n
    thr, tol = args.threshold, args.tolerance

    out: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    emit(f"## Near-duplicate detection: {n:,} texts, threshold {thr}, num_perm {NUM_PERM}")
    emit()
    t0 = time.perf_counter()
    texts, clusters = generate(n, args.seed)
    t_gen = time.perf_counter() - t0

    # untimed warm-up of both on a small sample: imports, first-call allocations, and tunelint's
    # one-time character table (timed here on its own)
    from tunelint.linter import textnorm

    t0 = time.perf_counter()
    textnorm._char_table()
    t_table = time.perf_counter() - t0
    warm = texts[:200]
    run_ours(warm, thr)
    have_ds = not args.no_datasketch
    if have_ds:
        try:
            run_datasketch(warm, thr)
        except ImportError:
            have_ds = False

    # the timed runs come before the exact Jaccard similarities are computed: millions of shingle
    # tuples in the heap would make the garbage collector's full passes part of the timings
    rows = []
    if have_ds:
        ds_rows, _ = run_datasketch(texts, thr)
        rows += ds_rows
    gc.collect()
    ours = run_ours(texts, thr)
    rows.append(ours)
    gc.collect()
    rows.append(run_ours(texts, thr, params=(9, 13), label=", datasketch's LSH parameters"))
    gc.collect()
    rows.append(run_ours_incremental(texts, thr, ours["sig"]))

    t0 = time.perf_counter()
    truth = Truth(texts, clusters)
    t_truth = time.perf_counter() - t0
    js = list(truth.pairs.values())
    chars = sum(map(len, texts))
    emit(
        f"Data: {n:,} texts, {chars / n:,.0f} characters each on average "
        f"({sum(len(t.split()) for t in texts) / n:,.0f} words), {len(clusters):,} clusters, "
        f"{len(js):,} pairs within clusters, {sum(j >= thr + tol for j in js):,} with true "
        f"Jaccard >= {thr + tol:.2f}, {sum(abs(j - thr) < tol for j in js):,} within ±{tol} of "
        f"{thr} (generated in {t_gen:.1f} s, exact Jaccard in {t_truth:.1f} s)."
    )
    emit(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}; one process, wall-clock seconds."
    )
    emit()
    if not have_ds and not args.no_datasketch:
        emit("(datasketch is not installed: `pip install datasketch` for its rows)")
        emit()
    for r in rows:
        r["total"] = (r["shingle"] or 0) + r["sign"] + r["index"]
        r.update(score(r["found_set"], truth, thr, tol))
    ref = rows[0] if have_ds else None

    emit(
        "| method | shingling s | signatures s | index + all pairs s | total s | "
        "speed-up vs datasketch | same, datasketch's shingling not counted | pairs | precision | "
        "recall |"
    )
    emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sh = f"{r['shingle']:.2f}" if r["shingle"] is not None else "(in signatures)"
        ratio = f"{ref['total'] / r['total']:.1f}x" if ref else "–"
        ratio2 = "–"
        if ref and r["shingle"] is None:
            ratio2 = f"{(ref['total'] - ref['shingle']) / r['total']:.1f}x"
        emit(
            f"| {r['name']} | {sh} | {r['sign']:.2f} | {r['index']:.2f} | {r['total']:.2f} | "
            f"{ratio} | {ratio2} | {r['found']:,} | {r['precision']:.3f} | {r['recall']:.3f} |"
        )
    emit()
    emit(
        f"precision: reported pairs whose true Jaccard is >= {thr - tol:.2f}; recall: true pairs "
        f">= {thr + tol:.2f} that were reported. Targets: speed-up >= 10x, both >= 0.95."
    )
    emit()
    bands = list(rows[0]["bands"])
    emit("Recall by true Jaccard (pairs within clusters):")
    emit()
    emit(
        "| method | "
        + " | ".join(f"[{lo:.2f}, {min(hi, 1):.2f}{']' if hi > 1 else ')'}" for lo, hi in bands)
        + " |"
    )
    emit("|---|" + "---:|" * len(bands))
    for r in rows:
        cells = [f"{f / t:.3f} ({t})" if t else "–" for f, t in r["bands"].values()]
        emit(f"| {r['name']} | " + " | ".join(cells) + " |")
    emit()
    emit(
        f"Throughput of `MinHasher.signatures`: {n / ours['sign']:,.0f} texts/s, "
        f"{chars / ours['sign'] / 1e6:.1f} M characters/s. Not in the table: tunelint builds a "
        f"character table once per process on first use ({t_table * 1e3:.0f} ms here), and both "
        "had an untimed warm-up on 200 texts."
    )
    emit()

    mem = measure_memory(ours["sig"])
    emit(
        f"Index memory per item at {mem['n']:,} items (tracemalloc; key tuples "
        f"{mem['keys']:.0f} B each, counted): {mem['bulk']:.0f} B after bulk_add "
        f"(signature {NUM_PERM * 4} B, {mem['bands']} band hashes, order; arrays grow by "
        f"doubling), {mem['full']:.0f} B once query() has built the band buckets. At 1,000,000 "
        f"items: ~{mem['bulk'] * 1e6 / 2**30:.1f} GiB / ~{mem['full'] * 1e6 / 2**30:.1f} GiB."
    )
    emit()
    if args.memory_items:
        emit(memory_items(args.memory_items, args.seed))

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"(written to {args.results})")


if __name__ == "__main__":
    main()
