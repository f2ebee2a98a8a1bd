"""Fine-tune and evaluate from the editor, end to end with the tiny model: lens → command →
progress → results on the validation lines; a second launch while one runs; cancel."""

import asyncio
import json
import os
import time

import pytest
from lsprotocol import types

from tests.lsp.conftest import edit, open_doc

pytest.importorskip("trl", reason="training from the editor needs the `train` extra")
pytestmark = pytest.mark.slow

TRAIN_SETTINGS = {"model": "tiny", "method": "full", "maxSteps": 12, "maxLength": 128, "batchSize": 4}


def qa(i):
    return {"messages": [{"role": "user", "content": f"What is {i} plus {i + 3}? Answer in words please."},
                         {"role": "assistant", "content": f"{i} plus {i + 3} makes {2 * i + 3}."}]}


def dataset(ws):
    (ws / "train.jsonl").write_text("".join(json.dumps(qa(i)) + "\n" for i in range(40)))
    (ws / "validation.jsonl").write_text("".join(json.dumps(qa(i)) + "\n" for i in range(100, 104)))


async def wait_for(predicate, timeout=300.0, step=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError("timed out")


def progress_of(client):
    """Every $/progress value received (begin / report / end)."""
    return [v for reports in client.progress_reports.values() for v in reports]


async def lens_command(client, uri, command):
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    return next(lens.command for lens in lenses if lens.command.command == command)


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_fine_tune_from_the_lens_shows_progress_and_results_on_validation_lines(client):
    ws = client.workspace
    dataset(ws)
    client.set_configuration({"train": TRAIN_SETTINGS}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    train_uri = open_doc(client, ws / "train.jsonl")
    val_uri = open_doc(client, ws / "validation.jsonl")
    cmd = await lens_command(client, train_uri, "tunelint.train")
    assert "tiny" in cmd.title
    started = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=cmd.command, arguments=cmd.arguments))
    assert started["started"] and ".tunelint/runs/" in started["run_dir"]
    with pytest.raises(Exception, match="already in progress"):
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="tunelint.train", arguments=[train_uri]))
    await wait_for(lambda: any(getattr(v, "kind", None) == "end" for v in progress_of(client)))
    kinds = [v.kind for v in progress_of(client)]
    assert kinds[0] == "begin" and "report" in kinds and kinds[-1] == "end"
    assert any("step" in (v.message or "") and v.percentage is not None for v in progress_of(client)
               if v.kind == "report")

    async def hints():
        return await client.text_document_inlay_hint_async(types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=val_uri),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=3, character=0))))

    for _ in range(40):
        loss_hints = [h for h in await hints() if str(h.label).startswith("loss ")]
        if len(loss_hints) == 4:
            break
        await asyncio.sleep(0.25)
    assert sorted(h.position.line for h in loss_hints) == [0, 1, 2, 3]
    assert all(" ← " in h.label for h in loss_hints)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=val_uri), position=types.Position(line=1, character=5)))
    assert "**Generated**" in hover.contents.value and "101 plus 104 makes 205." in hover.contents.value
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=train_uri)))
    assert any(lens.command.title.startswith("last run: tiny full") for lens in lenses)

    # the training dynamics on the training file: a confidence hint on every line, a hover with
    # the epochs, TL950 information diagnostics on the 5 hardest-to-learn lines
    with open(os.path.join(started["run_dir"], "metrics.json")) as f:
        assert json.load(f)["dynamics"]["examples"] == 40
    rows = [json.loads(x) for x in open(os.path.join(started["run_dir"], "train_dynamics.jsonl"))]
    await check_dynamics(client, train_uri, rows, stale=False)
    edit(client, train_uri, 2, 0, 0, 0, " ")  # the file changes after the run: marked stale
    await check_dynamics(client, train_uri, rows, stale=True, version=2)


async def check_dynamics(client, uri, rows, stale, version=None):
    from tunelint.trainer.dynamics import hardest

    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=39, character=0))))
    conf = {h.position.line: h.label for h in hints if str(h.label).startswith("conf ")}
    assert sorted(conf) == list(range(40))
    assert conf[3].startswith(f"conf {rows[3]['confidence']:.2f}") and conf[3].endswith(" (stale)") == stale
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=2)))
    assert "**Training dynamics**" in hover.contents.value and "| epoch | step |" in hover.contents.value
    assert f"base model loss {rows[3]['loss_base']:.3f}" in hover.contents.value
    want = [r["line"] - 1 for r in hardest(rows, 5)]
    assert len(want) == 5
    for _ in range(80):
        found = [d for d in client.published.get(uri, (None, []))[1] if d.code == "TL950"]
        if found and (version is None or client.published[uri][0] == version):
            break
        await asyncio.sleep(0.25)
    assert sorted(d.range.start.line for d in found) == sorted(want)
    assert all(d.severity == types.DiagnosticSeverity.Information and "hard to learn" in d.message
               and ("stale" in d.message) == stale for d in found)


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_cancel_stops_the_run_within_seconds_and_leaves_no_process(client):
    ws = client.workspace
    dataset(ws)
    client.set_configuration({"train": {**TRAIN_SETTINGS, "maxSteps": 100000}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    train_uri = open_doc(client, ws / "train.jsonl")
    started = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.train", arguments=[train_uri]))
    run_dir = started["run_dir"]
    await wait_for(lambda: any(v.kind == "report" and "step" in (v.message or "") for v in progress_of(client)))
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, run_dir)]
    assert pids
    t0 = time.monotonic()
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tunelint.cancel", arguments=[]))
    assert result["cancelled"] and time.monotonic() - t0 < 30
    await wait_for(lambda: not any(_cmdline_has(str(p), run_dir) for p in pids), timeout=10)
    events = [json.loads(x) for x in open(os.path.join(run_dir, "events.jsonl"))]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "cancelled"


def _cmdline_has(pid: str, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_a_bad_train_setting_is_refused_before_launch_naming_the_key(client):
    ws = client.workspace
    dataset(ws)
    client.set_configuration({"train": {**TRAIN_SETTINGS, "loraR": 0}}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    train_uri = open_doc(client, ws / "train.jsonl")
    cmd = await lens_command(client, train_uri, "tunelint.train")
    assert "settings need fixing" in cmd.title
    with pytest.raises(Exception, match="`loraR` must be a positive integer"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command="tunelint.train",
                                                                                arguments=[train_uri]))
    assert not (ws / ".tunelint" / "runs").exists()  # nothing launched, no run folder
    with pytest.raises(Exception, match="unknown key 'epoch'"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="tunelint.train", arguments=[train_uri, {"loraR": 4, "epoch": 1}]))


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_every_editor_setting_reaches_the_trainer_through_one_settings_file(client):
    ws = client.workspace
    dataset(ws)
    editor = {**TRAIN_SETTINGS, "maxSteps": 2, "loraR": 4, "loraAlpha": 8, "evalMaxNewTokens": 4, "seed": 3}
    client.set_configuration({"train": editor}, section="tunelint")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    train_uri = open_doc(client, ws / "train.jsonl")
    for _ in range(40):  # the server has the new settings once the lens shows them
        if "tiny, full" in (await lens_command(client, train_uri, "tunelint.train")).title:
            break
        await asyncio.sleep(0.25)
    started = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="tunelint.train", arguments=[train_uri, {"batchSize": 2}]))
    await wait_for(lambda: any(getattr(v, "kind", None) == "end" for v in progress_of(client)))
    from tunelint.trainer.contract import RunLayout

    run = RunLayout(started["run_dir"])
    await wait_for(lambda: run.config.is_file())
    settings = run.read_config()["settings"]
    assert settings == json.loads(run.settings.read_text())  # the file the server wrote is what ran
    assert (settings["lora_r"], settings["lora_alpha"], settings["eval_max_new_tokens"]) == (4, 8, 4)
    assert (settings["seed"], settings["max_length"], settings["batch_size"]) == (3, 128, 2)  # editor ← command
    assert run.model.is_dir()
