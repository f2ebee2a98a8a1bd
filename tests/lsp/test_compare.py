"""`tunelint.compare` through a real server and pytest-lsp's client, with a tiny run trained for
real: the code action once a run exists, the streamed `tunelint/compareUpdate` notifications and
progress, the answer, the markdown view (and showDocument for clients without the VS Code panel),
cancellation, and refusals."""

import asyncio
import json
import shutil
import subprocess
import sys

import pytest
from lsprotocol import types

from tests.lsp.conftest import open_doc

pytest.importorskip("trl", reason="compare needs the `train` extra")
pytestmark = pytest.mark.slow

TITLE = "Compare base and fine-tuned on this line"
RUN_NAME = "20250101-000000"


def qa(i):
    return {"messages": [{"role": "user", "content": f"What is {i} plus {i + 3}?"},
                         {"role": "assistant", "content": f"{i} plus {i + 3} is {2 * i + 3}."}]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    (d / "train.jsonl").write_text("".join(json.dumps(qa(i)) + "\n" for i in range(40)))
    (d / "tunelint.toml").write_text('profile = "hf"\n')
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(d / "train.jsonl"), "-o", str(d / "run"),
                        "--method", "full", "--max-steps", "30", "--model", "tiny", "--max-length", "128",
                        "--batch-size", "8", "--seed", "1"], capture_output=True, text=True, timeout=600, cwd=d)
    assert r.returncode == 0, r.stderr
    return d / "run"


def install(ws, trained):
    shutil.copytree(trained, ws / ".tunelint" / "runs" / RUN_NAME, ignore=shutil.ignore_patterns("checkpoints"))


def dataset(ws):
    lines = [json.dumps(qa(i)) for i in range(3)]
    lines.append(json.dumps({"messages": [{"role": "user", "content": "no answer here"}]}))
    lines.append("")
    (ws / "train.jsonl").write_text("\n".join(lines) + "\n")


def listen(client):
    client.updates = []
    client.shown = []
    features = client.protocol.fm.features
    features["tunelint/compareUpdate"] = lambda params: client.updates.append(params)

    def show(params):
        client.shown.append(params.uri)
        return types.ShowDocumentResult(success=True)

    features[types.WINDOW_SHOW_DOCUMENT] = show


def field(obj, name):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


async def compare(client, *args):
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.compare", arguments=list(args)))


async def titles(client, uri, line):
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
        context=types.CodeActionContext(diagnostics=[])))
    return [a for a in actions or [] if a.title == TITLE]


@pytest.mark.parametrize("client", ["neovim"], indirect=True)
async def test_compare_streams_answers_writes_the_view_and_shows_it(client, trained):
    ws = client.workspace
    dataset(ws)
    listen(client)
    uri = open_doc(client, ws / "train.jsonl")
    assert await titles(client, uri, 0) == []  # no run yet
    with pytest.raises(Exception, match="no finished fine-tune"):
        await compare(client, uri, 0)
    install(ws, trained)
    for line in (0, 1, 2):
        (action,) = await titles(client, uri, line)  # lsprotocol's client reads a CodeAction with a command
        assert "tunelint.compare" in str(action.command)  # as a Command: its command is all that is left

    result = await compare(client, uri, 1)
    assert result["run"] == RUN_NAME
    assert result["prompt"] == [{"role": "user", "content": "What is 1 plus 4?"}]
    assert result["reference"] == "1 plus 4 is 5."
    assert result["tuned"]["text"] and result["tuned"]["text"] != result["base"]["text"]
    assert result["settings"] == {"max_new_tokens": 128, "temperature": 0.0, "top_p": 1.0}
    assert client.updates, "no tunelint/compareUpdate notification"
    last = client.updates[-1]
    assert field(last, "line") == 1 and field(last, "run") == RUN_NAME
    assert field(field(last, "tuned"), "text") == result["tuned"]["text"] and field(field(last, "tuned"), "done")
    assert any(not field(field(u, "base"), "done") for u in client.updates)  # it streamed
    view = ws / ".tunelint" / "compare" / "train-line2.md"
    assert result["view"] == view.as_uri() and view.is_file()
    text = view.read_text()
    assert "## Prompt" in text and "| base | fine-tuned | reference |" in text and "1 plus 4 is 5." in text
    assert text.index("## Prompt") < text.index("| base |")
    assert client.shown == [view.as_uri()]
    kinds = [v.kind for v in (v for reports in client.progress_reports.values() for v in reports)]
    assert kinds[0] == "begin" and kinds[-1] == "end"

    again = await compare(client, uri, 0)
    assert again["loads"] == result["loads"]  # the worker kept the models loaded


@pytest.mark.parametrize("client", ["vscode-panel"], indirect=True)
async def test_settings_apply_a_panel_client_gets_no_view_opened_and_a_new_compare_replaces_the_old(
        client, trained):
    ws = client.workspace
    dataset(ws)
    install(ws, trained)
    listen(client)
    client.set_configuration({"generate": {"maxNewTokens": 3000}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    uri = open_doc(client, ws / "train.jsonl")
    await asyncio.sleep(0.5)
    first = asyncio.ensure_future(compare(client, uri, 0))
    for _ in range(600):
        if client.updates:
            break
        await asyncio.sleep(0.1)
    assert client.updates
    client.set_configuration({"generate": {"maxNewTokens": 3}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.5)
    second = await compare(client, uri, 0)
    with pytest.raises(Exception, match="replaced by a newer"):
        await first
    assert second["settings"]["max_new_tokens"] == 3
    assert client.shown == []  # the VS Code panel shows it; no markdown view is opened

    # the request's own cancellation ($/cancelRequest) stops the generation
    client.set_configuration({"generate": {"maxNewTokens": 3000}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.5)
    n = len(client.updates)
    fut = client.protocol.send_request(types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
        command="tunelint.compare", arguments=[uri, 1]))
    msg_id = next(k for k, v in client.protocol._request_futures.items() if v is fut)
    for _ in range(600):
        if len(client.updates) > n:
            break
        await asyncio.sleep(0.1)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    with pytest.raises(Exception, match="(?i)cancel"):
        await asyncio.wait_for(asyncio.wrap_future(fut) if not asyncio.isfuture(fut) else fut, timeout=30)
    client.set_configuration({"generate": {"maxNewTokens": 3}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await asyncio.sleep(0.5)
    after = await asyncio.wait_for(compare(client, uri, 2), timeout=60)  # the worker is free again
    assert after["reference"] == "2 plus 5 is 7."


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_lines_that_cannot_be_compared_are_refused_clearly(client, trained):
    ws = client.workspace
    dataset(ws)
    install(ws, trained)
    uri = open_doc(client, ws / "train.jsonl")
    (ws / "broken.jsonl").write_text('{"messages": [\n')
    elsewhere = ws.parent / "elsewhere-run"  # a copy of the run outside the workspace
    shutil.copytree(trained, elsewhere, ignore=shutil.ignore_patterns("checkpoints"), dirs_exist_ok=True)
    for args, needle in [((uri, 3), "no assistant turn"), ((uri, 4), "this line is empty"),
                         ((uri, 99), "past the end"), ((uri, -1), "0-based line number"),
                         ((open_doc(client, ws / "broken.jsonl"), 0), "not a JSON example"),
                         ((uri, 0, "no-such-run"), "not a finished training run"),
                         ((uri, 0, str(elsewhere)), "outside the workspace"),
                         (((ws / "validation.jsonl").as_uri(), 0), "is not open")]:
        with pytest.raises(Exception, match=needle):
            await compare(client, *args)
