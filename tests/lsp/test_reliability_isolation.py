"""An exception while analysing one file never stops the diagnostics of the others: the real
server, with a split file whose analysis raises (a per-file override naming a tokenizer folder
that does not exist: building its analyzer fails), both on disk and open."""

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, edit, jsonl, open_doc


@pytest.fixture
def workspace(tmp_path) -> Path:  # replaces conftest's: the config the server starts with
    (tmp_path / "tunelint.toml").write_text(
        'profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n'
        '[[overrides]]\nfiles = ["validation.jsonl"]\ntokenizer = "hf:' + str(tmp_path / "no-such-tokenizer") + '"\n')
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD + [BAD_ROLE]))
    (tmp_path / "validation.jsonl").write_text(jsonl([GOOD[0]]))
    return tmp_path


def internal_errors(client) -> list[str]:
    return [m.message for m in client.log_messages if "internal error" in m.message]


@pytest.mark.parametrize("client", ["vscode-push", "vscode-pull"], indirect=True)
async def test_a_file_whose_analysis_raises_does_not_silence_the_others(client):
    ws = client.workspace
    train = open_doc(client, ws / "train.jsonl")
    diags = await diagnostics_for(client, train, 1)
    assert any("bot" in d.message for d in diags), diags  # the split file on disk failed meanwhile
    for version in range(2, 5):  # edits: train stays checked; the failure is logged once
        edit(client, train, version, 3, 0, 0, jsonl([BAD_ROLE]))
        diags = await diagnostics_for(client, train, version)
        assert sum("bot" in d.message for d in diags) == version, diags
    val = open_doc(client, ws / "validation.jsonl")
    (failed,) = await diagnostics_for(client, val, 1)
    assert failed.severity == types.DiagnosticSeverity.Error and failed.range.start.line == 0
    assert "could not check this file" in failed.message and "no-such-tokenizer" in failed.message
    edit(client, val, 2, 0, 0, 0, " ")
    await diagnostics_for(client, val, 2)
    for line in (0, 1):  # hovers on it answer, without an error each
        await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=val), position=types.Position(line=line, character=3)))
    await asyncio.sleep(0.2)
    errors = internal_errors(client)
    assert len(errors) == 1 and "validation.jsonl" in errors[0] and "no-such-tokenizer" in errors[0], errors
    assert not [m for m in client.log_messages if "Traceback" in m.message]
