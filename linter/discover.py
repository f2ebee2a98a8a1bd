"""Which files a folder holds to lint: its `.jsonl` files, searched the same way by the CLI
(`tunelint check DIR`) and the language server (the workspace's split files)."""

from __future__ import annotations

import os
from collections.abc import Callable

# never datasets: tools' and environments' folders (any folder whose name starts with a dot is
# skipped too, .git, .venv and tunelint's own .tunelint among them)
SKIP_DIRS = frozenset({"venv", "node_modules", "__pycache__"})


def jsonl_files(folder: str, *, skip: Callable[[str], bool] = lambda path: False,
                limit: int | None = None, suffixes: tuple[str, ...] = (".jsonl",)) -> list[str]:
    """The `.jsonl` files (or files ending with one of `suffixes`) under `folder`, in a stable
    order (sorted by folder, then name), less those `skip` refuses; at most `limit` of them."""
    found: list[str] = []
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if name.endswith(suffixes) and not skip(path):
                found.append(path)
                if limit is not None and len(found) >= limit:
                    return found
    return found
