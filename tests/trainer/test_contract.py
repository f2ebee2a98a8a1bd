"""The run contract (trainer/contract.py): events written by a real run are the schema's, the
server reads the folder the trainer writes, every file the trainer writes is in the layout, and
the server and the contract never import torch."""

import dataclasses
import json
import subprocess
import sys

import pytest

from tunelint.trainer import contract
from tunelint.trainer.contract import (
    EVENT_TYPES,
    Artifact,
    End,
    ExampleResult,
    Log,
    RunLayout,
    Start,
    Step,
    latest_training_run,
    new_run_dir,
    parse_event,
)
from tunelint.trainer.settings import TrainSettings, write_settings_file

HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "accelerate")


def test_the_server_the_contract_and_the_settings_never_import_torch():
    code = ("import sys, tunelint.server.main, tunelint.trainer.contract, tunelint.trainer.settings, "
            "tunelint.server.training, tunelint.server.runs\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_every_event_type_round_trips_through_json():
    events = [
        Start(run_dir="/r", model="tiny", method="lora", device="cpu", device_name="CPU", precision="fp32",
              dry_run=True, train_examples=3, eval_examples=1, total_steps=4, trainable_tokens=20, world_size=1),
        Step(step=1, total_steps=4, epoch=0.25, progress=0.25, eta_s=None, loss=None),
        Log(step=1, values={"loss": 2.5, "learning_rate": 0.01}),
        contract.Eval(phase="before", eval_loss=3.0, perplexity=20.1),
        contract.Eval(phase="during", eval_loss=2.5, perplexity=12.2, step=4, examples=200),
        contract.StoppedEarly(best_step=4, best_eval_loss=2.5, stopped_at_step=8, reason="no improvement"),
        ExampleResult(line=2, loss=1.0, loss_base=2.0, perplexity=2.7, generation="a", reference="b",
                      exact_match=False, token_f1=0.0),
        Artifact(kind="metrics", path="/r/metrics.json"),
        contract.Error(message="boom"),
        End(status="completed", duration_s=1.5, exit_code=0),
    ]
    assert {type(e) for e in events} == set(EVENT_TYPES.values())  # every type is tried
    for ev in events:
        line = json.dumps(ev.to_json())
        back = parse_event(line)
        assert type(back) is type(ev)
        assert dataclasses.replace(back, time=None) == ev
        assert json.loads(line)["event"] == ev.name and isinstance(json.loads(line)["time"], float)
    log = json.loads(json.dumps(events[2].to_json()))
    assert log["loss"] == 2.5 and "values" not in log  # what the trainer logged, as fields of their own


def test_fields_of_another_kind_of_run_are_left_out_and_unknown_ones_ignored():
    start = Start(model="run", data="/v.jsonl", eval_examples=2).to_json()  # tunelint eval's
    assert set(start) == {"event", "time", "model", "data", "eval_examples"}
    assert set(End(status="completed").to_json()) == {"event", "time", "status"}
    step = Step(step=1, total_steps=2, epoch=0.5, progress=0.5, eta_s=None, loss=None).to_json()
    assert step["eta_s"] is None and step["loss"] is None  # null, not left out: not yet known
    assert parse_event({"event": "step", "step": 3, "new_field": 1}).step == 3
    assert parse_event({"event": "something-new"}) is None and parse_event("not json") is None


def test_run_folder_names_and_the_latest_training_run(tmp_path):
    first = new_run_dir(tmp_path, "train")
    assert first.parent == tmp_path / ".tunelint" / "runs"
    RunLayout(first).adapter.mkdir(parents=True)
    RunLayout(first).config.write_text("{}")
    second = new_run_dir(tmp_path, "train")
    assert second != first  # within the same second: <time>-2
    second.mkdir()
    evaluation = new_run_dir(tmp_path, "eval")
    assert "-eval" in evaluation.name
    evaluation.mkdir()
    assert latest_training_run(tmp_path) == RunLayout(first)  # the others have no config and weights


@pytest.mark.slow
def test_a_run_launched_as_the_server_launches_it_writes_the_contract(dataset, tmp_path):
    """The server's way: a new run folder holding only the resolved settings file, then
    `tunelint train DATA -o RUN --settings RUN/settings.json`. The settings are the file's; every
    event validates against its type; every file is in the layout; the server's loader reads it."""
    from tunelint.server.runs import load_results

    train, val = dataset
    run = RunLayout(tmp_path / "run")
    run.path.mkdir()
    settings = TrainSettings(model="tiny", method="lora", max_steps=3, max_length=128, batch_size=8, seed=1, lora_r=4,
                             eval_max_new_tokens=4, checkpoint_steps=2)
    write_settings_file(run.settings, settings)
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(train), "--validation", str(val), "-o",
                        str(run.path), "--settings", str(run.settings), "--events", "-"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    config = run.read_config()
    assert config["settings"] == settings.to_json()  # every key of the file honoured, lora_r too
    assert json.loads(run.settings.read_text()) == settings.to_json()  # the file is left as it was

    assert {p.name for p in run.path.iterdir()} <= set(RunLayout.NAMES)
    assert run.adapter.is_dir() and run.base_model.is_dir() and run.plot.is_file() and run.checkpoints.is_dir()

    lines = run.events.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [json.loads(x) for x in r.stdout.splitlines()]  # --events -
    for line in lines:
        obj = json.loads(line)
        cls = EVENT_TYPES[obj["event"]]
        known = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        assert required <= set(obj), (obj["event"], required - set(obj))
        if cls is not Log:
            assert set(obj) - {"event"} <= known, (obj["event"], set(obj) - known)
    kinds = [parse_event(x) for x in lines]
    assert isinstance(kinds[0], Start) and isinstance(kinds[-1], End) and kinds[-1].status == "completed"
    artifacts = {e.kind: e.path for e in kinds if isinstance(e, Artifact)}
    assert artifacts["adapter"] == str(run.adapter) and artifacts["eval_results"] == str(run.eval_results)
    assert artifacts["metrics"] == str(run.metrics) and artifacts["plot"] == str(run.plot)

    res = load_results(run.path)
    assert res is not None and res.summary.startswith("tiny lora · dry run")
    results = run.read_eval_results()
    assert sorted(res.by_line) == [e.line for e in results] == [1, 2, 4, 5, 6, 7]
    assert res.by_line[1] == results[0] and res.by_line[1].reference
    examples = [e for e in kinds if isinstance(e, ExampleResult)]
    assert [dataclasses.replace(e, time=None) for e in examples] == results  # the events are the file's lines
