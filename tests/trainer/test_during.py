"""During training (issue 16): the evaluation every --eval-steps (events, metrics.json, loss.png),
--early-stopping keeping the best checkpoint, --report-to's trackers. Tiny models, trained for real
on a CPU."""

import json
import subprocess
import sys

import pytest

from tunelint.trainer.contract import Eval, RunLayout, StoppedEarly, parse_event

from .conftest import chat

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1"]


def tunelint(*args, cwd=None, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "tunelint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def events(run):
    return RunLayout(run).read_events()


@pytest.fixture
def unlike(tmp_path, dataset):
    """A validation file unlike the arithmetic it trains on: its loss falls at first (the common
    tokens) and then rises as the model learns the arithmetic only."""
    v = tmp_path / "unlike.jsonl"
    pairs = [("Name a colour of the sky at dusk.", "Crimson velvet shadows drift quietly."),
             ("Describe the sea.", "Endless grey water, restless under wind."),
             ("What do owls eat?", "Owls hunt mice, voles and small birds."),
             ("Tell me about winter.", "Cold mornings, frost, and long dark nights.")]
    v.write_text("".join(json.dumps(chat(*p)) + "\n" for p in pairs))
    return dataset[0], v


@pytest.mark.slow
def test_evaluates_every_eval_steps_into_events_metrics_and_the_plot(dataset, tmp_path):
    train, val = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--max-steps", "12",
                 "--eval-steps", "4", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    evs = [e for e in events(run) if isinstance(e, Eval)]
    assert [e.phase for e in evs] == ["before", "during", "during", "during", "after"]
    during = [e for e in evs if e.phase == "during"]
    assert [e.step for e in during] == [4, 8, 12]
    assert all(e.examples == 6 and e.eval_loss > 0 for e in during)  # 6 lines: no subsample
    assert evs[0].examples == evs[-1].examples == 6 and evs[0].step is None
    m = RunLayout(run).read_metrics()
    assert [(p["step"], p["examples"]) for p in m["evals"]] == [(4, 6), (8, 6), (12, 6)]
    assert [p["eval_loss"] for p in m["evals"]] == [e.eval_loss for e in during]
    assert "early_stopping" not in m
    assert (run / "loss.png").stat().st_size > 1000
    # the default: about ten evaluations per run; none without a validation file
    run2 = tmp_path / "run2"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run2), "--max-steps", "20", *TINY,
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [e.step for e in events(run2) if isinstance(e, Eval) and e.phase == "during"] == list(range(2, 21, 2))
    run3 = tmp_path / "run3"
    r = tunelint("train", str(train), "-o", str(run3), "--max-steps", "4", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not [e for e in events(run3) if isinstance(e, Eval)]
    assert "evals" not in RunLayout(run3).read_metrics()


@pytest.mark.slow
def test_a_large_validation_file_is_subsampled_during_training_but_not_after(dataset, tmp_path):
    from .conftest import QA

    train, _ = dataset
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(chat(*QA[i % len(QA)])) + "\n" for i in range(240)))
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(big), "-o", str(run), "--max-steps", "2",
                 "--eval-steps", "2", "--eval-max-new-tokens", "1", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "subsample of 32 of the 240 validation examples" in r.stderr
    evs = [e for e in events(run) if isinstance(e, Eval)]
    assert [(e.phase, e.examples) for e in evs] == [("before", 240), ("during", 32), ("after", 240)]
    m = RunLayout(run).read_metrics()
    assert m["eval_examples_during"] == 32 and m["evals"][0]["examples"] == 32
    assert len(RunLayout(run).read_eval_results()) == 240  # the final evaluation: every example


@pytest.mark.slow
def test_early_stopping_stops_when_the_eval_loss_rises_and_keeps_the_best_checkpoint(unlike, tmp_path):
    train, val = unlike
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--method", "full",
                 "--max-steps", "40", "--eval-steps", "5", "--early-stopping", "2", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    evs = events(run)
    during = [e for e in evs if isinstance(e, Eval) and e.phase == "during"]
    losses = {e.step: e.eval_loss for e in during}
    best_step = min(losses, key=losses.get)
    assert max(losses) > best_step and losses[max(losses)] > losses[best_step]  # it did rise after the best
    stopped = [e for e in evs if isinstance(e, StoppedEarly)]
    assert len(stopped) == 1
    s = stopped[0]
    assert s.best_step == best_step and s.stopped_at_step == max(losses) < 40
    assert s.stopped_at_step == best_step + 2 * 5  # patience 2 evaluations
    assert s.best_eval_loss == pytest.approx(losses[best_step], abs=1e-5) and str(best_step) in s.reason
    m = RunLayout(run).read_metrics()
    assert m["early_stopping"] == {"patience": 2, "best_step": best_step, "best_eval_loss": s.best_eval_loss,
                                   "stopped_at_step": s.stopped_at_step, "reason": s.reason}
    assert m["steps"] == s.stopped_at_step
    # the run's model is the best checkpoint: its eval loss after is the best one, not the last
    after = next(e for e in evs if isinstance(e, Eval) and e.phase == "after")
    assert after.eval_loss == pytest.approx(losses[best_step], rel=1e-4)
    assert after.eval_loss < losses[s.stopped_at_step]
    assert (run / "model" / "config.json").is_file()


def test_early_stopping_needs_a_validation_file(dataset, tmp_path):
    train, _ = dataset
    r = tunelint("train", str(train), "-o", str(tmp_path / "run"), "--max-steps", "2", "--early-stopping", "2",
                 *TINY, cwd=tmp_path)
    assert r.returncode == 2 and "--early-stopping needs a validation file" in r.stderr


@pytest.mark.slow
def test_report_to_tensorboard_writes_event_files_tensorboard_reads_back(dataset, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train, val = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--max-steps", "10",
                 "--eval-steps", "5", "--logging-steps", "2", "--report-to", "tensorboard", *TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    folder = RunLayout(run).trackers / "tensorboard"
    assert list(folder.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(folder))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/loss" in tags and "eval/loss" in tags, tags
    assert [ev.step for ev in acc.Scalars("train/loss")] == [2, 4, 6, 8, 10]
    during = {e.step: e.eval_loss for e in events(run) if isinstance(e, Eval) and e.phase == "during"}
    assert {ev.step: ev.value for ev in acc.Scalars("eval/loss") if ev.step in during} == pytest.approx(during)
    assert {5, 10} <= {ev.step for ev in acc.Scalars("eval/loss")}


def test_report_to_a_tracker_that_is_not_installed_says_what_to_install(dataset, tmp_path):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    train, val = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--report-to", "wandb", *TINY,
                 cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "--report-to wandb needs the wandb package" in r.stderr and "pip install wandb" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (run / "base-model").exists()  # refused before anything was built or trained
    ends = [parse_event(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert ends[-1].status == "failed" and ends[-1].exit_code == 2


def test_report_to_refuses_an_unknown_tracker(dataset, tmp_path):
    train, _ = dataset
    r = tunelint("train", str(train), "-o", str(tmp_path / "run"), "--report-to", "comet", *TINY, cwd=tmp_path)
    assert r.returncode == 2 and "comet" in r.stderr
