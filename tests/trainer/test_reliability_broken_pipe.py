"""The server killed (SIGKILL) during a run: a real `tunelint train --events -` launched by the
server's own Job (server/runs.py: its own process group, SIGTERM when its parent dies) loses the
reader of its stdout and stderr. It must do what a cancel does: save a checkpoint, write the
`end` event (status cancelled) to events.jsonl and exit 130; not die of BrokenPipeError.

Three processes: this test runs a harness that adopts orphans (PR_SET_CHILD_SUBREAPER, Linux),
so it can wait for the trainer and read its exit status; the harness runs a stand-in server,
an asyncio loop with a Job reading the trainer's events, and SIGKILLs it at the first step."""

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")]

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1"]

SERVER = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from tunelint.server.runs import Job
    from tunelint.trainer.contract import Step

    run, argv = sys.argv[1], json.loads(sys.argv[2])
    job = Job("train", Path(run), argv)

    def on_event(ev):
        if isinstance(ev, Step):
            print(json.dumps({"trainer": job.proc.pid}), flush=True)

    asyncio.run(job.start(on_event))
""")

HARNESS = textwrap.dedent("""
    import ctypes, json, os, signal, subprocess, sys, time
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    server = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]],
                              stdout=subprocess.PIPE, text=True)
    trainer = json.loads(server.stdout.readline())["trainer"]
    server.send_signal(signal.SIGKILL)  # the server dies mid-run, as with `kill -9`
    server.wait()
    t0 = time.time()
    _, status = os.waitpid(trainer, 0)  # adopted: the trainer's parent is now this harness
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "seconds": time.time() - t0}))
""")


def test_the_trainer_of_a_killed_server_saves_a_checkpoint_and_exits_130(dataset, tmp_path):
    train, _ = dataset
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "tunelint", "train", str(train), "-o", str(run), "--max-steps", "5000",
            "--events", "-", *TINY]
    r = subprocess.run([sys.executable, "-c", HARNESS, SERVER, str(run), json.dumps(argv)], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "end", events[-3:]
    assert events[-1]["status"] == "cancelled", events[-3:]
    assert not any(e["event"] == "error" for e in events), [e for e in events if e["event"] == "error"]
    assert got["exit"] == 130, got
    assert got["seconds"] < 60
    assert any(p.name.startswith("checkpoint-") for p in (run / "checkpoints").iterdir())


def test_a_closed_stdout_alone_cancels_the_run_with_a_checkpoint(dataset, tmp_path):
    """No signal at all (`tunelint train --events - | head -1`): the broken pipe is the cancel."""
    train, _ = dataset
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tunelint", "train", str(train), "-o", str(run), "--max-steps",
                             "5000", "--events", "-", *TINY], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        for line in proc.stdout:
            if json.loads(line)["event"] == "step":
                break
        proc.stdout.close()  # the reader goes away
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "cancelled", events[-3:]
    assert any(p.name.startswith("checkpoint-") for p in (run / "checkpoints").iterdir())
