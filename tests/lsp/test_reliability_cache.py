"""The server with a cache folder it cannot use (a file where the folder should be): it lints
without a cache, its tokenizer loaded from the package data, instead of failing to load it."""

import pytest

from tests.lsp.conftest import diagnostics_for, open_doc


@pytest.fixture(autouse=True)
def _unusable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file")
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(blocker / "cache"))  # fails for root too


async def test_diagnostics_without_a_usable_cache_folder(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    assert [d.range.start.line for d in diags if d.code == "TL104"] == [2]
    assert not [m.message for m in client.log_messages if "cannot load" in m.message]
