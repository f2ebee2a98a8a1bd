"""Which tunelint a benchmark measures: the Python it runs under, where that Python imports
tunelint from, and the git commit of that checkout. The benchmarks can time a tunelint other
than the one beside them (an older checkout in its own venv, for a before/after comparison);
their headers name the one they timed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_PROBE = """
import importlib.util, json, os, sys
import tunelint
dirs = {}
for name in ("tunelint", "tunelint.linter", "tunelint.server"):
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    dirs[name] = locations[0] if locations else None
print(json.dumps({
    "root": os.path.dirname(os.path.dirname(os.path.abspath(tunelint.__file__))),
    "python_version": sys.version.split()[0],
    "dirs": dirs,
}))
"""


def python_of(cmd: list[str]) -> str:
    """The Python behind a tunelint command: `PY -m tunelint`, or the venv's `bin/tunelint`
    script (its `python` sibling, else its #! line). Falls back to this Python."""
    if len(cmd) >= 3 and cmd[1:3] == ["-m", "tunelint"]:
        return cmd[0]
    found = shutil.which(cmd[0]) if cmd else None
    if found:
        script = Path(found)
        sibling = script.with_name("python")
        if sibling.exists():
            return str(sibling)
        try:
            first = script.read_bytes()[:300].split(b"\n", 1)[0].decode()
            if first.startswith("#!") and "python" in first:
                return first[2:].split()[0]
        except (OSError, UnicodeDecodeError, IndexError):
            pass
    return sys.executable


def run_python(python: str, code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -c code` outside any checkout (from the repo root, `import tunelint` would
    find ./tunelint instead of the installed one)."""
    return subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tempfile.gettempdir(),
    )


def git_describe(root: str) -> str | None:
    try:
        rev = subprocess.run(
            ["git", "-C", root, "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev.stdout.strip() if rev.returncode == 0 and rev.stdout.strip() else None


def probe(python: str) -> dict:
    """{"root", "python_version", "dirs": {package: folder}, "describe"} of the tunelint that
    `python` imports; {} when it cannot import one."""
    try:
        r = run_python(python, _PROBE)
        info = json.loads(r.stdout) if r.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        info = {}
    if info:
        info["describe"] = git_describe(info["root"])
    return info


def source(python: str, info: dict | None = None) -> str:
    """Where the tunelint being timed comes from, and its git commit when it is a checkout."""
    info = probe(python) if info is None else info
    if not info:
        return "?"
    if info["describe"] is None:
        return f"{info['root']} (not a git checkout)"
    return f"{info['root']} @ {info['describe']}"
