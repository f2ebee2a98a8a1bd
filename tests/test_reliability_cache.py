"""The cache folder: unusable (a file where it should be, read-only), writable by others (its
pickles would run their code), or locked by another process: the run goes on without a cache,
counts tokens from the package data, and says so once on stderr."""

import json
import os
import pickle
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

GOOD = '{"messages": [{"role": "user", "content": "Hi %d"}, {"role": "assistant", "content": "Hello!"}]}'


def lint(tmp_path, cache, *, lines: int = 3, first: int = 0, timeout: float = 120, env=None):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(GOOD % i + "\n" for i in range(first, first + lines)), encoding="utf-8")
    e = {**os.environ, "TUNELINT_CACHE_DIR": str(cache), **(env or {})}
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tunelint", "check", "--profile", "hf", "--tokenizer", "o200k_base",
                        "--format", "json", str(data)], env=e, capture_output=True, text=True, timeout=timeout)
    r.seconds = time.monotonic() - t
    return r


def warnings(r) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("tunelint:")]


def test_a_file_where_the_cache_folder_should_be(tmp_path):
    reference = lint(tmp_path, tmp_path / "cache")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for cache in (blocker, blocker / "sub"):  # the second fails for root too
        r = lint(tmp_path, cache)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["stats"] == json.loads(reference.stdout)["stats"]  # tokens counted
        (said,) = warnings(r)
        assert f"cannot use the cache folder {blocker}" in said and "running without a cache" in said
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into a read-only folder: the file-under-a-file case covers it")
def test_a_read_only_cache_folder(tmp_path):
    reference = lint(tmp_path, tmp_path / "cache")
    cache = tmp_path / "read-only"
    cache.mkdir(mode=0o500)
    try:
        r = lint(tmp_path, cache)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["stats"] == json.loads(reference.stdout)["stats"]
        (said,) = warnings(r)
        assert "running without a cache" in said
        assert not list(cache.iterdir())
    finally:
        cache.chmod(0o700)


class Evil:
    """A pickle that, when loaded, creates a file: what someone who can write the cache plants."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_cache_folder_others_can_write_is_not_used(tmp_path):
    cache = tmp_path / "shared-cache"
    assert lint(tmp_path, cache).returncode == 0  # a warm cache ...
    marker = tmp_path / "their-code-ran"
    db = sqlite3.connect(cache / "lines.sqlite3")
    with db:  # ... whose entries someone else replaced
        db.execute("UPDATE results SET v = ?", (pickle.dumps(Evil(marker)),))
    db.close()
    os.chmod(cache, 0o777)
    r = lint(tmp_path, cache)
    assert not marker.exists(), "a pickle planted in a world-writable cache was loaded"
    assert r.returncode == 0, r.stderr
    (said,) = warnings(r)
    assert f"not using the cache folder {cache}" in said and "writable by its group and others (mode 0777)" in said
    assert f"chmod -R go-w {cache}" in said
    assert json.loads(r.stdout)["stats"]  # counted, from the package data
    os.chmod(cache, 0o700)  # the control: in a folder only the user writes, the entries are read
    lint(tmp_path, cache)
    assert marker.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_of_another_user_in_the_cache_folder_is_refused(tmp_path):
    cache = tmp_path / "cache"
    assert lint(tmp_path, cache).returncode == 0
    os.chown(cache / "lines.sqlite3", 65534, 65534)
    r = lint(tmp_path, cache)
    assert r.returncode == 0, r.stderr
    (said,) = warnings(r)
    assert f"{cache / 'lines.sqlite3'} belongs to another user (uid 65534)" in said


def test_a_new_cache_folder_is_the_users_alone(tmp_path):
    cache = tmp_path / "new" / "cache"
    r = lint(tmp_path, cache)
    assert r.returncode == 0 and not warnings(r), r.stderr
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700


def test_a_write_lock_held_by_another_process_costs_a_moment_and_one_message(tmp_path):
    cache = tmp_path / "cache"
    assert lint(tmp_path, cache).returncode == 0  # the cache exists, with results
    holder = sqlite3.connect(cache / "lines.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, held open
    try:
        r = lint(tmp_path, cache, lines=3000, first=10)  # new lines: results to write, in several batches
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == 0, r.stderr
    assert r.seconds < 20, f"{r.seconds:.1f} s"  # was 30 s per batch
    (said,) = warnings(r)
    assert "is locked by another process: going on without the cache" in said
    assert json.loads(r.stdout)["summary"]["error"] == 0
