"""The compare worker (`python -m tunelint.trainer.generate`) with a tiny run trained for real:
streamed text, models kept loaded between requests, cancellation between tokens, clear errors."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.trainer.conftest import QA, chat

pytestmark = pytest.mark.slow

PROMPT = [{"role": "system", "content": "You add numbers."}, {"role": "user", "content": "What is 3 plus 4?"}]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A full fine-tune of the tiny model (it learns the arithmetic answers' shape)."""
    d = tmp_path_factory.mktemp("gen")
    (d / "train.jsonl").write_text("".join(json.dumps(chat(*x)) + "\n" for x in QA[:48]))
    (d / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    out = d / "run"
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(d / "train.jsonl"), "-o", str(out),
                        "--method", "full", "--max-steps", "40", "--model", "tiny", "--max-length", "128",
                        "--batch-size", "8", "--seed", "1"], capture_output=True, text=True, timeout=600, cwd=d)
    assert r.returncode == 0, r.stderr
    return out


class Worker:
    def __init__(self):
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tunelint.trainer.generate"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.next()["event"] == "ready"

    def send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def next(self):
        line = self.proc.stdout.readline()
        assert line, "the worker exited"
        return json.loads(line)

    def until_end(self, rid, on_event=None):
        events = []
        while True:
            ev = self.next()
            assert ev.get("id") == rid, ev
            events.append(ev)
            if on_event:
                on_event(ev)
            if ev.get("event") in ("done", "cancelled", "error"):
                return events

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


@pytest.fixture
def worker():
    w = Worker()
    yield w
    if w.proc.poll() is None:
        w.close()


def texts(events, which):
    return [e["text"] for e in events if e.get("which") == which and "text" in e]


def test_two_requests_stream_and_the_second_reuses_the_loaded_models(worker, run):
    worker.send({"id": "1", "run": str(run), "messages": PROMPT, "max_new_tokens": 16, "temperature": 0})
    first = worker.until_end("1")
    loaded = [e for e in first if e.get("event") == "loaded"]
    assert [(e["which"], e["cached"]) for e in loaded] == [("base", False), ("tuned", False)]
    done = first[-1]
    assert done["event"] == "done" and done["loads"] == 2
    for which in ("base", "tuned"):
        streamed = texts(first, which)
        assert streamed and streamed[-1] == done[which]  # the whole text so far, growing
        assert all(b.startswith(a) or len(b) >= len(a) for a, b in zip(streamed, streamed[1:], strict=False))
    assert done["tuned"] != done["base"]
    assert "plus" in done["tuned"]  # the fine-tune learnt the answers' shape; the random base did not

    worker.send({"id": "2", "run": str(run), "messages": PROMPT, "max_new_tokens": 16, "temperature": 0})
    second = worker.until_end("2")
    assert [e["cached"] for e in second if e.get("event") == "loaded"] == [True, True]
    assert second[-1]["loads"] == 2  # nothing loaded again
    assert (second[-1]["base"], second[-1]["tuned"]) == (done["base"], done["tuned"])  # greedy: the same


def test_sampling_takes_the_settings_and_a_seed_repeats(worker, run):
    req = {"run": str(run), "messages": PROMPT, "max_new_tokens": 8, "temperature": 1.5, "top_p": 0.9, "seed": 3}
    worker.send({"id": "a", **req})
    a = worker.until_end("a")[-1]
    worker.send({"id": "b", **req})
    b = worker.until_end("b")[-1]
    assert a["event"] == b["event"] == "done" and a["tuned"] == b["tuned"]
    worker.send({"id": "c", **req, "top_p": 3})
    c = worker.until_end("c")[-1]
    assert c["event"] == "error" and "top_p" in c["message"]


def test_cancel_stops_a_generation_between_tokens_and_the_worker_goes_on(worker, run):
    sent = []

    def cancel_on_first_text(ev):
        if "text" in ev and not sent:
            sent.append(time.monotonic())
            worker.send({"cancel": "long"})

    worker.send({"id": "long", "run": str(run), "messages": PROMPT, "max_new_tokens": 5000})
    events = worker.until_end("long", cancel_on_first_text)
    assert events[-1]["event"] == "cancelled" and time.monotonic() - sent[0] < 10
    assert len(texts(events, "base")) < 1000 and not texts(events, "tuned")
    worker.send({"id": "after", "run": str(run), "messages": PROMPT, "max_new_tokens": 4})
    assert worker.until_end("after")[-1]["event"] == "done"


def test_bad_runs_and_requests_get_clear_errors(worker, run, tmp_path):
    worker.send({"id": "x", "run": str(tmp_path), "messages": PROMPT})
    err = worker.until_end("x")[-1]
    assert err["event"] == "error" and "is not a tunelint run folder" in err["message"]
    assert str(tmp_path) in err["message"]
    worker.send({"id": "y", "run": str(run), "messages": []})
    assert "messages" in worker.until_end("y")[-1]["message"]
    # a run whose base model is a hub name, offline
    hub = tmp_path / "hub-run"
    shutil.copytree(run, hub, ignore=shutil.ignore_patterns("checkpoints", "base-model"))
    cfg = json.loads((hub / "config.json").read_text())
    cfg.update(base_model="tunelint-test/no-such-model", dry_run=False)
    cfg["settings"]["model"] = "tunelint-test/no-such-model"
    (hub / "config.json").write_text(json.dumps(cfg))
    worker.send({"id": "z", "run": str(hub), "messages": PROMPT})
    err = worker.until_end("z")[-1]
    assert err["event"] == "error" and "tunelint-test/no-such-model" in err["message"] and "hub" in err["message"]
