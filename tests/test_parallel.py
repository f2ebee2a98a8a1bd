"""The CLI's parallel run: this process analyses chunks of each batch beside one worker fewer,
taking those no worker has begun (`claims`), and hands the workers their lines through shared
memory (`handoff`)."""

import fcntl
import json
import threading

import pytest

from tunelint.linter import claims, engine, handoff
from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

S = Settings(profile="hf")


def _lines(n, salt=""):
    out = [json.dumps({"messages": [{"role": "user", "content": f"question {i}{salt} — naïve"},
                                    {"role": "assistant", "content": f"answer {i}"}]}) for i in range(n)]
    for i in range(0, n, 53):
        out[i] = out[i].replace('"assistant"', '"bot"')
    return out


def test_claims_give_each_chunk_to_one_side():
    c = claims.Claims()
    try:
        first, second = c.new(), c.new()
        assert first != second
        assert c.take(first, claims.HERE) and not c.take(first, claims.WORKER)
        assert c.take(second, claims.WORKER) and not c.take(second, claims.HERE)
    finally:
        c.close()


def test_claim_entries_are_used_again_only_when_their_task_is_done(monkeypatch):
    from concurrent.futures import Future

    monkeypatch.setattr(claims, "CLAIMS", 2)
    c = claims.Claims()
    try:
        running = Future()
        threading.Timer(0.2, running.set_result, ([],)).start()
        first = c.new()
        c.used_by(running)
        c.used_by(_done(c.new()))
        assert c.new() == first and running.done()  # waited for the task that had the entry
        assert c.take(first, claims.HERE)  # and the entry is free again
    finally:
        c.close()


def _done(_entry):
    from concurrent.futures import Future

    f = Future()
    f.set_result([])
    return f


def test_a_batch_takes_the_chunks_from_the_back_and_gives_results_in_order():
    from concurrent.futures import Future

    c = claims.Claims()
    try:
        texts = list(range(10))
        batch = claims.Batch([(0, 4), (4, 8), (8, 10)], c, lambda lo, hi: [("here", t) for t in texts[lo:hi]])
        task = Future()
        batch.tasks.append((task, 0))
        assert c.take(batch.entries[0], claims.WORKER)  # the worker began the first chunk
        assert batch.steal() and batch.here[2] is not None  # this process takes the last one
        task.set_result([[b"w0", b"w1", b"w2", b"w3"]])  # the worker stopped at the chunk taken here
        out = batch.results(None)  # the middle one is analysed here too
        assert out == [b"w0", b"w1", b"w2", b"w3"] + [("here", t) for t in range(4, 10)]
        assert not batch.steal() and not c.take(batch.entries[1], claims.WORKER)
    finally:
        c.close()


def test_handoff_places_bytes_and_gives_them_back():
    h = handoff.Handoff(size=64)
    try:
        lines = [b"abc", b"", "\u00e9t\u00e9".encode(), b"x" * 10]
        slot, ends = h.place(lines)
        assert list(ends) == [3, 3, 8, 18]
        assert handoff.Placed(slot, 0, ends).lines(h.maps) == lines
        assert handoff.Placed(slot, 3, ends[1:3]).lines(h.maps) == lines[1:3]
        assert h.place([b"y"])[0] != slot  # the other slot
        assert h.place(["a text"]) is None  # an editor's text goes by pipe
        assert h.place([b"z" * 65]) is None  # too large for a slot
        from concurrent.futures import Future

        busy = Future()
        h.used_by(slot, [busy])  # a task still reading the slot (a warm run's side worker)
        assert h.place([b"w"]) is None  # goes by pipe: nothing waits, nothing is overwritten
        busy.set_result(None)
        assert h.place([b"w"])[0] == slot
    finally:
        h.close()


def test_a_run_with_two_jobs_analyses_here_and_in_one_worker_and_reports_what_one_process_does(
        tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    placed = []
    real = handoff.Handoff.place
    monkeypatch.setattr(handoff.Handoff, "place", lambda self, lines: placed.append(r := real(self, lines)) or r)
    taken = []  # who took each chunk this process was asked for: here (True) or a worker
    steal = claims.Batch.steal
    monkeypatch.setattr(claims.Batch, "steal", lambda self: taken.append(r := steal(self)) or r)
    chunks = []
    new = claims.Claims.new
    monkeypatch.setattr(claims.Claims, "new", lambda self: chunks.append(r := new(self)) or r)
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(_lines(4000, " a")) + "\n")
    with Linter(jobs=2) as two:
        cold = two.lint_paths([str(p)], lambda _: S)[0]
        workers = two._workers
        assert workers.workers == 1
        assert 0 < taken.count(True) < len(chunks)  # this process analysed chunks, the worker the rest
    assert placed and all(x is not None for x in placed)  # every batch went through the slots
    with Linter(jobs=1, use_cache=False) as one:
        fresh = one.lint_paths([str(p)], lambda _: S)[0]
    assert cold.findings == fresh.findings and len(cold.findings) == len(range(0, 4000, 53))
    assert sorted(cold.stats.tokens) == sorted(fresh.stats.tokens)
    with Linter(jobs=1) as one:  # what this process analysed went into the cache too
        warm = one.lint_paths([str(p)], lambda _: S)[0]
    assert (warm.stats.cached, warm.stats.analysed) == (4000, 0) and warm.findings == cold.findings


def test_with_more_workers_every_one_has_a_run_of_chunks_and_the_report_is_the_same(tmp_path, monkeypatch):
    runs = []
    submit = engine.ProcessPoolExecutor.submit
    monkeypatch.setattr(engine.ProcessPoolExecutor, "submit",
                        lambda self, fn, *a: (fn is engine._work and runs.append(len(a[0]))) or submit(self, fn, *a))
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(_lines(3000, " e")) + "\n")
    with Linter(jobs=4, use_cache=False) as four, Linter(jobs=1, use_cache=False) as one:
        assert four.lint_paths([str(p)], lambda _: S)[0].findings == one.lint_paths([str(p)], lambda _: S)[0].findings
        assert four._workers.workers == 3
    # a full batch: 8 chunks of 128 lines for 4 processes, in runs of 2 or 3 for the 3 workers
    assert runs[:3] == [2, 3, 3]


def test_lines_too_large_for_a_slot_and_editor_texts_go_by_pipe(tmp_path, monkeypatch):
    monkeypatch.setattr(handoff, "SLOT_BYTES", 1024)
    data = _lines(3000, " b")
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(data) + "\n")
    with Linter(jobs=2, use_cache=False) as two, Linter(jobs=1, use_cache=False) as one:
        assert two.lint_paths([str(p)], lambda _: S)[0].findings == one.lint_paths([str(p)], lambda _: S)[0].findings
        text = "\n".join(data) + "\n"
        assert two.lint_text(text, "train.jsonl", S).findings == one.lint_text(text, "train.jsonl", S).findings


def test_the_language_servers_pool_does_all_the_work():
    """forkserver (a process with threads): no share here, every job is a worker."""
    with Linter(jobs=2, start_method="forkserver", use_cache=False) as two:
        two.results(S, _lines(1000, " c"))
        assert two._workers.workers == 2 and two._workers.claims is None


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="no F_GETPIPE_SZ on this platform")
def test_the_pools_pipes_have_room_for_a_batchs_results():
    with open("/proc/sys/fs/pipe-max-size") as f:
        limit = int(f.read())
    with Linter(jobs=2, use_cache=False) as two:
        two.results(S, _lines(1000, " d"))
        reader = two._workers.pool._result_queue._reader
        assert fcntl.fcntl(reader.fileno(), fcntl.F_GETPIPE_SZ) >= min(limit, engine.PIPE_BYTES)
