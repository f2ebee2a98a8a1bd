"""The real server with a FIFO named like a split file in the workspace: it is never opened
(opening it blocked the event loop at start-up, so the server answered nothing), and the other
files are linted as usual."""

import asyncio
import os

import pytest

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, jsonl, open_doc

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n')
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD + [BAD_ROLE]))
    (tmp_path / "validation.jsonl").write_text(jsonl([GOOD[0]]))
    os.mkfifo(tmp_path / "test.jsonl")  # a split file by its name
    return tmp_path


async def answered(client, uri: str):
    try:
        return await asyncio.wait_for(diagnostics_for(client, uri, 1), 30)
    except (asyncio.TimeoutError, AssertionError):
        # a writer that opens and closes the FIFO lets a blocked server go on (and the test end)
        try:
            os.close(os.open(client.workspace / "test.jsonl", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        pytest.fail("the server answered nothing: it blocked on the FIFO")


async def test_a_fifo_split_file_does_not_hang_the_server(client):
    diags = await answered(client, open_doc(client, client.workspace / "train.jsonl"))
    assert any(d.code == "TL104" for d in diags)
    # and it still answers once the workspace's split files are loaded
    assert await answered(client, open_doc(client, client.workspace / "validation.jsonl")) is not None
