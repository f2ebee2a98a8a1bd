"""The offline encodings (linter/tokens.py): tiktoken's parse of the bundled, hash-checked file
is kept in the cache directory, read back on later loads, and parsed again when damaged; the
hash check is never skipped."""

from __future__ import annotations

import pickle

import pytest
from tiktoken.load import load_tiktoken_bpe

from tunelint.linter.tokens import TokenizerUnavailable, _offline_loader

URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken_ext.openai_public's


def test_parsed_ranks_are_stored_reused_and_reparsed_when_damaged(tmp_path):
    load = _offline_loader(tmp_path)
    first = load(URL, SHA256)
    [stored] = tmp_path.glob("o200k_base.tiktoken.*.ranks.pickle")
    assert first == load_tiktoken_bpe(str(tmp_path / "o200k_base.tiktoken"), expected_hash=SHA256)
    assert pickle.loads(stored.read_bytes()) == first
    assert load(URL, SHA256) == first  # read back
    stored.write_bytes(b"damaged")
    assert load(URL, SHA256) == first  # parsed again from the verified file
    assert pickle.loads(stored.read_bytes()) == first  # and stored again
    with pytest.raises(TokenizerUnavailable, match="expected hash"):
        load(URL, "0" * 64)  # a stored parse never stands in for the hash check
