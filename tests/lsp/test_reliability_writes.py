"""The real server never reads or writes outside its workspace through a symlink (issue 22):
split files, `tunelint.lintFile`, "add to baseline" and the training command's files resolve
real paths and refuse with a message; without a workspace folder lintFile reads nothing; and
the default baseline that "add to baseline" writes is the one the server reads."""

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, edit, jsonl, open_doc

MINE = '{"tunelint_baseline": 1, "findings": []}\n'
ONE_PROFILE = pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
SECRET = {"messages": [{"role": "user", "content": "What is the door code?"},
                       {"role": "assistant", "content": "It is 4711."}]}


@pytest.fixture
def workspace(tmp_path) -> Path:
    """A workspace folder beside an `outside` folder; more-train.jsonl, a split file by its
    name, is a symlink to a file outside that holds the same example as validation's line 1."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n')
    (ws / "train.jsonl").write_text(jsonl([GOOD[1], BAD_ROLE]))
    (ws / "validation.jsonl").write_text(jsonl([SECRET, GOOD[1]]))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(jsonl([SECRET, GOOD[0]]))
    (ws / "more-train.jsonl").symlink_to(outside / "secret.jsonl")
    return ws


async def refused(client, command, arguments) -> str:
    with pytest.raises(JsonRpcException) as e:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command=command,
                                                                                arguments=arguments))
    return str(e.value)


@ONE_PROFILE
async def test_a_split_file_that_links_outside_is_never_read(client):
    uri = open_doc(client, client.workspace / "validation.jsonl")
    deadline = time.monotonic() + 20
    leaks = []
    while time.monotonic() < deadline:  # the workspace's split files load after start-up
        leaks = [d for d in await diagnostics_for(client, uri, 1) if d.code == "TL904"]
        if leaks:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # everything the workspace load found is in by now
    leaks = [d for d in await diagnostics_for(client, uri, 1) if d.code == "TL904"]
    assert [d.range.start.line for d in leaks] == [1]  # train.jsonl:1, never the linked file
    assert all("more-train" not in d.message for d in leaks)


@ONE_PROFILE
async def test_lint_file_refuses_a_symlink_that_leads_outside(client):
    message = await refused(client, "tunelint.lintFile", [(client.workspace / "more-train.jsonl").as_uri()])
    assert "outside the workspace" in message and "secret.jsonl" in message
    assert not any("more-train" in uri or "secret" in uri for uri in client.published)


@ONE_PROFILE
async def test_add_to_baseline_refuses_a_baseline_link_that_leads_outside(client):
    victim = client.workspace.parent / "outside" / "victim.json"
    victim.write_text(MINE)  # the user's own baseline of another project
    (client.workspace / "tunelint-baseline.json").symlink_to(victim)
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    d = next(d for d in diags if d.code == "TL104")
    message = await refused(client, "tunelint.addToBaseline", [uri, d.range.start.line + 1, "TL104"])
    assert "leads to" in message and "victim.json" in message
    assert victim.read_text() == MINE
    assert (client.workspace / "tunelint-baseline.json").is_symlink()


@ONE_PROFILE
async def test_the_default_baseline_add_to_baseline_writes_is_read(client):
    victim = client.workspace.parent / "outside" / "victim.json"
    victim.write_text(MINE)
    (client.workspace / "tunelint-baseline.json.tmp").symlink_to(victim)  # a planted temporary name
    uri = open_doc(client, client.workspace / "train.jsonl")
    diags = await diagnostics_for(client, uri, 1)
    d = next(d for d in diags if d.code == "TL104")
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="tunelint.addToBaseline", arguments=[uri, d.range.start.line + 1, "TL104"]))
    assert result["baseline"] == str(client.workspace / "tunelint-baseline.json")
    assert victim.read_text() == MINE
    edit(client, uri, 2, 0, 0, 0, "")  # the config is untouched: the default file applies
    assert not [x for x in await diagnostics_for(client, uri, 2) if x.code == "TL104"]


@ONE_PROFILE
async def test_training_refuses_a_validation_file_that_links_outside(client):
    message = await refused(client, "tunelint.train", [(client.workspace / "train.jsonl").as_uri(),
                                                       {"validation": str(client.workspace / "more-train.jsonl")}])
    assert "outside the workspace" in message and "secret.jsonl" in message
    assert not (client.workspace / ".tunelint").exists()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "tunelint", "server"]))
async def bare_client(lsp_client: LanguageClient):
    """A server started with no workspace folder (a single file opened in the editor)."""
    lsp_client.protocol.fm.features[types.CLIENT_REGISTER_CAPABILITY] = lambda params: None
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), initialization_options={"profile": "hf"}))
    yield
    await lsp_client.shutdown_session()


async def test_without_a_workspace_lint_file_reads_nothing(bare_client, tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text(json.dumps(SECRET) + "\n")
    message = await refused(bare_client, "tunelint.lintFile", [f.as_uri()])
    assert "no workspace folder" in message
    assert await refused(bare_client, "tunelint.lintFile", ["/etc/passwd"])
    assert bare_client.diagnostics == {}
