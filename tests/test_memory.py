"""What a long-running process (the language server) gives back: worker processes and their
helpers stop after a large batch, and the allocator hooks work where glibc is present."""

import json
import os
import sys

import pytest

from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings
from tunelint.server import memory


def children() -> list[str]:
    """Command lines of this process's live children."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_released_workers_leave_no_forkserver_or_resource_tracker_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    texts = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                      {"role": "assistant", "content": f"a{i}"}]}) for i in range(2000)]
    linter = Linter(jobs=2, start_method="forkserver")
    try:
        first = linter.results(Settings(tokenizer=None), texts)
        assert any("forkserver" in c for c in children())  # the pool ran through the forkserver
        linter.release_workers()
        assert not [c for c in children() if "forkserver" in c or "resource_tracker" in c]
        # and a later large batch starts them again
        again = linter.results(Settings(tokenizer=None, profile="hf"), texts)
        linter.release_workers()
    finally:
        linter.close()
    assert len(first) == len(again) == 2000


@pytest.mark.skipif(memory._libc is None, reason="glibc's mallopt/malloc_trim are not available here")
def test_allocator_hooks_run():
    assert memory.tune_allocator()
    memory.tidy_up()


def test_forked_workers_inherit_the_parents_analyzer(tmp_path, monkeypatch):
    """With fork, the parent builds the analyzer (tokenizer, character table) once and the
    workers share it instead of each building a copy; their results are the in-process ones."""
    from tunelint.linter import engine, textnorm

    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(engine, "_worker_analyzer", None)
    settings = Settings(profile="hf")
    texts = [json.dumps({"messages": [{"role": "user", "content": f"question {i} " * 20},
                                      {"role": "assistant", "content": f"answer {i} " * 20}]}) for i in range(2000)]
    with Linter(jobs=2, use_cache=False) as linter:
        parallel = linter.results(settings, texts)
        assert engine._worker_analyzer is linter.analyzer(settings)
        assert textnorm._TABLE is not None  # built before the fork
        assert parallel == linter.analyzer(settings).analyze_many(texts)
