"""The tunelint.train command's arguments, through the real server: options that are not an
object are refused with a message, a file: URI works for the validation option as it does for
the training file, and the training file is refused as its own validation file. (Every case is
refused before anything is launched: no trainer needed.)"""

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException


async def train(client, *args):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="tunelint.train", arguments=list(args)))


async def refusal(client, *args) -> str:
    with pytest.raises(JsonRpcException) as caught:
        await train(client, *args)
    return str(caught.value)


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_train_command_arguments(client):
    ws = client.workspace
    train_uri = (ws / "train.jsonl").as_uri()
    val_path = str(ws / "validation.jsonl")
    for bad in (["validation.jsonl"], "force", 3):
        message = await refusal(client, train_uri, bad)
        assert "second argument is its options" in message, message
    assert "force option is true or false" in await refusal(client, train_uri, {"force": "no"})
    assert "validation option is a file path or URI" in await refusal(client, train_uri, {"validation": 7})
    for same in (train_uri, str(ws / "train.jsonl"), str(ws / "." / "train.jsonl")):
        message = await refusal(client, train_uri, {"validation": same})
        assert "the validation file is the training file" in message, message
    # a file: URI for validation is read as the file it names: the run goes as far as the data's
    # errors (train.jsonl has a bad role; validation.jsonl repeats a training example), as with a plain path
    for val in ((ws / "validation.jsonl").as_uri(), val_path):
        message = await refusal(client, train_uri, {"validation": val})
        assert "the data has 2 error(s)" in message and "train.jsonl:3 TL104" in message, message
    message = await refusal(client, train_uri, {"validation": (ws / "missing.jsonl").as_uri()})
    assert "no such file" in message and str(ws / "missing.jsonl") in message, message
