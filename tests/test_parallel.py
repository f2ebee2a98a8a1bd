"""The CLI's parallel run: this process analyses a share of each batch beside one worker fewer
(`balance`), and hands the workers their lines through shared memory (`handoff`)."""

import fcntl
import json

import pytest

from tunelint.linter import engine, handoff
from tunelint.linter.balance import SHARE_MAX, Balance
from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

S = Settings(profile="hf")


def _lines(n, salt=""):
    out = [json.dumps({"messages": [{"role": "user", "content": f"question {i}{salt} — naïve"},
                                    {"role": "assistant", "content": f"answer {i}"}]}) for i in range(n)]
    for i in range(0, n, 53):
        out[i] = out[i].replace('"assistant"', '"bot"')
    return out


def _batches(b: Balance, n: int, here: float, there: float, rounds: int = 40, waited: float = 0.0,
             idle: float = 0.0) -> float:
    """`rounds` batches of `n` lines at the given seconds per line; the share after them."""
    for _ in range(rounds):
        k = b.cut(n)
        b.analysed_here(k, k * here)
        b.analysed_there(n - k, (n - k) * there)
        b.waited(waited)
        b.idle(idle)
    return b.share


def test_the_share_balances_this_process_and_the_workers():
    # same speed, no work of its own: half each with one worker, a third with two
    assert _batches(Balance(1), 1000, 1e-4, 1e-4) == pytest.approx(0.5, abs=0.02)
    assert _batches(Balance(2), 1000, 1e-4, 1e-4) == pytest.approx(1 / 3, abs=0.02)
    # workers twice as slow per line: this process takes more
    assert _batches(Balance(1), 1000, 1e-4, 2e-4) == pytest.approx(2 / 3, abs=0.02)


def test_own_work_and_imbalance_move_the_share():
    b = Balance(1)
    b.own = 0.05  # seconds per batch of reading, caching, indexing
    b.here = b.there = 1e-4
    b.share = 0.5
    b._began = None
    k = b.cut(1000)  # (1000 * 1e-4 - 0.05) / (1000 * 2e-4) = 0.25, mixed in
    assert k < 500
    waiting = _batches(Balance(1), 1000, 1e-4, 1e-4, waited=0.02)
    idling = _batches(Balance(1), 1000, 1e-4, 1e-4, idle=0.02)
    assert idling < 0.5 < waiting <= SHARE_MAX


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
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(_lines(4000, " a")) + "\n")
    with Linter(jobs=2) as two:
        cold = two.lint_paths([str(p)], lambda _: S)[0]
        workers = two._workers
        assert workers.workers == 1 and workers.balance is not None
        assert workers.balance.here is not None and workers.balance.there is not None  # both analysed
        assert 0 < workers.balance.share < 1
    assert placed and all(x is not None for x in placed)  # every batch went through the slots
    with Linter(jobs=1, use_cache=False) as one:
        fresh = one.lint_paths([str(p)], lambda _: S)[0]
    assert cold.findings == fresh.findings and len(cold.findings) == len(range(0, 4000, 53))
    assert sorted(cold.stats.tokens) == sorted(fresh.stats.tokens)
    with Linter(jobs=1) as one:  # what this process analysed went into the cache too
        warm = one.lint_paths([str(p)], lambda _: S)[0]
    assert (warm.stats.cached, warm.stats.analysed) == (4000, 0) and warm.findings == cold.findings


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
        assert two._workers.workers == 2 and two._workers.balance is None


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="no F_GETPIPE_SZ on this platform")
def test_the_pools_pipes_have_room_for_a_batchs_results():
    with open("/proc/sys/fs/pipe-max-size") as f:
        limit = int(f.read())
    with Linter(jobs=2, use_cache=False) as two:
        two.results(S, _lines(1000, " d"))
        reader = two._workers.pool._result_queue._reader
        assert fcntl.fcntl(reader.fileno(), fcntl.F_GETPIPE_SZ) >= min(limit, engine.PIPE_BYTES)
