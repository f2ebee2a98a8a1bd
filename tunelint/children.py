"""What a child process does before exec, shared by the language server (trainer, model server,
generation worker) and `tunelint serve` (its engine). Imports nothing heavy."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """In the child, before exec: on Linux, SIGTERM when the parent dies, even by SIGKILL (a
    trainer then saves a checkpoint and stops). Elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass
