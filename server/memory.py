"""The server's memory: a long-running process that reads a 16 MB didOpen message, then holds
line arrays and per-line results for hours, must give transient memory back to the system.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
blocks of megabytes come from the heap and are seldom returned: after a large file is opened,
the server would keep the peak of the open as its resident size. A fixed threshold keeps large
blocks (message bodies, pickled batches, numpy temporaries) in mmaps that are unmapped when
freed, and `malloc_trim` returns the heap's free pages after a large analysis. Elsewhere (musl,
macOS, Windows) these are no-ops."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("tunelint.server")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024  # glibc's starting value is 128 KiB


def _glibc():
    try:
        name = ctypes.util.find_library("c")
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if lib is None or not hasattr(lib, "mallopt") or not hasattr(lib, "malloc_trim"):
        return None
    return lib


_libc = _glibc()


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold (an explicit value also turns its dynamic raising off)."""
    if _libc is None:
        return False
    ok = bool(_libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    ok = bool(_libc.mallopt(M_TRIM_THRESHOLD, 4 * MMAP_THRESHOLD)) and ok
    log.debug("allocator tuned: %s", ok)
    return ok


def tidy_up() -> None:
    """Collect reference cycles, then return the heap's free pages to the system (after a large
    analysis: tens of MB; ~50 ms)."""
    gc.collect()
    if _libc is not None:
        _libc.malloc_trim(0)
