"""Where tunelint keeps derived data: `TUNELINT_CACHE_DIR`, else the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("TUNELINT_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tunelint"))
