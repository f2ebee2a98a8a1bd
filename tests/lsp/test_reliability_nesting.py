"""Deeply nested lines in a split file: the server reports TL017 on them and every document's
diagnostics go on (one such line in any split file used to stop them all)."""

import json
from pathlib import Path

import pytest

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, jsonl, open_doc

DEEP = [json.dumps(GOOD[0])[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}" for depth in (300, 100_000)]


@pytest.fixture
def workspace(tmp_path) -> Path:
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\n')
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD + [BAD_ROLE]))
    (tmp_path / "validation.jsonl").write_text(jsonl([DEEP[0], GOOD[1], DEEP[1]]))
    return tmp_path


async def test_deep_lines_in_a_split_file_are_findings_and_diagnostics_go_on(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    assert [d.range.start.line for d in diags if d.code == "TL104"] == [2]
    val = open_doc(client, client.workspace / "validation.jsonl")
    diags = await diagnostics_for(client, val, 1)
    assert sorted(d.range.start.line for d in diags if d.code == "TL017") == [0, 2]
