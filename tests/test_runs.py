"""`tunelint runs` and `tunelint runs compare` (trainer/history.py): run folders written by hand
(finished, cancelled, still going, interrupted, truncated, not runs at all) and, in the slow
tests, runs trained for real with the tiny model. Never a traceback."""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunelint.cli import main
from tunelint.trainer import history

T0 = 1_767_000_000.0  # a fixed start time for the runs written by hand


def ev(name, t, **fields):
    return json.dumps({"event": name, "time": t, **fields}) + "\n"


def fake_run(path: Path, validation: Path | None, losses=(2.0, 1.5, 1.0), line_losses=None, settings=None,
             end="completed", old=True, extra_events="", config=True, sha256=None) -> Path:
    """A run folder as `tunelint train` writes it: events, config, metrics, eval results."""
    path.mkdir(parents=True)
    settings = {"model": "tiny", "method": "lora", "max_steps": len(losses), "lora_r": 16, **(settings or {})}
    text = ev("start", T0, run_dir=str(path), model="tiny", method=settings["method"], eval_examples=3,
              total_steps=len(losses), train_examples=10)
    text += ev("eval", T0 + 1, phase="before", eval_loss=3.0, perplexity=20.0)
    for i, loss in enumerate(losses, 1):
        text += ev("step", T0 + 1 + i, step=i, total_steps=len(losses), epoch=i / 10, progress=i / len(losses),
                   eta_s=float(len(losses) - i), loss=loss)
        text += ev("log", T0 + 1 + i, step=i, loss=loss, learning_rate=0.01 / i, num_tokens=100.0 * i)
        text += ev("eval", T0 + 1 + i, phase="during", step=i, eval_loss=loss + 0.5, perplexity=None, examples=3)
    text += extra_events
    after = losses[-1] + 0.4
    if end == "completed":
        text += ev("eval", T0 + 9, phase="after", eval_loss=after, perplexity=None)
    if end:
        text += ev("end", T0 + 10, status=end, duration_s=10.0, exit_code=0 if end == "completed" else 130)
    (path / "events.jsonl").write_text(text)
    if config:
        cfg = {"data": "/data/train.jsonl", "validation": str(validation) if validation else None,
               "base_model": str(path / "base-model"), "settings": settings, "learning_rate": 0.01,
               "device": {"kind": "cpu"}, "versions": {}, "dry_run": True}
        if validation and sha256:
            cfg["lint"] = {str(validation): {"sha256": sha256}}
        (path / "config.json").write_text(json.dumps(cfg))
    if end == "completed":
        (path / "metrics.json").write_text(json.dumps({"model": "tiny", "method": settings["method"],
                                                       "eval_loss_before": 3.0, "eval_loss_after": after,
                                                       "train_loss": losses[-1], "steps": len(losses),
                                                       "duration_s": 10.0, "status": "completed"}))
        line_losses = line_losses or {1: 1.0, 2: 2.0, 4: 3.0}
        (path / "eval_results.jsonl").write_text("".join(
            json.dumps({"line": line, "loss": loss, "loss_base": 3.0, "perplexity": None, "generation": "",
                        "reference": "", "exact_match": False, "token_f1": 0.0}) + "\n"
            for line, loss in line_losses.items()))
    if old:
        os.utime(path / "events.jsonl", (T0 + 10, T0 + 10))
    return path


@pytest.fixture
def runs(tmp_path):
    """A workspace whose .tunelint/runs holds one run of every kind."""
    val = tmp_path / "validation.jsonl"
    val.write_text("{}\n{}\n\n{}\n")
    other = tmp_path / "other.jsonl"
    other.write_text("{}\n")
    r = tmp_path / ".tunelint" / "runs"
    fake_run(r / "20260101-000001", val)
    fake_run(r / "20260101-000002", val, losses=(2.0, 1.2, 0.6), settings={"lora_r": 8},
             line_losses={1: 1.5, 2: 0.5, 4: 3.1})
    fake_run(r / "20260101-000003", val, end="cancelled")
    fake_run(r / "20260101-000004", val, end=None, old=False)  # still going
    fake_run(r / "20260101-000005", val, end=None)  # killed: no end, nothing written for long
    trunc = fake_run(r / "20260101-000006", val, end=None)
    with open(trunc / "events.jsonl", "a") as f:
        f.write('{"event": "step", "time": 1767000020.0, "st')
    os.utime(trunc / "events.jsonl", (T0 + 20, T0 + 20))
    (r / "20260101-000007").mkdir()  # empty
    (r / "20260101-000008").mkdir()  # no config.json, no events
    (r / "20260101-000008" / "loss.png").write_bytes(b"x")
    fake_run(r / "20260101-000009", other)
    failed = fake_run(r / "20260101-000010", val, end="failed",
                      extra_events=ev("error", T0 + 8, message="CUDA out of memory"))
    assert failed
    return tmp_path


def cli(*args, cwd=None):
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        return CliRunner().invoke(main, list(args), catch_exceptions=True)
    finally:
        os.chdir(old)


EXPECTED = {"20260101-000001": "completed", "20260101-000002": "completed", "20260101-000003": "cancelled",
            "20260101-000004": "running", "20260101-000005": "broken", "20260101-000006": "broken",
            "20260101-000007": "broken", "20260101-000008": "broken", "20260101-000009": "completed",
            "20260101-000010": "failed"}


def test_runs_lists_every_run_with_its_status_in_json(runs):
    r = cli("runs", "--format", "json", cwd=runs)
    assert r.exit_code == 0 and r.exception is None, r.output
    got = json.loads(r.output)
    assert [s["name"] for s in got] == sorted(EXPECTED, reverse=True)  # newest first
    assert {s["name"]: s["status"] for s in got} == EXPECTED
    by = {s["name"]: s for s in got}
    keys = {"name", "path", "status", "problem", "started", "model", "method", "duration_s", "eval_loss_before",
            "eval_loss_after", "validation", "kind"}
    assert all(keys <= set(s) for s in got)
    done = by["20260101-000001"]
    assert done["problem"] is None and done["model"] == "tiny" and done["method"] == "lora"
    assert done["eval_loss_before"] == 3.0 and done["eval_loss_after"] == pytest.approx(1.4)
    assert done["duration_s"] == 10.0
    assert datetime.fromisoformat(done["started"]).timestamp() == T0
    assert done["validation"] == str(runs / "validation.jsonl") and done["kind"] == "train"
    assert "interrupted at step 3 of 3" in by["20260101-000005"]["problem"]
    assert "truncated" in by["20260101-000006"]["problem"]
    assert "not a run folder" in by["20260101-000007"]["problem"]
    assert "not a run folder" in by["20260101-000008"]["problem"]
    assert by["20260101-000010"]["problem"] == "CUDA out of memory"
    assert by["20260101-000003"]["eval_loss_after"] is None  # cancelled before the final evaluation


def test_runs_text_lists_the_same_and_states_the_problems(runs):
    r = cli("runs", str(runs / ".tunelint" / "runs"))
    assert r.exit_code == 0 and r.exception is None, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[:3] == ["RUN", "STARTED", "KIND"]
    for name, status in EXPECTED.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert f" {status} " in row, row
    assert "3 -> 1.4" in next(line for line in lines if line.startswith("20260101-000001 "))
    assert any(line.startswith("20260101-000006: interrupted") and "truncated" in line for line in lines)


def test_runs_of_one_run_folder_and_of_nothing(runs, tmp_path):
    one = runs / ".tunelint" / "runs" / "20260101-000003"
    r = cli("runs", str(one), "--format", "json")
    assert [s["status"] for s in json.loads(r.output)] == ["cancelled"]
    empty = tmp_path / "nothing"
    empty.mkdir()
    r = cli("runs", cwd=empty)
    assert r.exit_code == 0 and r.output.strip() == "no runs"
    r = cli("runs", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no such folder" in r.output and r.exception is None or isinstance(
        r.exception, SystemExit)


def test_details_curves_progress_settings_and_worst_examples(runs):
    d = history.details(runs / ".tunelint" / "runs" / "20260101-000002")
    assert d["status"] == "completed"
    assert d["curves"]["train"] == [[1, 2.0], [2, 1.2], [3, 0.6]]
    assert d["curves"]["eval"] == [[0, 3.0], [1, 2.5], [2, 1.7], [3, pytest.approx(1.0)]]
    assert d["curves"]["learning_rate"][0] == [1, 0.01]
    assert [p[0] for p in d["curves"]["tokens_per_s"]] == [1, 2, 3]
    assert d["progress"] == {"step": 3, "total_steps": 3, "eta_s": 0.0}
    assert d["settings"]["lora_r"] == 8 and d["settings"]["learning_rate"] == 0.01
    assert [w["line"] for w in d["worst_examples"]] == [4, 1, 2]
    assert d["worst_examples"][0]["file"] == str(runs / "validation.jsonl")


def test_details_of_broken_and_going_runs_never_raise(runs):
    base = runs / ".tunelint" / "runs"
    for name in EXPECTED:
        d = history.details(base / name)
        assert d["status"] == EXPECTED[name]
    going = history.details(base / "20260101-000004")
    assert going["progress"]["step"] == 3 and going["curves"]["train"]
    assert history.details(runs / "no-such")["status"] == "broken"


def test_compare_shows_metrics_differing_settings_and_lines_by_difference(runs):
    base = runs / ".tunelint" / "runs"
    r = cli("runs", "compare", str(base / "20260101-000001"), str(base / "20260101-000002"), "--format", "json")
    assert r.exit_code == 0, r.output
    c = json.loads(r.output)
    assert c["a"]["name"] == "20260101-000001" and c["b"]["name"] == "20260101-000002"
    metrics = {name: (a, b) for name, a, b in c["metrics"]}
    assert metrics["eval_loss_after"] == (pytest.approx(1.4), pytest.approx(1.0))
    assert metrics["train_loss"] == (1.0, 0.6)
    assert c["settings_differ"] == [["lora_r", 16, 8]]  # base-model/ of each run is the same tiny model
    assert [x["line"] for x in c["lines"]] == [2, 1, 4]  # |diff| 1.5, 0.5, 0.1
    assert c["lines"][0] == {"line": 2, "loss_a": 2.0, "loss_b": 0.5, "diff": -1.5}
    r = cli("runs", "compare", str(base / "20260101-000001"), str(base / "20260101-000002"))
    assert r.exit_code == 0, r.output
    assert "lora_r" in r.output and "eval_loss_after" in r.output and "line 2" in r.output
    assert r.output.index("line 2") < r.output.index("line 1 ") < r.output.index("line 4")


def test_compare_is_refused_for_different_validation_files(runs, tmp_path):
    base = runs / ".tunelint" / "runs"
    r = cli("runs", "compare", str(base / "20260101-000001"), str(base / "20260101-000009"))
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    assert "different validation files" in r.output and "Traceback" not in r.output
    val = runs / "validation.jsonl"
    a = fake_run(tmp_path / "a", val, sha256="1" * 64)
    b = fake_run(tmp_path / "b", val, sha256="2" * 64)
    with pytest.raises(history.CompareRefused, match="file changed between the runs"):
        history.compare(a, b)
    r = cli("runs", "compare", str(base / "20260101-000001"), str(base / "20260101-000007"))
    assert r.exit_code == 1 and "not a run folder" in r.output
    r = cli("runs", "compare", str(base / "20260101-000001"), str(tmp_path / "missing"))
    assert r.exit_code == 1 and "no such folder" in r.output


def test_the_history_module_imports_nothing_heavy():
    code = ("import sys, tunelint.trainer.history, tunelint.trainer.contract; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'trl', 'peft'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


# -- real runs ------------------------------------------------------------------------------------

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1", "--max-steps", "5",
        "--eval-max-new-tokens", "4"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("trl", reason="training needs the `train` extra")
    from tests.trainer.conftest import QA, chat

    d = tmp_path_factory.mktemp("ws")
    (d / "train.jsonl").write_text("".join(json.dumps(chat(*x)) + "\n" for x in QA[:40]))
    (d / "validation.jsonl").write_text("".join(json.dumps(chat(*x)) + "\n" for x in QA[40:45]))
    (d / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    runs = d / ".tunelint" / "runs"
    procs = []
    for name, extra in (("20260201-000001", ["--lora-r", "8"]), ("20260201-000002", ["--lora-r", "4"])):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tunelint", "train", "train.jsonl", "--validation", "validation.jsonl",
             "-o", str(runs / name), *TINY, *extra], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True))
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    return d


@pytest.mark.slow
def test_real_runs_are_listed_and_compared(trained, tmp_path):
    runs = trained / ".tunelint" / "runs"
    # a cancelled run and a broken one beside them
    cancelled = runs / "20260201-000003"
    shutil.copytree(runs / "20260201-000001", cancelled)
    lines = (cancelled / "events.jsonl").read_text().splitlines()
    keep = [x for x in lines if json.loads(x)["event"] in ("start", "log", "step")]
    (cancelled / "events.jsonl").write_text("\n".join(keep) + "\n" + ev("end", time.time(), status="cancelled",
                                                                         duration_s=3.0, exit_code=130))
    (cancelled / "metrics.json").unlink()
    (cancelled / "eval_results.jsonl").unlink()
    broken = runs / "20260201-000004"
    broken.mkdir()
    (broken / "events.jsonl").write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])
    os.utime(broken / "events.jsonl", (T0, T0))

    r = cli("runs", "--format", "json", cwd=trained)
    assert r.exit_code == 0, r.output
    got = {s["name"]: s for s in json.loads(r.output)}
    assert {k: s["status"] for k, s in got.items()} == {"20260201-000001": "completed",
                                                        "20260201-000002": "completed",
                                                        "20260201-000003": "cancelled",
                                                        "20260201-000004": "broken"}
    done = got["20260201-000001"]
    assert done["model"] == "tiny" and done["method"] == "lora" and done["eval_loss_after"] is not None
    assert done["validation"] == str(trained / "validation.jsonl")
    assert "truncated" in got["20260201-000004"]["problem"]
    text = cli("runs", cwd=trained).output
    assert "completed" in text and "cancelled" in text and "broken" in text

    d = history.details(runs / "20260201-000001")
    assert d["curves"]["train"] and d["curves"]["eval"][0][0] == 0 and len(d["worst_examples"]) == 5
    assert d["settings"]["lora_r"] == 8

    r = cli("runs", "compare", str(runs / "20260201-000001"), str(runs / "20260201-000002"), "--format", "json")
    assert r.exit_code == 0, r.output
    c = json.loads(r.output)
    assert ["lora_r", 8, 4] in c["settings_differ"]
    assert not [k for k, _, _ in c["settings_differ"] if k == "base_model"]
    assert {"eval_loss_before", "eval_loss_after", "train_loss"} <= {m[0] for m in c["metrics"]}
    assert sorted(x["line"] for x in c["lines"]) == [1, 2, 3, 4, 5]
    diffs = [abs(x["diff"]) for x in c["lines"]]
    assert diffs == sorted(diffs, reverse=True)
    text = cli("runs", "compare", str(runs / "20260201-000001"), str(runs / "20260201-000002")).output
    assert "settings that differ" in text and "lora_r" in text

    # the same run evaluated against another file: refused
    other = tmp_path / "other-run"
    shutil.copytree(runs / "20260201-000002", other, ignore=shutil.ignore_patterns("checkpoints", "base-model"))
    cfg = json.loads((other / "config.json").read_text())
    cfg["validation"] = str(trained / "train.jsonl")
    (other / "config.json").write_text(json.dumps(cfg))
    r = cli("runs", "compare", str(runs / "20260201-000001"), str(other))
    assert r.exit_code == 1 and "different validation files" in r.output


def test_the_readme_documents_the_runs_commands():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for cmd in (["runs"], ["runs", "compare"]):
        assert f"tunelint {' '.join(cmd)}" in readme
        assert CliRunner().invoke(main, [*cmd, "--help"]).exit_code == 0


def test_run_details_carry_the_training_data_map_hardest_first(tmp_path):
    from tunelint.trainer import history
    from tunelint.trainer.dynamics import summarize

    run = fake_run(tmp_path / "run", None)
    records = [(line, step, 1.0, line / 10 + (0.2 if line == 2 and step == 2 else 0.0), 4)
               for line in range(1, 9) for step in (1, 2)]
    rows, summary = summarize(records)
    (run / "train_dynamics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "dynamics": summary}))
    m = history.details(run)["data_map"]
    assert m["file"] == "/data/train.jsonl" and m["lines"] == 8
    assert m["confidence_threshold"] == summary["confidence_threshold"]
    regions = [p[3] for p in m["points"]]
    assert regions[0] == "hard-to-learn" and regions.count("hard-to-learn") == summary["regions"]["hard-to-learn"]
    assert m["points"][0][0] == 1 and {p[0] for p in m["points"]} == set(range(1, 9))
    assert history.details(fake_run(tmp_path / "old", None))["data_map"] is None  # a run without dynamics
