import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REAL_DATA = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty line cache."""
    monkeypatch.setenv("TUNELINT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real datasets not present at {REAL_DATA} (they live in the project's shared/ folder)")
    return REAL_DATA


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Run the real `tunelint` CLI in a subprocess; returns CompletedProcess."""
    import subprocess

    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "tunelint", *args], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=300)
