"""Where tunelint keeps derived data: `TUNELINT_CACHE_DIR`, else the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path

LINES_DB = "lines.sqlite3"  # the line cache's database (linter/cache.py)


def cache_dir() -> Path:
    env = os.environ.get("TUNELINT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tunelint"))


def is_empty(db) -> bool:
    """Whether the line cache's database holds no results (sqlite3.Error when it cannot tell)."""
    return db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is None


def cache_is_cold() -> bool:
    """Whether the line cache holds nothing (or does not exist): a run will analyse every line.
    A quick look, never an error."""
    import sqlite3

    path = cache_dir() / LINES_DB
    if not path.exists():
        return True
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0.1)
        try:
            return is_empty(db)
        finally:
            db.close()
    except sqlite3.Error:  # no results table yet, locked, damaged: the linter sorts it out
        return True
