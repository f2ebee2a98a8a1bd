"""Serve this run from the editor: tunelint.serve starts `tunelint serve` on the latest run, answers
its URL once /v1/models lists the run and its base (shown to the user), the endpoint answers an
OpenAI chat completion, and tunelint.stopServe stops it."""

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from lsprotocol import types

pytest.importorskip("trl", reason="serving needs the `train` extra")
pytest.importorskip("fastapi", reason="serving needs the `serve` extra")
pytestmark = pytest.mark.slow


def qa(i):
    return {"messages": [{"role": "user", "content": f"What is {i} plus {i + 3}?"},
                         {"role": "assistant", "content": f"{i} plus {i + 3} makes {2 * i + 3}."}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_serve_this_run_answers_openai_requests_and_stops(client):
    ws = client.workspace
    (ws / "train.jsonl").write_text("".join(json.dumps(qa(i)) + "\n" for i in range(40)))
    run = ws / ".tunelint" / "runs" / "20250101-000000"
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(ws / "train.jsonl"), "-o", str(run),
                        "--model", "tiny", "--max-steps", "6", "--max-length", "128", "--batch-size", "8"],
                       capture_output=True, text=True, timeout=600, cwd=ws)
    assert r.returncode == 0, r.stderr
    port = free_port()
    got = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.serve", arguments=[None, port]))
    assert got["url"] == f"http://127.0.0.1:{port}/v1"
    assert got["models"] == ["20250101-000000", "tiny-base"] and got["pid"] > 0
    assert any(f"http://127.0.0.1:{port}/v1" in m.message for m in client.messages)
    with urllib.request.urlopen(f"{got['url']}/models", timeout=10) as resp:
        ids = [m["id"] for m in json.loads(resp.read())["data"]]
    assert {"20250101-000000", "tiny-base"} <= set(ids)
    answer = post(f"{got['url']}/chat/completions", {"model": "20250101-000000", "max_tokens": 8,
                                                      "messages": [{"role": "user", "content": "What is 2 plus 5?"}]})
    assert answer["choices"][0]["message"]["content"]
    stopped = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.stopServe", arguments=[]))
    assert stopped == {"stopped": True}
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{got['url']}/models", timeout=5)
    again = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.stopServe", arguments=[]))
    assert again == {"stopped": False}


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_serve_without_a_run_is_refused(client):
    with pytest.raises(Exception, match="tunelint.serve: no finished fine-tune"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="tunelint.serve", arguments=[]))
