"""Diagnostics end to end: a real server process, a real LSP client."""

import asyncio
import json

from lsprotocol import types

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, edit, open_doc, pulls


async def test_open_file_shows_the_cli_findings_on_exact_ranges(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    role = [d for d in diags if d.code == "TL104"]
    assert len(role) == 1
    line = json.dumps(BAD_ROLE)
    start = line.index('"bot"')
    assert role[0].range == types.Range(start=types.Position(line=2, character=start),
                                        end=types.Position(line=2, character=start + len('"bot"')))
    assert role[0].severity == types.DiagnosticSeverity.Error and role[0].source == "tunelint"


async def test_push_and_pull_are_never_both(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    if pulls(client):
        assert uri not in client.published
    else:
        assert uri in client.published


async def test_edit_breaking_a_line_shows_a_new_problem_and_fixing_it_clears_it(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    line0 = json.dumps(GOOD[0])
    at = line0.index('"user"')
    edit(client, uri, 2, 0, at, at + len('"user"'), '"usr"')
    diags = await diagnostics_for(client, uri, 2)
    assert any(d.code == "TL104" and d.range.start.line == 0 for d in diags)
    edit(client, uri, 3, 0, at, at + len('"usr"'), '"user"')
    diags = await diagnostics_for(client, uri, 3)
    assert not any(d.code == "TL104" and d.range.start.line == 0 for d in diags)


async def test_inserting_lines_moves_diagnostics_with_their_lines(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    edit(client, uri, 2, 0, 0, 0, json.dumps({"messages": [{"role": "user", "content": "new"},
                                                        {"role": "assistant", "content": "line"}]}) + "\n")
    diags = await diagnostics_for(client, uri, 2)
    assert [d.range.start.line for d in diags if d.code == "TL104"] == [3]


async def test_leakage_from_a_file_on_disk_shows_on_the_validation_file(client):
    (client.workspace / "validation.jsonl").write_text(json.dumps(GOOD[1]) + "\n")
    uri = open_doc(client, client.workspace / "validation.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    leak = [d for d in diags if d.code == "TL904"]
    assert len(leak) == 1 and "train.jsonl:2" in leak[0].message
    assert leak[0].related_information[0].location.uri.endswith("train.jsonl")


async def test_invalid_json_and_empty_documents_do_not_crash(client):
    uri = open_doc(client, client.workspace / "broken.jsonl", '{"messages": [\n\n[1,2]\n\x00\n')
    diags = await diagnostics_for(client, uri, 1)
    assert {"TL009", "TL007", "TL012"} <= {d.code for d in diags}
    empty = open_doc(client, client.workspace / "empty.jsonl", "")
    assert [d.code for d in await diagnostics_for(client, empty, 1)] == ["TL003"]


async def test_files_tunelint_writes_under_dot_tunelint_are_not_linted(client):
    run = client.workspace / ".tunelint" / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "eval_results.jsonl").write_text('{"line": 1, "loss": 1.0}\n')
    uri = open_doc(client, run / "eval_results.jsonl")
    if pulls(client):
        assert await diagnostics_for(client, uri) == []
    else:
        await asyncio.sleep(0.5)
        assert uri not in client.published
