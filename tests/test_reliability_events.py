"""The server's reader of a trainer's events (server/runs.py Job) with real subprocesses: an
event line of any size is read (asyncio's StreamReader stops at 64 KiB), and a reader that
fails never leaves the trainer's process group behind."""

import asyncio
import json
import os
import sys
import time

import pytest

from server.runs import Job
from tunelint.trainer.contract import End, ExampleResult

BIG = 2 << 20  # a 2 MiB reference answer: one event line well over 64 KiB


def script(body: str) -> list[str]:
    return [sys.executable, "-c", body]


def test_an_event_line_over_a_megabyte_is_read_whole(tmp_path):
    body = f"""
import json, sys
ex = {{"event": "example", "line": 1, "loss": 0.5, "loss_base": 0.7, "perplexity": 1.6,
      "generation": "x", "reference": "r" * {BIG}, "exact_match": False, "token_f1": 0.0}}
sys.stdout.write(json.dumps(ex) + "\\n")
sys.stdout.write(json.dumps({{"event": "end", "status": "completed", "exit_code": 0}}) + "\\n")
sys.stdout.write("no newline at the end")
"""
    events = []
    job = Job("eval", tmp_path, script(body))
    code = asyncio.run(asyncio.wait_for(job.start(events.append), 60))
    assert code == 0, job.stderr_tail
    assert [type(e) for e in events] == [ExampleResult, End]
    assert len(events[0].reference) == BIG
    assert job.status == "completed"


def test_many_small_events_split_across_reads_all_arrive(tmp_path):
    body = """
import json, sys
for i in range(3000):
    sys.stdout.write(json.dumps({"event": "artifact", "kind": "plot", "path": "p" * (i % 97) + str(i)}) + "\\n")
"""
    events = []
    job = Job("train", tmp_path, script(body))
    assert asyncio.run(asyncio.wait_for(job.start(events.append), 60)) == 0
    assert [e.path for e in events] == ["p" * (i % 97) + str(i) for i in range(3000)]


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_reader_error_kills_the_trainer_and_its_children(tmp_path):
    # the "trainer" starts a child in its process group, prints an event, then keeps writing
    body = """
import json, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
sys.stdout.write(json.dumps({"event": "artifact", "kind": "plot", "path": "x"}) + "\\n")
sys.stdout.flush()
while True:
    time.sleep(0.05)
    sys.stdout.write(json.dumps({"event": "artifact", "kind": "plot", "path": "y" * 1000}) + "\\n")
    sys.stdout.flush()
"""

    def broken(event):
        raise RuntimeError("the editor's handler failed")

    job = Job("train", tmp_path, script(body))
    with pytest.raises(RuntimeError, match="handler failed"):
        asyncio.run(asyncio.wait_for(job.start(broken), 60))
    assert job.proc.returncode is not None  # the trainer is not left running
    deadline = time.monotonic() + 10
    while not _gone(job.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(job.proc.pid), "a process of the trainer's group outlived the reader"


def test_the_events_are_still_json_lines_the_contract_parses(tmp_path):
    # the reader hands parse_event whole lines: a line split over reads parses as one event
    line = json.dumps({"event": "end", "status": "cancelled", "exit_code": 130})
    body = f"""
import sys, time
data = {line!r} + "\\n"
for i in range(0, len(data), 7):
    sys.stdout.write(data[i:i + 7]); sys.stdout.flush(); time.sleep(0.001)
"""
    events = []
    job = Job("train", tmp_path, script(body))
    asyncio.run(asyncio.wait_for(job.start(events.append), 60))
    assert job.status == "cancelled" and len(events) == 1
