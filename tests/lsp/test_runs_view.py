"""The Runs list, the Run view and run comparison through a real server: `tunelint.listRuns`,
`tunelint.runDetails` and `tunelint.compareRuns` answer from the run folders (written by hand
here; tests/test_runs.py trains real ones), and refuse paths outside the workspace and runs on
different validation files."""

import pytest
from lsprotocol import types

from tests.test_runs import fake_run


def install(ws):
    val = ws / "validation.jsonl"
    runs = ws / ".tunelint" / "runs"
    fake_run(runs / "20260101-000001", val)
    fake_run(runs / "20260101-000002", val, settings={"lora_r": 8}, line_losses={1: 1.5, 2: 0.5, 4: 3.1})
    fake_run(runs / "20260101-000003", val, end="cancelled")
    (runs / "20260101-000004").mkdir()
    fake_run(runs / "20260101-000005", ws / "train.jsonl")
    return runs


async def command(client, name, *args):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command=name,
                                                                                   arguments=list(args)))


async def test_list_details_and_compare_answer(client):
    runs = install(client.workspace)
    listed = await command(client, "tunelint.listRuns")
    assert [s["name"] for s in listed] == ["20260101-000005", "20260101-000004", "20260101-000003",
                                           "20260101-000002", "20260101-000001"]
    assert [s["status"] for s in listed] == ["completed", "broken", "cancelled", "completed", "completed"]

    d = await command(client, "tunelint.runDetails", "20260101-000002")
    assert d["status"] == "completed" and d["curves"]["train"] and d["curves"]["eval"]
    assert d["settings"]["lora_r"] == 8 and [w["line"] for w in d["worst_examples"]] == [4, 1, 2]
    by_uri = await command(client, "tunelint.runDetails", (runs / "20260101-000001").as_uri())
    assert by_uri["name"] == "20260101-000001"

    c = await command(client, "tunelint.compareRuns", "20260101-000001", str(runs / "20260101-000002"))
    assert c["settings_differ"] == [["lora_r", 16, 8]] and c["lines"][0]["line"] == 2
    assert {"eval_loss_after", "train_loss"} <= {m[0] for m in c["metrics"]}


async def test_refusals(client, tmp_path_factory):
    install(client.workspace)
    with pytest.raises(Exception, match="different validation files"):
        await command(client, "tunelint.compareRuns", "20260101-000001", "20260101-000005")
    outside = fake_run(tmp_path_factory.mktemp("elsewhere") / "run", None)
    with pytest.raises(Exception, match="outside the workspace"):
        await command(client, "tunelint.runDetails", str(outside))
    with pytest.raises(Exception, match="outside the workspace"):
        await command(client, "tunelint.listRuns", str(outside.parent))
    with pytest.raises(Exception, match="takes one run"):
        await command(client, "tunelint.runDetails")
    assert (await command(client, "tunelint.listRuns"))[0]["name"] == "20260101-000005"  # still serving
