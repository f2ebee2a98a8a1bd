"""The near-duplicate engine (tunelint.linter's textnorm, minhash and lsh): normalisation, exact
keys, signatures, the LSH index. Accuracy is checked against exact Jaccard similarities of
generated near duplicates; timings live in bench/dedupe_speed.py, not here."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import subprocess
import sys
import unicodedata

import numpy as np
import pytest

from tunelint.linter import minhash, textnorm
from tunelint.linter.lsh import LSHIndex, lsh_params
from tunelint.linter.minhash import EMPTY, MinHasher, estimate_jaccard
from tunelint.linter.textnorm import exact_key, normalize, shingles, words

THRESHOLD = 0.8
TOLERANCE = 0.05  # pairs within this distance of the threshold count neither way


# ------------------------------------------------------------------------------------------------
# generated near duplicates with known true similarity


def _vocabulary(rng: random.Random, n: int = 3000) -> tuple[list[str], list[float]]:
    common = (
        "the of and to a in is that it for you was with on as are be this have not or by at "
        "from but they we can if will all there their one so what about would do more when up "
        "out has been who them some could into than other its only then these may also any how "
        "time people way year day thing world life hand part child place work week case point "
        "number group problem fact system program question model data value answer result"
    ).split()
    onsets = ["b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "io"]
    codas = ["", "n", "r", "s", "t", "l", "nd", "st", "ng"]
    suffixes = ["", "", "ing", "ed", "ly", "ness", "ment", "able", "er"]
    vocab = list(dict.fromkeys(common))
    seen = set(vocab)
    while len(vocab) < n:
        w = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
            for _ in range(rng.choice((1, 2, 2, 3)))
        ) + rng.choice(suffixes)
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    weights = [1.0 / (r + 2.7) for r in range(len(vocab))]  # Zipf-like
    return vocab, weights


class NearDupGen:
    """Base texts of English-like words (sentences, punctuation, capitals) and variants with a
    given fraction of word edits: substitutions, insertions and deletions."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.vocab, self.weights = _vocabulary(self.rng)

    def _words(self, k: int) -> list[str]:
        return self.rng.choices(self.vocab, weights=self.weights, k=k)

    def base(self, n_words: int) -> list[str]:
        toks = self._words(n_words)
        i = 0
        while i < len(toks):  # sentences: a capital first, a full stop last, the odd comma
            j = min(len(toks), i + self.rng.randint(6, 20))
            toks[i] = toks[i].capitalize()
            toks[j - 1] += "."
            if j - i > 6 and self.rng.random() < 0.4:
                toks[i + 3] += ","
            i = j
        return toks

    def variant(self, toks: list[str], rate: float) -> list[str]:
        out = list(toks)
        for _ in range(round(rate * len(toks))):
            op = self.rng.random()
            i = self.rng.randrange(len(out))
            if op < 0.5:
                out[i] = self._words(1)[0]
            elif op < 0.75:
                out.insert(i, self._words(1)[0])
            elif len(out) > 1:
                del out[i]
        return out


def true_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def make_dataset(seed: int, n_clusters: int, n_singles: int, n_words: int = 300):
    """(texts, {(i, j): true Jaccard} for every pair within a cluster, shingle sets)."""
    g = NearDupGen(seed)
    texts: list[str] = []
    clusters: list[list[int]] = []
    for _ in range(n_clusters):
        base = g.base(n_words)
        members = [len(texts)]
        texts.append(" ".join(base))
        for _ in range(g.rng.randint(1, 3)):
            rate = g.rng.choice((0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2))
            v = " ".join(g.variant(base, rate))
            if g.rng.random() < 0.2:  # case and spacing differences do not count
                v = v.upper().replace(" ", "  ")
            members.append(len(texts))
            texts.append(v)
        clusters.append(members)
    for _ in range(n_singles):
        texts.append(" ".join(g.base(g.rng.randint(5, n_words))))
    order = list(range(len(texts)))
    g.rng.shuffle(order)
    where = {old: new for new, old in enumerate(order)}
    texts = [texts[i] for i in order]
    sh = [shingles(t) for t in texts]
    truth = {}
    for members in clusters:
        for a, b in itertools.combinations(sorted(where[m] for m in members), 2):
            truth[(a, b)] = true_jaccard(sh[a], sh[b])
    return texts, truth, sh


def precision_recall(found: set, truth: dict, sh: list) -> tuple[float, float, int, int]:
    """Recall over the true pairs >= threshold + tolerance; precision over the pairs found, one
    being wrong when its true Jaccard (computed for any pair found) is < threshold - tolerance."""
    must = {p for p, j in truth.items() if j >= THRESHOLD + TOLERANCE}
    recall = len(must & found) / len(must) if must else 1.0
    wrong = [
        p
        for p in found
        if truth.get(p, None) is None
        and true_jaccard(sh[p[0]], sh[p[1]]) < THRESHOLD - TOLERANCE
        or truth.get(p, 1.0) < THRESHOLD - TOLERANCE
    ]
    precision = 1 - len(wrong) / len(found) if found else 1.0
    return precision, recall, len(must), len(found)


@pytest.fixture(scope="module")
def dataset():
    return make_dataset(seed=7, n_clusters=160, n_singles=240)


@pytest.fixture(scope="module")
def hasher():
    return MinHasher()


# ------------------------------------------------------------------------------------------------
# normalisation, words, exact keys


def test_normalize():
    assert normalize("  Hello,\t\n  World!  ") == "hello, world!"
    assert normalize("  Hello,\t\n  World!  ", casefold=False) == "Hello, World!"
    assert normalize("Cafe\u0301") == normalize("CAFÉ") == "café"  # NFC, then case folding
    assert normalize("Straße") == "strasse"
    assert normalize("a\u00a0b\u2003c") == "a b c"  # Unicode whitespace
    assert normalize("") == ""


def test_words_are_runs_of_letters_digits_and_marks():
    assert words("Hello, World! It's 2024-05-01.") == [
        "hello",
        "world",
        "it",
        "s",
        "2024",
        "05",
        "01",
    ]
    assert words("snake_case and e-mail") == ["snake", "case", "and", "e", "mail"]
    assert words("naïve café — “quoted” déjà-vu") == ["naïve", "café", "quoted", "déjà", "vu"]
    assert words("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # combining vowel signs and virama
    assert words("日本語のテキスト") == ["日", "本", "語", "の", "テ", "キ", "ス", "ト"]
    assert words("Привет, мир") == ["привет", "мир"]
    assert words("🙂 🚀!!") == []
    assert shingles("one two") == {("one", "two")}
    assert shingles("a b c d") == {("a", "b", "c"), ("b", "c", "d")}
    assert shingles("...") == set()


def test_exact_key_ignores_case_spacing_and_unicode_form():
    k = exact_key("Hello   World")
    assert 0 <= k < 2**63
    assert exact_key(" hello world\n") == k
    assert exact_key("Café") == exact_key("CAFE\u0301")
    assert exact_key("Hello World!") != k
    assert exact_key("Hello World", casefold=False) != exact_key("hello world", casefold=False)


def test_normalize_skips_splitting_only_texts_that_are_collapsed_already():
    """`normalize` leaves printable texts without doubled or outer spaces as they are, and turns
    texts with line breaks alone between words into spaces without splitting; on random texts of
    every kind of whitespace it equals splitting and joining NFC."""
    from tunelint.linter.textnorm import normalize

    blanks = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2000", "\u2028",
              "\u2029", "\u3000", "\u200b", "\ufeff"]
    # line breaks single, paired and more (what most texts have between words: `_collapsed`)
    breaks = ["\n", "\n\n", "\n\n\n", " \n", "\n "]
    chars = blanks + breaks + list("abcXYZ.,!é") + ["e\u0301", "ß", "İ", "中", "🙂", "\x00"]
    rng = random.Random(1)
    for _ in range(50000):
        t = "".join(rng.choices(chars, k=rng.randint(0, 12)))
        assert normalize(t) == " ".join(unicodedata.normalize("NFC", t).split()).casefold(), repr(t)


def test_exact_key_and_signatures_are_stable_across_processes():
    code = (
        "from tunelint.linter.textnorm import exact_key\n"
        "from tunelint.linter.minhash import MinHasher\n"
        "import hashlib\n"
        "t = 'Near-duplicate detection, café 日本語 🙂 Straße, must not depend on hash() seeds.'\n"
        "print(exact_key(t), hashlib.blake2b(MinHasher().signature(t).tobytes()).hexdigest())\n"
    )
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.split())
    assert outs[0] == outs[1]
    t = "Near-duplicate detection, café 日本語 🙂 Straße, must not depend on hash() seeds."
    sig = MinHasher().signature(t)
    assert outs[0] == [str(exact_key(t)), hashlib.blake2b(sig.tobytes()).hexdigest()]


def test_golden_values():
    """Keys and signatures are cached by the linter: a change here must be deliberate (and bump
    whatever caches them)."""
    assert exact_key("Hello, World!") == 443497614649871009
    sig = MinHasher().signature("The quick brown fox jumps over the lazy dog again and again.")
    assert hashlib.blake2b(sig.tobytes(), digest_size=8).hexdigest() == "849ee481eba6ebae"


# ------------------------------------------------------------------------------------------------
# signatures


def _reference_signature(h: MinHasher, text: str) -> np.ndarray:
    """The signature computed one shingle at a time in plain Python from `words()`."""
    m64 = (1 << 64) - 1
    P = h.num_perm
    ws = words(text)
    if not ws:
        return np.full(P, EMPTY, dtype=np.uint32)

    def value(ch: str) -> int:
        cp = ord(ch)
        return cp | (textnorm._SOLO if textnorm._is_solo(cp) else 0)

    def word_hash(w: str) -> int:
        x = sum(value(c) * pow(minhash._BASE, j, 1 << 64) for j, c in enumerate(w))
        return (x + len(w) * int(h._k_len)) & m64

    def mix(x: int) -> int:
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & m64
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & m64
        return x ^ (x >> 31)

    wh = [word_hash(w) for w in ws]
    n = h.ngram
    grams = [wh[i : i + n] for i in range(len(wh) - n + 1)] if len(wh) >= n else [wh]
    sig = [EMPTY] * P
    for gram in grams:
        g = sum(x * int(k) for x, k in zip(gram, h._k, strict=False)) & m64
        g = mix(g ^ int(h._salt))
        b = ((g >> 32) * P) >> 32
        sig[b] = min(sig[b], g & 0xFFFFFFFF)
    full = [v != EMPTY for v in sig]
    out = list(sig)
    for j in range(P):
        if not full[j]:
            step = 1 if h._go_right[j] else -1
            k = (j + step) % P
            while not full[k]:
                k = (k + step) % P
            out[j] = sig[k]
    return np.array(out, dtype=np.uint32)


TRICKY = [
    "",
    "   \n\t ",
    "...!?",
    "word",
    "Word!",
    "two words",
    "Hello, World! Hello, World! Hello, World!",
    "Cafe\u0301 au lait, CAFÉ AU LAIT",  # NFD and NFC
    "Straße STRASSE straße",  # multi-character case folding
    "İstanbul ıi Iİ",  # Turkish dotted and dotless i
    "ΣΊΣΥΦΟΣ σίσυφος, ΌΣΟΣ",  # final sigma
    "\u1100\u1161\u11a8 각 한국어 텍스트",  # Hangul jamo that compose under NFC
    "नमस्ते दुनिया, यह एक परीक्षण है",  # Devanagari with combining marks
    "日本語のテキストと中文文本, 混在 text",  # solo characters next to Latin
    "emoji 🙂 🚀 between 👍🏽 words 🎉",  # astral, non-word
    "𐐀𐐨 Deseret 𝐀𝐁𝐂 math 𠀀𠀁 ext-B",  # astral letters: case folding, solo ideographs
    "a\u0308\u0301 o\u0301\u0308 combining marks in both orders",
    "Å Å Å angstrom, ohm Ω Ω, ﬁ ligature ﬃ",  # NFC singletons, compatibility characters
    "lone \ud800 surrogate \udfff in text",
    "nul\x00inside and\x00more",
    "x" * 5000 + " long " + "y z " * 100,
]


def test_signatures_match_the_plain_python_reference(hasher):
    rng = random.Random(3)
    pool = list("abcxyzé ,.ßİΣσς") + ["\u0301", "\u0308", "\u1100", "\u1161", "\u11a8", "각", "日"]
    pool += ["🙂", "𐐀", "\u0915", "\u093f", "\u094d", "Å", "ﬁ", " ", " "]
    texts = TRICKY + ["".join(rng.choices(pool, k=rng.randint(0, 60))) for _ in range(300)]
    got = hasher.signatures(texts)
    for t, row in zip(texts, got, strict=True):
        assert np.array_equal(row, _reference_signature(hasher, t)), repr(t)
    for ng, perm in ((1, 64), (2, 128), (5, 100)):
        h = MinHasher(num_perm=perm, ngram=ng, seed=9)
        got = h.signatures(texts)
        for t, row in zip(texts, got, strict=True):
            assert np.array_equal(row, _reference_signature(h, t)), (ng, repr(t))


def test_prefix_signatures_equal_the_prefixes_own(hasher):
    """signatures_with_prefixes gives exactly the signatures of the texts and of their prefixes,
    for every n-gram size (short texts and short prefixes included), on both character paths."""
    rng = random.Random(11)
    words = ["alpha", "Beta", "straße", "ǅemal", "ﬁne", "e\u0301t\u00e9", "中文字", "日本", "カタカナ", "🙂",
             "x", "42", "naïve", "İstanbul", "ΣΊΣΥΦΟΣ", "a\u0300", "각", "", "", " ", "  ", ",", "\t"]
    texts, cuts = [], []
    for _ in range(1500):
        turns = [" ".join(rng.choice(words) for _ in range(rng.choice([0, 1, 2, 3, 5, 20, 60])))
                 for _ in range(rng.randint(1, 5))]
        j = rng.randint(0, len(turns))
        texts.append("\n".join(turns))
        cuts.append(len("\n".join(turns[:j])) if j < len(turns) else len(texts[-1]))
    for h in (hasher, MinHasher(num_perm=64, ngram=1, seed=4), MinHasher(num_perm=100, ngram=5, seed=9)):
        whole, prefix = h.signatures_with_prefixes(texts, cuts)
        assert np.array_equal(whole, h.signatures(texts))
        assert np.array_equal(prefix, h.signatures([t[:c] for t, c in zip(texts, cuts, strict=True)]))
    small = MinHasher()
    small.CHUNK_CHARS = 100
    assert all(np.array_equal(a, b) for a, b in zip(small.signatures_with_prefixes(texts, cuts),
                                                     hasher.signatures_with_prefixes(texts, cuts), strict=True))
    with pytest.raises(ValueError, match="newline"):
        hasher.signatures_with_prefixes(["alpha beta"], [3])  # inside a word
    with pytest.raises(ValueError, match="one cut per text"):
        hasher.signatures_with_prefixes(["alpha beta"], [])


def test_signature_alone_equals_signature_in_any_batch(hasher, dataset):
    texts = TRICKY + dataset[0][:200]
    batch = hasher.signatures(texts)
    assert batch.shape == (len(texts), 128) and batch.dtype == np.uint32
    for i in range(0, len(texts), 7):
        assert np.array_equal(hasher.signature(texts[i]), batch[i])
    rev = hasher.signatures(texts[::-1])[::-1]
    assert np.array_equal(rev, batch)
    small = MinHasher()
    small.CHUNK_CHARS = 100  # many internal batches, texts longer than a batch
    assert np.array_equal(small.signatures(texts), batch)
    assert hasher.signatures([]).shape == (0, 128)


def test_fast_path_assumptions_hold_for_every_bmp_character():
    """A text of characters the table does not flag is NFC and case-folds character by character;
    case folding is idempotent (the slow path relies on it)."""
    table = textnorm._lookup(np.arange(0x10000, dtype=np.uint32))
    ok = [cp for cp in range(0x10000) if table[cp] < textnorm._FLAG and not 0xD800 <= cp <= 0xDFFF]
    for cp in range(0x10000):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        f = c.casefold()
        assert f.casefold() == f
    rng = random.Random(5)
    for _ in range(20):
        s = "".join(chr(c) for c in rng.choices(ok, k=20000))
        assert unicodedata.is_normalized("NFC", s)
    # pairs around composing characters: every unflagged character after each starter
    starters = "AaEeOoUu\u1100\u1112\uac00\u0915"
    for b in starters:
        s = "".join(b + chr(c) for c in ok)
        assert unicodedata.is_normalized("NFC", s)


def test_empty_and_one_word_texts(hasher):
    sig = hasher.signatures(
        ["", "   ", "!!!", "hello", "Hello!", "world", "hello world", "Hello,  World"]
    )
    for i in range(3):
        assert (sig[i] == EMPTY).all()
        assert estimate_jaccard(sig[i], sig[i]) == 0.0  # the empty text matches nothing
    assert not (sig[3] == EMPTY).any()
    assert np.array_equal(sig[3], sig[4])
    assert estimate_jaccard(sig[3], sig[5]) < 0.1
    assert np.array_equal(sig[6], sig[7])
    assert estimate_jaccard(sig[3], sig[6]) < 0.1  # {(hello,)} vs {(hello, world)}
    idx = LSHIndex()
    idx.bulk_add(["e1", "e2", "w1", "w2"], sig[[0, 1, 3, 4]])
    assert list(idx.pairs()) == [("w1", "w2", 1.0)]
    assert idx.query(sig[0]) == []
    assert len(idx) == 4 and "e1" in idx


def test_non_ascii_near_duplicates(hasher):
    a = "Le café était délicieux, et la crème brûlée aussi. Nous reviendrons à Zürich en été."
    b = "LE CAFE\u0301 ÉTAIT DÉLICIEUX, ET LA CRÈME BRÛLÉE AUSSI. NOUS REVIENDRONS À ZÜRICH EN ÉTÉ."
    c = (
        "東京は日本の首都です。人口は多く、交通機関がとても便利です。"
        + "毎日たくさんの人が電車を使います。"
    )
    d = c.replace("毎日", "毎朝")  # one character edited out of 45
    e = "Москва — столица России. Это большой город с долгой историей и красивой архитектурой."
    s = hasher.signatures([a, b, c, d, e])
    assert np.array_equal(s[0], s[1])
    assert estimate_jaccard(s[2], s[3]) == pytest.approx(
        true_jaccard(shingles(c), shingles(d)), abs=0.15
    )
    assert estimate_jaccard(s[2], s[3]) > 0.8
    assert estimate_jaccard(s[0], s[4]) < 0.1


def test_estimate_tracks_true_jaccard(hasher, dataset):
    texts, truth, _ = dataset
    sig = hasher.signatures(texts)
    err = [estimate_jaccard(sig[a], sig[b]) - j for (a, b), j in truth.items()]
    assert abs(np.mean(err)) < 0.01  # unbiased
    assert np.sqrt(np.mean(np.square(err))) < 0.05  # ~ sqrt(J(1-J)/128) at most


def test_16_bit_signatures_keep_empty_bins_estimates_and_pairs(hasher, dataset):
    """What the cache stores (results.Signature): 16 bits a bin, read back for the index."""
    texts, truth, sh = dataset
    sig = hasher.signatures(texts + [""])
    back = minhash.from_16_bits(minhash.to_16_bits(sig))
    assert minhash.to_16_bits(sig).dtype == np.uint16 and back.dtype == np.uint32
    assert minhash.is_empty_signature(back[-1])  # the empty text stays the empty text
    # empty bins stay empty; so does a value whose low bits are 0xFFFF (chance 2**-16 a bin)
    assert np.array_equal(back == EMPTY, (sig & 0xFFFF) == 0xFFFF)
    assert np.array_equal(back & 0xFFFF, sig & 0xFFFF)  # every bin keeps its low 16 bits
    for (a, b), _ in truth.items():
        assert 0 <= estimate_jaccard(back[a], back[b]) - estimate_jaccard(sig[a], sig[b]) <= 2 / 128
    idx = LSHIndex(threshold=THRESHOLD)
    idx.bulk_add(list(range(len(texts))), back[:-1])
    found = {(a, b) if a < b else (b, a) for a, b, _ in idx.pairs()}
    precision, recall, _, _ = precision_recall(found, truth, sh)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


# ------------------------------------------------------------------------------------------------
# LSH parameters and the index


_LSH_GRID = [(t / 100, p, w) for p in (32, 64, 128, 256) for t in range(10, 96, 5)
             for w in ((0.5, 0.5), (0.1, 0.9), (0.3, 0.7))]


def test_lsh_params_agree_with_datasketch():
    lsh = pytest.importorskip("datasketch.lsh")
    for t, p, w in _LSH_GRID:
        assert lsh_params(t, p, w) == lsh._optimal_param(t, p, *w), (t, p, w)


def test_lsh_params_are_those_of_a_ten_times_finer_integration():
    """The 200 Simpson intervals choose what 2,000 do (and datasketch's adaptive quadrature,
    above, where it is installed)."""
    for t, p, w in _LSH_GRID[::3]:  # a third of the grid: the finer integration costs 25 ms each
        assert lsh_params(t, p, w) == lsh_params(t, p, w, intervals=2000), (t, p, w)


def test_lsh_params_known_values():
    assert lsh_params(0.8, 128) == (9, 13)
    b, r = lsh_params(0.8, 128, (0.1, 0.9))
    assert b * r <= 128


def test_pairs_precision_and_recall(hasher, dataset):
    texts, truth, sh = dataset
    idx = LSHIndex(threshold=THRESHOLD)
    idx.bulk_add(list(range(len(texts))), hasher.signatures(texts))
    pairs = list(idx.pairs())
    found = {(a, b) if a < b else (b, a) for a, b, _ in pairs}
    assert len(found) == len(pairs)  # each pair once
    precision, recall, n_true, n_found = precision_recall(found, truth, sh)
    assert n_true > 150
    assert precision >= 0.95, (precision, n_found)
    assert recall >= 0.95, (recall, n_true)
    for a, b, s in pairs:
        assert s >= THRESHOLD
        assert idx._seq[idx._row[a]] < idx._seq[idx._row[b]]  # earlier-added key first
    # groups() are the connected components of pairs()
    comp = {k: {k} for p in found for k in p}
    for a, b in found:
        if comp[a] is not comp[b]:
            merged = comp[a] | comp[b]
            for k in merged:
                comp[k] = merged
    expect = sorted(sorted(c) for c in {id(c): c for c in comp.values()}.values())
    assert sorted(map(sorted, idx.groups())) == expect


def test_pairs_order_and_exact_copies(hasher):
    g = NearDupGen(11)
    base = " ".join(g.base(200))
    other = " ".join(g.base(200))
    near = " ".join(g.variant(base.split(), 0.01))
    texts = [base, other, base.upper(), near, base, other + " ", "unrelated words here"]
    idx = LSHIndex()
    sig = hasher.signatures(texts)
    for i in (6, 5, 4, 3, 2, 1, 0):  # keys added in reverse
        idx.add(i, sig[i])
    got = list(idx.pairs())
    keys = [(a, b) for a, b, _ in got]
    assert set(keys) >= {(4, 2), (4, 0), (2, 0), (5, 1), (4, 3), (3, 2), (3, 0)}
    assert keys == sorted(keys, key=lambda p: (-p[0], -p[1]))  # add order, then add order
    assert dict(((a, b), s) for a, b, s in got)[(4, 2)] == 1.0
    assert sorted(map(sorted, idx.groups())) == [[0, 2, 3, 4], [1, 5]]


def test_query(hasher, dataset):
    texts, truth, _ = dataset
    sig = hasher.signatures(texts)
    idx = LSHIndex()
    idx.bulk_add([("f", i) for i in range(len(texts))], sig)
    pairs = list(idx.pairs())
    partners: dict = {}
    for a, b, s in pairs:
        partners.setdefault(a, {})[b] = s
        partners.setdefault(b, {})[a] = s
    for i in range(len(texts)):
        res = idx.query(sig[i], exclude=("f", i))
        assert dict(res) == partners.get(("f", i), {})
        sims = [s for _, s in res]
        assert sims == sorted(sims, reverse=True)
        assert idx.similar(("f", i)) == res
        assert (("f", i), 1.0) in idx.query(sig[i])
    unverified = idx.query(sig[0], verify=False)
    assert len(unverified) >= len(idx.query(sig[0]))


def _canonical(idx: LSHIndex) -> list:
    return list(idx.pairs())


def test_incremental_updates_equal_a_fresh_index(hasher):
    texts, _, _ = make_dataset(seed=13, n_clusters=40, n_singles=30, n_words=120)
    texts += ["", "one", "one"]
    sigs = hasher.signatures(texts)
    rng = random.Random(17)
    for trial in range(6):
        idx = LSHIndex()
        live: dict = {}
        for step in range(400):
            op = rng.random()
            key = (f"file{rng.randrange(2)}.jsonl", rng.randrange(60))
            t = rng.randrange(len(texts))
            if op < 0.45:
                idx.add(key, sigs[t])
                live[key] = t
            elif op < 0.65:
                idx.remove(key)
                live.pop(key, None)
            elif op < 0.85:
                idx.replace(key, sigs[t])
                live[key] = t
            else:
                ks = [(f"bulk{trial}", rng.randrange(30)) for _ in range(rng.randint(1, 8))]
                ts = [rng.randrange(len(texts)) for _ in ks]
                idx.bulk_add(ks, sigs[ts])
                live.update(zip(ks, ts, strict=True))
            if step % 97 == 0:
                idx.query(sigs[t])  # build the query buckets part-way through
            assert len(idx) == len(live)
        fresh = LSHIndex()
        order = idx.keys()
        assert set(order) == set(live)
        fresh.bulk_add(order, sigs[[live[k] for k in order]])
        assert _canonical(idx) == _canonical(fresh)
        assert idx.groups() == fresh.groups()
        for k in order:
            assert idx.similar(k) == fresh.similar(k)
            assert np.array_equal(idx.get(k), sigs[live[k]])
        idx.remove(("never", "added"))  # unknown: no-op
        assert len(idx) == len(live)


def test_replace_keeps_order_and_free_rows_are_reused(hasher):
    s = hasher.signatures(["alpha beta gamma delta", "alpha beta gamma delta", "something else"])
    idx = LSHIndex()
    idx.add("a", s[0])
    idx.add("b", s[2])
    idx.replace("b", s[1])
    assert list(idx.pairs()) == [("a", "b", 1.0)]
    idx.replace("a", s[2])
    assert list(idx.pairs()) == []
    idx.replace("a", s[0])
    assert list(idx.pairs()) == [("a", "b", 1.0)]
    rows = len(idx._keys)
    for _ in range(5):
        idx.remove("a")
        idx.add("a", s[0])
    assert len(idx._keys) == rows
    assert idx.keys() == ["b", "a"]
    with pytest.raises(ValueError):
        idx.add("c", np.zeros(64, dtype=np.uint32))


def test_character_table_entries_computed_on_demand_are_those_of_the_definition():
    """Entries are filled when a text first has the character; whichever texts came first, each
    entry is what `_entry` gives with every composition's second characters known."""
    import numpy as np

    from tunelint.linter import textnorm

    rng = random.Random(11)
    cps = np.array(rng.sample(range(0x20000), 3000) + [0x0301, 0x0CD5, 0x1161, 0x110BA], dtype=np.uint32)
    values = textnorm._lookup(cps)
    second = textnorm._second_chars(0, 0x20000)
    assert values.tolist() == [textnorm._entry(cp, second) for cp in cps.tolist()]
    assert textnorm._UNKNOWN not in textnorm._char_table()[cps].tolist()
