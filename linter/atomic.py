"""The one way tunelint writes a file: atomically, so a reader (or a crash) sees the old file or
the new one, never half of one."""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str | os.PathLike, data: str | bytes, *, durable: bool = True) -> None:
    """Write `data` (text as UTF-8, newlines as given) to `path`: into a temporary file created
    exclusively in the target's folder (`mkstemp`: a fresh name, never a link someone planted),
    then renamed over the target. An existing file keeps its permissions; a new one gets the
    usual ones (0666 less the umask). `durable`: fsync before the rename (a cache can skip it)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=".tunelint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for every thread
    for a moment)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
