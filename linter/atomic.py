"""The one way tunelint writes a file: atomically, so a reader (or a crash) sees the old file or
the new one, never half of one; and only where it was meant to write.

- The temporary file is created exclusively (`mkstemp`: O_CREAT|O_EXCL, a fresh name, never a
  link someone planted) in the folder of the file it replaces, and its mode and owner are set on
  the open descriptor, then it is renamed over the target.
- `inside`: the folder(s) the write must stay in (the workspace, the checked tree). The target's
  real path (every symlink followed, the folders' too) must be inside one of them, else
  `WriteRefused`. A target that is a symlink (inside) is written through: its target file is
  replaced and the link stays a link. Without `inside` a symlink is never followed: the link
  itself is replaced by the new file.
- An existing file keeps its permissions and, where the process may (root, or a group of its
  own), its owner and group; a new one gets the usual ones (0666 less the umask).
- Hard links: the rename gives the target a new inode, so the file's other names keep the old
  content (never written through: a planted hard link cannot redirect the write).
  `refuse_hard_links` refuses instead (`--fix`: a dataset fixed under one name only is a
  surprise).
- `refuse_read_only`: a file its owner marked read-only (no write bit) is not replaced (the
  rename would need only the folder's permission), `WriteRefused`."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable


class WriteRefused(ValueError):
    """A write tunelint will not do; the message names the file and why."""



def write_atomically(path: str | os.PathLike, data: str | bytes, *, durable: bool = True,
                     inside: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
                     refuse_read_only: bool = False, refuse_hard_links: bool = False,
                     unchanged: Callable[[os.stat_result], bool] | None = None) -> str:
    """Write `data` (text as UTF-8, newlines as given) to `path` (see the module's doc); the
    path actually written (a symlink's target). `durable`: fsync before the rename (a cache can
    skip it). `unchanged`: called with the target's stat right before the rename; False refuses
    the write (the file changed since it was read)."""
    path = os.fspath(path)
    target = resolve_target(path, inside)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise WriteRefused(f"{path}: not a regular file; not written")
        if refuse_read_only and not st.st_mode & stat.S_IWUSR:
            raise WriteRefused(f"{path} is read-only (mode {stat.S_IMODE(st.st_mode):o}); not written")
        if refuse_hard_links and st.st_nlink > 1:
            raise WriteRefused(f"{path} has {st.st_nlink} hard links: replacing it would leave the other names "
                               "with the old content; not written")
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=".tunelint-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            if st is not None:
                _keep_owner(f.fileno(), st)
            os.fchmod(f.fileno(), mode)  # after chown, which may clear set-id bits
            if durable:
                os.fsync(f.fileno())
        if unchanged is not None:
            try:
                now = os.stat(target)
            except FileNotFoundError:
                now = None
            if now is None or not unchanged(now):
                raise WriteRefused(f"{path} changed while tunelint was writing it; not written")
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def resolve_target(path: str | os.PathLike, inside: str | os.PathLike | Iterable[str | os.PathLike] | None) -> str:
    """The file a write to `path` replaces: with `inside`, its real path, which must lie inside
    one of those folders (their real paths), else WriteRefused; without, `path` itself."""
    path = os.path.abspath(os.fspath(path))
    if inside is None:
        return path
    roots = [inside] if isinstance(inside, (str, os.PathLike)) else list(inside)
    real = os.path.realpath(path)
    for root in roots:
        r = os.path.realpath(os.fspath(root))
        if os.path.commonpath([r, real]) == r and real != r:
            return real
    where = " or ".join(os.path.realpath(os.fspath(r)) for r in roots)
    if real != path:
        raise WriteRefused(f"{path} leads to {real}, outside {where}; not written")
    raise WriteRefused(f"{path} is outside {where}; not written")


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether `path`'s real path (symlinks followed) is `root`'s real path or inside it."""
    r = os.path.realpath(os.fspath(root))
    return os.path.commonpath([r, os.path.realpath(os.fspath(path))]) == r


def _keep_owner(fd: int, st: os.stat_result) -> None:
    """The replaced file's owner and group on the new one, as far as the process may set them."""
    if (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid()):
        return
    for uid in (st.st_uid, -1):  # root can give the owner; anyone can give a group of their own
        try:
            os.fchown(fd, uid, st.st_gid)
            return
        except OSError:
            continue


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
