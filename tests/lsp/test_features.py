"""Inlay hints, hover, code lens, code actions and commands, end to end."""

import json

from lsprotocol import types

from tests.lsp.conftest import GOOD, diagnostics_for, open_doc


def rng(l0, c0, l1, c1):
    return types.Range(start=types.Position(line=l0, character=c0), end=types.Position(line=l1, character=c1))


async def test_inlay_hints_show_token_counts_for_the_requested_lines_only(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng(1, 0, 1, 0)))
    assert len(hints) == 1
    h = hints[0]
    assert h.position == types.Position(line=1, character=len(json.dumps(GOOD[1])))
    assert h.label.endswith("trained") and " tok · " in h.label


async def test_hover_shows_rule_documentation_on_a_diagnostic_and_tokens_per_message(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    d = next(d for d in diags if d.code == "TL104")
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=d.range.start))
    text = h.contents.value
    assert "TL104 invalid-role" in text and "Why is this bad?" in text
    assert "| 1 | bot | " in text and "**Tokens** (o200k_base)" in text


async def test_code_lens_on_line_zero_summarises_the_dataset(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    await diagnostics_for(client, uri, 1)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    summary = [lens for lens in lenses if lens.command.title.startswith("tunelint:")]
    assert len(summary) == 1 and summary[0].range.start.line == 0
    title = summary[0].command.title
    assert any(lens.command.command == "tunelint.train" for lens in lenses)  # a training file offers a fine-tune
    assert title.startswith("tunelint: 3 examples (train)") and "1 errors" in title


async def test_quick_fix_and_fix_all_edits(client):
    text = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello "}]}\n' \
           '{"messages": [{"role": "user", "content": "Yo"}, {"role": "assistant", "content": "Hey"},]}\n'
    uri = open_doc(client, client.workspace / "fixme.jsonl", text)
    diags = await diagnostics_for(client, uri, 1)
    comma = next(d for d in diags if d.code == "TL008")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=comma.range,
        context=types.CodeActionContext(diagnostics=[comma], only=[types.CodeActionKind.QuickFix])))
    fix = next(a for a in actions if a.title == "Remove the trailing comma")
    (edit,) = fix.edit.changes[uri]
    assert edit.new_text == "" and edit.range.start.line == 1
    # the test client's lsprotocol reads a code action that carries only a command back as a
    # Command whose `command` is the action's command object, rendered as text
    assert any("'command': 'tunelint.addToBaseline'" in str(a.command) for a in actions)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng(0, 0, 0, 0),
        context=types.CodeActionContext(diagnostics=[], only=["source.fixAll.tunelint"])))
    (fix_all,) = actions
    new_text = fix_all.edit.changes[uri][0].new_text
    assert new_text.splitlines() == [text.splitlines()[0].replace('"Hello "', '"Hello"'),
                                     text.splitlines()[1].replace('"},]}', '"}]}')]


async def test_add_to_baseline_hides_the_finding(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    d = next(d for d in diags if d.code == "TL104")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="tunelint.addToBaseline", arguments=[uri, d.range.start.line + 1, "TL104"]))
    assert result["entries"] == 1
    (client.workspace / "tunelint.toml").write_text('profile = "hf"\nbaseline = "tunelint-baseline.json"\n')
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[types.FileEvent(
        uri=(client.workspace / "tunelint.toml").as_uri(), type=types.FileChangeType.Changed)]))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=rng(0, 0, 0, 0), text="")]))
    diags = await diagnostics_for(client, uri, 2)
    assert not [x for x in diags if x.code == "TL104"]


async def test_lint_file_command_reads_from_disk_and_refuses_paths_outside(client):
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="tunelint.lintFile", arguments=[(client.workspace / "train.jsonl").as_uri()]))
    assert result["examples"] == 3 and result["error"] == 1
    import pytest
    from pygls.exceptions import JsonRpcException

    with pytest.raises(JsonRpcException):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="tunelint.lintFile", arguments=["/etc/passwd"]))


async def test_settings_from_the_editor_are_applied(client):
    client.set_configuration({"profile": "hf", "ignore": ["TL1"]}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    uri = open_doc(client, client.workspace / "train.jsonl")
    import asyncio

    for _ in range(100):
        diags = await diagnostics_for(client, uri, 1)
        if not any(d.code == "TL104" for d in diags):
            break
        await asyncio.sleep(0.05)
    assert not any(d.code == "TL104" for d in diags)
