"""Per-line results cached by the line's text (and the settings that shape them).

Keyed by content, not by file and line number, so an edited, moved or renamed file reuses every
unchanged line: a pre-commit re-run after 1% of the lines changed analyses 1% of them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import xxhash

from .cachedir import LINES_DB, is_empty, usable_cache_dir, warn_once
from .results import LineResult, dump_result, load_result

SCHEMA_VERSION = "11"  # bump when what a line analyses to changes within a release, or a pickled
# class (results.LineResult and what it holds) moves module: entries name their classes' modules
MAX_LINES = 1_000_000  # entries kept (~0.7 KB each); TUNELINT_CACHE_MAX_LINES overrides
# How long a write waits for another process's write transaction: ours take milliseconds, so a
# lock held longer is someone holding it open (the run then goes on without writing the cache).
BUSY_TIMEOUT_S = 1.0


def max_lines() -> int:
    """The cache's bound in entries: `TUNELINT_CACHE_MAX_LINES`, else MAX_LINES. The oldest
    entries go first."""
    raw = os.environ.get("TUNELINT_CACHE_MAX_LINES", "").strip()
    if not raw:
        return MAX_LINES
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"TUNELINT_CACHE_MAX_LINES must be a whole number of lines, not {raw!r}") from None
    if n < 1:
        raise ValueError(f"TUNELINT_CACHE_MAX_LINES must be at least 1, not {n}")
    return n


class LineCache:
    def __init__(self, directory: Path, fingerprint: str):
        from . import __version__

        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LINES_DB
        self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # A cache need not survive a power cut: no fsync (commits and WAL checkpoints were half
        # the cost of a cold run's writes). A file damaged anyway is replaced (`open_cache`).
        self.db.execute("PRAGMA synchronous=OFF")
        # Rows are appended in rowid order and found through a unique index on the key: random
        # 16-byte keys as the primary key of a WITHOUT ROWID table split pages all over the tree,
        # and writing a cold run's results cost four times as much (bench/README.md).
        self.db.execute("DROP TABLE IF EXISTS lines")  # the layout before schema 7
        self.db.execute("CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB)")
        self.max_lines = max_lines()
        self._empty: bool | None = None  # whether it held nothing when this run began
        self._off = False  # locked by another process: not used again in this run
        salt = f"{SCHEMA_VERSION}|{__version__}|{fingerprint}".encode()
        self._seed = int.from_bytes(hashlib.blake2b(salt, digest_size=8).digest(), "little")

    def key(self, text: str) -> bytes:
        return self.key_of_bytes(text.encode("utf-8", "surrogatepass"))

    def key_of_bytes(self, data: bytes) -> bytes:
        """The key of a line's UTF-8 bytes: XXH3-128 seeded with the schema, the version and the
        settings (the cache is local and only ever wrong by accident, so a fast non-cryptographic
        hash is enough: hashing was a tenth of a warm run with BLAKE2)."""
        return xxhash.xxh3_128_digest(data, self._seed)

    def new_run(self) -> None:
        """A run begins: whether the cache is empty is checked again at its first lookup, and a
        cache locked in the last run is tried again."""
        self._empty = None
        self._off = False

    def _failed(self, e: sqlite3.Error, writing: bool) -> None:
        """A lookup or a write failed. Locked by another process (after BUSY_TIMEOUT_S): the
        rest of the run goes on without the cache, and one warning says so. Anything else is a
        miss (a damaged file), or results not saved (a full disk: a warning says so)."""
        if isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e)):
            self._off = True
            warn_once(f"tunelint: the line cache {self.path} is locked by another process: going on without "
                      "the cache (results of this run are analysed and not saved)")
        elif writing:
            warn_once(f"tunelint: cannot save results in the line cache {self.path} ({e})")

    def get_many(self, keys: list[bytes]) -> dict[bytes, LineResult]:
        found: dict[bytes, LineResult] = {}
        if self._off:
            return found
        if self._empty is None:
            try:
                self._empty = is_empty(self.db)
            except sqlite3.Error:
                self._empty = False
        if self._empty:  # a cold run looks nothing up (a line it meets twice is analysed twice)
            return found
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 900):
            chunk = unique[i : i + 900]
            q = f"SELECT k, v FROM results WHERE k IN ({','.join('?' * len(chunk))})"
            try:
                rows = self.db.execute(q, chunk).fetchall()
            except sqlite3.Error as e:  # locked, a damaged file: misses, never an error
                self._failed(e, writing=False)
                return found
            for k, v in rows:
                try:
                    found[k] = load_result(v)
                except Exception:  # a damaged or foreign entry is a miss, never an error
                    continue
        return found

    def put_many(self, items: Iterable[tuple[bytes, LineResult]]) -> None:
        self.put_dumped((k, dump_result(v)) for k, v in items)

    def put_dumped(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Store results already made bytes (`results.dump_result`)."""
        rows = list(items)
        if not rows or self._off:
            return
        try:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO results (k, v) VALUES (?, ?)", rows)
            self._prune()
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self._failed(e, writing=True)
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _prune(self) -> None:
        """Keep at most `max_lines` entries: past that, the oldest tenth goes (rowids grow with
        every write, so the oldest rows are the lowest)."""
        lo, hi = self.db.execute("SELECT (SELECT min(id) FROM results), (SELECT max(id) FROM results)").fetchone()
        if lo is not None and hi - lo + 1 > self.max_lines:
            self.db.execute("DELETE FROM results WHERE id <= ?", (hi - self.max_lines * 9 // 10,))

    def close(self) -> None:
        self.db.close()


def open_cache(fingerprint: str) -> LineCache | None:
    """The cache, or None when it cannot or must not be used (a read-only home, a full disk, a
    folder others can write: `usable_cache_dir`): linting goes on."""
    directory = usable_cache_dir()
    if directory is None:
        return None
    try:
        return LineCache(directory, fingerprint)
    except sqlite3.OperationalError as e:  # locked by another process, read-only, ...: no cache now
        warn_once(f"tunelint: cannot open the line cache in {directory} ({e}): going on without it")
        return None
    except sqlite3.DatabaseError:  # not a database (any more): start a new one
        try:
            for suffix in ("", "-wal", "-shm"):
                (directory / f"{LINES_DB}{suffix}").unlink(missing_ok=True)
            return LineCache(directory, fingerprint)
        except (OSError, sqlite3.Error):
            return None
    except (OSError, sqlite3.Error):
        return None
