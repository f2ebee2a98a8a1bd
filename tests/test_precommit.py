"""The pre-commit hook, run by the real pre-commit against a temporary git repository."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_hook_blocks_a_commit_with_a_broken_jsonl_and_passes_a_good_one(tmp_path):
    # pre-commit installs hooks from a git repository: snapshot the working tree into one.
    hook_repo = tmp_path / "hook-repo"
    shutil.copytree(REPO, hook_repo, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "bench",
                                                                   "*.egg-info", "__pycache__"))
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", "-A")
    git(hook_repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "snapshot")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hook_repo, capture_output=True, text=True).stdout.strip()

    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n"
        "    hooks:\n      - id: tunelint\n        args: [--profile, hf]\n")
    good = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}\n'
    (work / "train.jsonl").write_text(good + '{"messages": [{"role": "user", "content": "Hi"},]}\n')
    (work / "notes.txt").write_text("not JSONL, not checked\n")
    git(work, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home")}
    pre_commit = [sys.executable, "-m", "pre_commit"]
    bad = subprocess.run([*pre_commit, "run", "--all-files"], cwd=work, env=env, capture_output=True, text=True,
                         timeout=900)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "train.jsonl:2:" in bad.stdout and "TL008" in bad.stdout
    (work / "train.jsonl").write_text(good)
    git(work, "add", "-A")
    ok = subprocess.run([*pre_commit, "run", "--all-files"], cwd=work, env=env, capture_output=True, text=True,
                        timeout=900)
    assert ok.returncode == 0, ok.stdout + ok.stderr
