"""The fast token counter (gigatoken on the verified tiktoken file) must count exactly as tiktoken
does: the known-answer probe, real datasets, random strings built from the pieces the
pretokenisation rules care about, lone surrogates. And it is only used when it passes the probe."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tunelint.linter import token_probe, tokens

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
ENCODINGS = ("o200k_base", "cl100k_base")
PIECES = [
    " ", "  ", "   ", "\n", "\n\n", "\r\n", "\r", "\t", " \n ", "'s", "'S", "'ll", "'LL", "'re", "'ve",
    "'m", "'d", "'t", "'", "123", "4567", "1", "a", "A", "Hello", "WORLD", "camelCase", "é", "É", "ß",
    "ǅ", "İ", "ﬁ", "中文", "日本語", "한국어", "🙂", "👍🏽", "🇫🇷", "\u200d", "\u0301", "!", "?!", "...",
    "—", "«", "»", "(", ")", "{", "}", "_", "-", "/", "\\", "$", "€", "٣", "١٢", "ⅷ", "²", "\u3000",
    "\xa0", "\u2028", "\x85", "\x0b", "\x0c", "<|endoftext|>", "<|im_start|>", "a\u0300", "Ω", "ǲ",
    "ᾼ", "\u0e01", "\u0915\u094d", "\U00010400", "\U00020000", "\x00", "\x7f", "\u00ad", "\ufeff",
]


def _alphabet() -> list[str]:
    ranges = [(0x20, 0x7F)] * 4 + [(0xA0, 0x500), (0x600, 0x700), (0x3040, 0x3100), (0x4E00, 0x4E80)]
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi)]
    return chars + [chr(c) for c in (0x1F600, 0x200D, 0xFE0F, 0x301, 0x2019, 0x2014, 0xA, 0xD, 0x9, 0x3000)]


@pytest.fixture(scope="module", params=ENCODINGS)
def pair(request):
    fast = tokens.fast_encoder(request.param)
    if fast is None:
        pytest.fail("gigatoken is a dependency and must pass the probe")
    return request.param, fast, tokens.tiktoken_encoding(request.param).encode_ordinary


def test_probe_ids_are_tiktokens():
    for name in ENCODINGS:
        assert tuple(tokens.tiktoken_encoding(name).encode_ordinary(token_probe.PROBE)) == token_probe.PROBE_IDS[name]


def test_same_ids_on_random_strings(pair):
    name, fast, reference = pair
    rnd = random.Random(f"backends-{name}")
    alphabet = _alphabet()
    texts = [''.join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 40))) for _ in range(20000)]
    texts += [''.join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 60))) for _ in range(20000)]
    texts += [''.join(rnd.choice(PIECES) for _ in range(rnd.randint(500, 3000))) for _ in range(50)]
    differ = [t for t in texts if fast(t).tolist() != reference(t)]
    assert not differ, f"{len(differ)} differ, e.g. {differ[0]!r}"


def test_same_counts_on_real_datasets(pair):
    if not REAL.is_dir():
        pytest.skip(f"{REAL} is absent (the real datasets live outside the repository)")
    name, fast, reference = pair
    texts = []
    for path in sorted(REAL.glob("*.json*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:2000]:
            texts.append(line)  # the raw JSON line: every kind of character and escape
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            for m in obj.get("messages", []) if isinstance(obj, dict) else []:
                if isinstance(m, dict) and isinstance(m.get("content"), str):
                    texts.append(m["content"])
    assert len(texts) > 1000
    differ = [t for t in texts if len(fast(t)) != len(reference(t))]
    assert not differ, f"{len(differ)} differ, e.g. {differ[0][:200]!r}"


def test_counter_uses_the_fast_backend_and_counts_lone_surrogates_as_tiktoken(monkeypatch):
    counter = tokens.TiktokenCounter("o200k_base")
    assert counter.backend == "gigatoken"
    reference = tokens.tiktoken_encoding("o200k_base")
    for text in ("a\ud800b", "\udfff", "ok \ud83d then"):
        assert counter.count(text) == len(reference.encode_ordinary(text))
    monkeypatch.setenv("TUNELINT_TOKENIZER_BACKEND", "tiktoken")
    assert tokens.TiktokenCounter("o200k_base").backend == "tiktoken"


def test_a_backend_that_fails_the_probe_is_not_used(monkeypatch):
    wrong = dict(token_probe.PROBE_IDS, o200k_base=token_probe.PROBE_IDS["o200k_base"][:-1] + (0,))
    monkeypatch.setattr(token_probe, "PROBE_IDS", wrong)
    assert tokens.fast_encoder("o200k_base") is None
    counter = tokens.TiktokenCounter("o200k_base")
    assert counter.backend == "tiktoken" and counter.count("hello world") == 2


def test_verified_file_replaces_a_damaged_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path))
    path = tokens.verified_file("o200k_base")
    good = path.read_bytes()
    path.write_bytes(good[:-100])  # truncated
    assert tokens.verified_file("o200k_base").read_bytes() == good
    with pytest.raises(tokens.TokenizerUnavailable, match="unknown tokenizer"):
        tokens.verified_file("p50k_base")


def test_a_prefetched_counter_is_the_one_make_counter_returns(monkeypatch):
    """A cold run builds the counter in a thread while it imports the linter: make_counter takes
    that one (waiting for it), and builds its own after a failed prefetch, so the error is raised
    where it always was."""
    built = []
    real = tokens._new_counter
    monkeypatch.setattr(tokens, "_new_counter", lambda spec: built.append(spec) or real(spec))
    tokens.prefetch_counter("o200k_base")
    tokens.prefetch_counter("o200k_base")  # once per spec
    tokens.join_prefetch()
    counter = tokens.make_counter("o200k_base")
    assert built == ["o200k_base"] and counter.count("Hello, world!") == 4
    tokens.make_counter("o200k_base")  # taken once: a later call builds anew
    assert built == ["o200k_base", "o200k_base"]
    tokens.prefetch_counter("p50k_base")  # not offered: the thread's error is not raised there
    with pytest.raises(tokens.TokenizerUnavailable):
        tokens.make_counter("p50k_base")
    tokens.prefetch_counter(None)
    tokens.prefetch_counter("hf:/nowhere")  # Hugging Face tokenizers are never built in a thread
    assert set(tokens._prefetched) == set()
