"""Pull diagnostics with result ids (server/pull.py): asked again with the resultId it holds,
a client gets "unchanged" while what it shows did not change, and a full report with a new id
once it did; workspace/diagnostic the same, document by document."""

import json

import pytest
from lsprotocol import types

from tests.lsp.conftest import GOOD, edit, open_doc


@pytest.mark.parametrize("client", ["vscode-pull"], indirect=True)
async def test_pull_diagnostics_answer_unchanged_with_a_result_id(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    doc = types.TextDocumentIdentifier(uri=uri)
    full = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(text_document=doc))
    assert full.kind == "full" and full.result_id and any(d.code == "TL104" for d in full.items)
    again = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=doc, previous_result_id=full.result_id))
    assert again.kind == "unchanged" and again.result_id == full.result_id
    # an edit that changes nothing shown (a letter inside a content) keeps the id
    line0 = json.dumps(GOOD[0])
    at = line0.index("pair")
    edit(client, uri, 2, 0, at, at + 1, "P")
    same = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=doc, previous_result_id=full.result_id))
    assert same.kind == "unchanged" and same.result_id == full.result_id
    # one that breaks a line: a full report with a new id
    edit(client, uri, 3, 0, len(line0) - 1, len(line0), "]")
    changed = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=doc, previous_result_id=full.result_id))
    assert changed.kind == "full" and changed.result_id != full.result_id
    assert any(d.range.start.line == 0 and d.severity == types.DiagnosticSeverity.Error for d in changed.items)
    # workspace/diagnostic: unchanged for what the client holds, full for the rest
    ws1 = await client.workspace_diagnostic_async(types.WorkspaceDiagnosticParams(previous_result_ids=[
        types.PreviousResultId(uri=uri, value=changed.result_id)]))
    by_uri = {item.uri: item for item in ws1.items}
    assert by_uri[uri].kind == "unchanged" and by_uri[uri].result_id == changed.result_id
    val = (client.workspace / "validation.jsonl").as_uri()
    assert by_uri[val].kind == "full" and by_uri[val].result_id
    ws2 = await client.workspace_diagnostic_async(types.WorkspaceDiagnosticParams(previous_result_ids=[
        types.PreviousResultId(uri=u, value=item.result_id) for u, item in by_uri.items()]))
    assert {item.kind for item in ws2.items} == {"unchanged"}
