"""Real training of a tiny model on CPU: the run folder, loss falls, per-example evaluation on
the right lines, resume, cancel, refusals, and two processes."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1"]


def tunelint(*args, cwd=None, timeout=600, **kw):
    return subprocess.run([sys.executable, "-m", "tunelint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)


def events(run):
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def test_full_fine_tune_learns_and_writes_the_run_folder(dataset, tmp_path):
    train, val = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--method", "full",
                 "--max-steps", "40", *TINY)
    assert r.returncode == 0, r.stderr
    assert "DRY RUN" in r.stderr
    m = json.loads((run / "metrics.json").read_text())
    for key in ("eval_loss_before", "eval_loss_after", "train_loss", "train_tokens", "train_tokens_per_second",
                "duration_s", "device", "dry_run"):
        assert key in m, key
    assert m["dry_run"] is True and m["device"] == "cpu"
    assert m["eval_loss_after"] < m["eval_loss_before"] - 1.0
    records = [json.loads(x) for x in (run / "eval_results.jsonl").read_text().splitlines()]
    assert [r["line"] for r in records] == [1, 2, 4, 5, 6, 7]  # line 3 is blank
    for rec in records:
        assert {"loss", "loss_base", "generation", "reference", "exact_match", "token_f1"} <= set(rec)
        assert rec["loss"] < rec["loss_base"]
    assert (run / "loss.png").stat().st_size > 1000
    assert (run / "model" / "config.json").is_file()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["versions"]["trl"] and cfg["settings"]["method"] == "full"
    ev = events(run)
    assert ev[0]["event"] == "start" and ev[-1] == {**ev[-1], "event": "end", "status": "completed", "exit_code": 0}
    phases = [e["phase"] for e in ev if e["event"] == "eval"]
    assert phases[0] == "before" and phases[-1] == "after" and set(phases[1:-1]) == {"during"}  # ~10 during
    assert len([e for e in ev if e["event"] == "example"]) == 6
    assert max(e["progress"] for e in ev if e["event"] == "step") == 1.0


def test_lora_run_saves_an_adapter_and_eval_command_reuses_it(dataset, tmp_path):
    train, val = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "--validation", str(val), "-o", str(run), "--max-steps", "10", *TINY)
    assert r.returncode == 0, r.stderr
    assert (run / "adapter" / "adapter_config.json").is_file()
    m = json.loads((run / "metrics.json").read_text())
    assert m["eval_loss_after"] < m["eval_loss_before"]
    out = tmp_path / "again"
    r = tunelint("eval", str(run), "--data", str(val), "-o", str(out), "--max-new-tokens", "8")
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in (out / "eval_results.jsonl").read_text().splitlines()]
    assert [x["line"] for x in recs] == [1, 2, 4, 5, 6, 7]
    assert all(x["loss"] < x["loss_base"] for x in recs)


def test_refuses_errors_and_existing_folders_and_never_writes_the_dataset(dataset, tmp_path):
    train, val = dataset
    bad = tmp_path / "bad_train.jsonl"
    bad.write_text(train.read_text() + '{"messages": [{"role": "user", "content": "x"},]}\n')
    before = bad.read_bytes()
    r = tunelint("train", str(bad), "-o", str(tmp_path / "r1"), "--max-steps", "1", *TINY)
    assert r.returncode == 1 and "TL008" in r.stderr and "--force" in r.stderr
    assert bad.read_bytes() == before
    (tmp_path / "r2").mkdir()
    (tmp_path / "r2" / "keep.txt").write_text("mine")
    r = tunelint("train", str(train), "-o", str(tmp_path / "r2"), "--max-steps", "1", *TINY)
    assert r.returncode == 2 and "--overwrite" in r.stderr
    assert (tmp_path / "r2" / "keep.txt").read_text() == "mine"
    r = tunelint("train", str(train), "-o", str(tmp_path / "r3"), "--model", "/nonexistent/model", "--max-steps", "1")
    assert r.returncode == 2 and "cannot load model" in r.stderr


def test_resume_continues_from_the_last_checkpoint(dataset, tmp_path):
    train, _ = dataset
    run = tmp_path / "run"
    r = tunelint("train", str(train), "-o", str(run), "--max-steps", "4", "--checkpoint-steps", "2", "--method", "full",
                 *TINY)
    assert r.returncode == 0, r.stderr
    assert (run / "checkpoints" / "checkpoint-4").is_dir()
    r = tunelint("train", str(train), "-o", str(run), "--max-steps", "6", "--checkpoint-steps", "2", "--method", "full",
                 "--resume", *TINY)
    assert r.returncode == 0, r.stderr
    assert "resuming from" in r.stderr and "checkpoint-4" in r.stderr
    assert json.loads((run / "metrics.json").read_text())["steps"] == 6
    steps = [e["step"] for e in events(run) if e["event"] == "step"]
    assert steps[-2:] == [5, 6]


def test_sigint_stops_at_the_next_step_saves_and_exits_130(dataset, tmp_path):
    train, _ = dataset
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tunelint", "train", str(train), "-o", str(run),
                             "--max-steps", "5000",
                             "--events", "-", *TINY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        for line in proc.stdout:
            if json.loads(line)["event"] == "step":
                break
        proc.send_signal(signal.SIGINT)
        t0 = time.time()
        proc.wait(timeout=120)
        assert time.time() - t0 < 60
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    ev = events(run)
    assert ev[-1]["event"] == "end" and ev[-1]["status"] == "cancelled"
    assert any(p.name.startswith("checkpoint-") for p in (run / "checkpoints").iterdir())


def test_two_processes_on_cpu_with_gloo(dataset, tmp_path):
    train, val = dataset
    run = tmp_path / "run"
    import socket

    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                        "127.0.0.1", "--master_port", port,
                        "-m", "tunelint", "train", str(train), "--validation", str(val), "-o", str(run),
                        "--max-steps", "4", "--method", "full", *TINY],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    ev = events(run)
    starts = [e for e in ev if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # rank 0 writes events, once
    assert ev[-1]["status"] == "completed"
    assert (run / "model" / "config.json").is_file()
    # the evaluation after training is shared by both ranks; the per-example one is rank 0's
    phases = [e["phase"] for e in ev if e["event"] == "eval"]
    assert phases[0] == "before" and phases[-1] == "after" and set(phases[1:-1]) == {"during"}  # ~10 during
    records = [json.loads(line) for line in (run / "eval_results.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in records) == [1, 2, 4, 5, 6, 7]
    # each rank recorded the training examples it trained; rank 0 gathered them: 4 steps of 2 × 8
    # examples are 64 passes over the 48 lines (a line trained by rank 1 has its own steps)
    dyn = [json.loads(line) for line in (run / "train_dynamics.jsonl").read_text().splitlines()]
    assert [d["line"] for d in dyn] == list(range(1, 49))
    assert sum(len(d["steps"]) for d in dyn) == 64 and max(len(d["steps"]) for d in dyn) == 2
