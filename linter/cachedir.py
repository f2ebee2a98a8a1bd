"""Where tunelint keeps derived data: `TUNELINT_CACHE_DIR`, else the user cache directory.

The cache holds pickled results (and tiktoken's parsed ranks), and unpickling runs code: it is
used only in a folder that no one but the user (or root) can write. A folder that cannot be
used, because it cannot be created or written, or others could write it, means a run without a
cache (and the encodings read from the package data), with one warning per process: on stderr
in the CLI, in the log in the language server."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

LINES_DB = "lines.sqlite3"  # the line cache's database (linter/cache.py)

log = logging.getLogger("tunelint.linter")
_said: set[str] = set()


def warn_once(message: str) -> None:
    """`message` as a warning, once per process. Nothing configures logging in the CLI, so
    Python prints it on stderr as it is; the server's log gets it with its time."""
    if message not in _said:
        _said.add(message)
        log.warning(message)


def cache_dir() -> Path:
    env = os.environ.get("TUNELINT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tunelint"))


def _problem(path: Path, st: os.stat_result, folder_mode: int | None) -> str | None:
    """Why `path` (stat `st`) may hold what someone else wrote, or None. A folder must not be
    writable by its group or others; a file in a folder (of mode `folder_mode`) must not be
    writable by those who can reach it through the folder."""
    if not hasattr(os, "geteuid"):  # Windows: no owners and modes of this kind to check
        return None
    if st.st_uid not in (os.geteuid(), 0):
        return f"{path} belongs to another user (uid {st.st_uid})"
    mode = stat.S_IMODE(st.st_mode)
    if folder_mode is None:
        writers = mode & 0o022
    else:
        writers = (mode & 0o020 if folder_mode & 0o010 else 0) | (mode & 0o002 if folder_mode & 0o001 else 0)
    if writers:
        who = " and ".join(w for bit, w in ((0o020, "its group"), (0o002, "others")) if writers & bit)
        return f"{path} is writable by {who} (mode {mode:04o})"
    return None


def _problem_inside(folder: Path, folder_mode: int) -> str | None:
    """The first problem with what `folder` holds (the database and its journal, the encodings,
    their parsed ranks), or None."""
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                st = entry.stat()  # a link: what it leads to
            except OSError:  # a dangling link, or gone meanwhile: nothing that can be read
                continue
            problem = _problem(Path(entry.path), st, folder_mode)
            if problem is not None:
                return problem
    return None


def usable_cache_dir(sub: str | None = None) -> Path | None:
    """The cache folder (or its subfolder `sub`), created if need be (mode 0700), or None, with
    one warning, when it must not be used: it cannot be created or written (a read-only folder,
    a file where the folder should be), or someone other than the user (or root) could have
    written it or anything in it (their code would run when it is unpickled)."""
    root = cache_dir()
    folders = [root] if sub is None else [root, root / sub]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = folder.stat()
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(20, "not a directory")
            problem = _problem(folder, st, None) or _problem_inside(folder, st.st_mode)
        except OSError as e:
            why = "a file, not a folder" if isinstance(e, FileExistsError) else e.strerror or str(e)
            warn_once(f"tunelint: cannot use the cache folder {folder} ({why}): "
                      "running without a cache (set TUNELINT_CACHE_DIR to a folder you can write)")
            return None
        if problem is not None:
            warn_once(f"tunelint: not using the cache folder {root}: {problem}, and the cache holds pickled "
                      f"data that runs code when read. Running without a cache; `chmod -R go-w {root}` "
                      "(or a TUNELINT_CACHE_DIR of your own) fixes it")
            return None
        if not os.access(folder, os.W_OK | os.X_OK):
            warn_once(f"tunelint: cannot use the cache folder {folder} (not writable): running without a cache")
            return None
    return folders[-1]


def is_empty(db) -> bool:
    """Whether the line cache's database holds no results (sqlite3.Error when it cannot tell)."""
    return db.execute("SELECT 1 FROM results LIMIT 1").fetchone() is None


def cache_is_cold() -> bool:
    """Whether the line cache holds nothing (or does not exist, or cannot be used): a run will
    analyse every line. A quick look, never an error."""
    import sqlite3

    folder = usable_cache_dir()
    if folder is None:
        return True
    path = folder / LINES_DB
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
