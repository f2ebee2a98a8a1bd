"""A malformed baseline in the workspace: the server goes on publishing the document's
diagnostics (unfiltered: the baseline cannot be applied), never stopping on a KeyError or a
TypeError from the baseline's entries (linter/baseline.py `load` names the bad entry)."""

import json
from pathlib import Path

import pytest

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, jsonl, open_doc

BAD_ENTRIES = [{"path": "train.jsonl", "code": "TL104", "line_hash": "0" * 16},
               {"path": "train.jsonl", "code": ["TL104"], "line_hash": "0" * 16}]


@pytest.fixture
def workspace(tmp_path) -> Path:
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\nbaseline = "tunelint-baseline.json"\n')
    (tmp_path / "tunelint-baseline.json").write_text(json.dumps({"tunelint_baseline": 1, "findings": BAD_ENTRIES}))
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD + [BAD_ROLE]))
    (tmp_path / "validation.jsonl").write_text(jsonl([GOOD[0]]))
    return tmp_path


async def test_a_baseline_entry_with_an_array_for_its_code_does_not_stop_diagnostics(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    assert [d.range.start.line for d in diags if d.code == "TL104"] == [2]


async def test_the_baseline_that_cannot_be_applied_is_shown_once_in_the_log(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    said = [m.message for m in client.log_messages if "tunelint-baseline.json" in m.message]
    assert len(said) == 1 and "findings[1]" in said[0], said
