"""A malformed baseline is a clear error (exit 2) that names the file and the entry, never an
internal KeyError or TypeError; a baseline that is not a regular file is never opened."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli

GOOD = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello!"}]}'
OK_ENTRY = {"path": "train.jsonl", "code": "TL104", "line_hash": "0" * 16}


def check_with(tmp_path, baseline: object | str):
    (tmp_path / "train.jsonl").write_text(GOOD + "\n", encoding="utf-8")
    b = tmp_path / "baseline.json"
    b.write_text(baseline if isinstance(baseline, str) else json.dumps(baseline), encoding="utf-8")
    return run_cli("check", "--no-cache", "--profile", "hf", "--baseline", str(b), str(tmp_path / "train.jsonl"),
                   cwd=tmp_path)


@pytest.mark.parametrize(("findings", "message"), [
    ([OK_ENTRY, {"path": "train.jsonl", "line_hash": "0" * 16}],
     "baseline entry findings[1] lacks 'code' (every entry has path, code, line_hash)"),
    ([{"path": "train.jsonl", "code": ["TL104"], "line_hash": "0" * 16}],
     "baseline entry findings[0]: 'code' must be a string, not an array"),
    ([OK_ENTRY, OK_ENTRY, {"path": "train.jsonl", "code": 104, "line_hash": "0" * 16}],
     "baseline entry findings[2]: 'code' must be a string, not a number"),
    ([{"path": {"a": 1}, "code": "TL104", "line_hash": "0" * 16}],
     "baseline entry findings[0]: 'path' must be a string, not an object"),
    ([OK_ENTRY, "TL104"], "baseline entry findings[1] must be an object with path, code, line_hash, not a string"),
    ({"train.jsonl": OK_ENTRY}, '"findings" must be an array of entries, not an object'),
    ("TL104", '"findings" must be an array of entries, not a string'),
])
def test_a_malformed_entry_is_an_error_naming_it(tmp_path, findings, message):
    r = check_with(tmp_path, {"tunelint_baseline": 1, "findings": findings})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "internal error" not in r.stderr
    assert r.stderr.strip() == f"tunelint: error: {tmp_path / 'baseline.json'}: {message}"


def test_json_nested_past_the_parsers_limit_is_not_a_baseline(tmp_path):
    r = check_with(tmp_path, "[" * 100_000)
    assert r.returncode == 2 and "internal error" not in r.stderr
    assert "not a tunelint baseline" in r.stderr


def test_a_valid_baseline_still_hides_its_finding(tmp_path):
    from tunelint.linter.engine import line_hash

    entry = {**OK_ENTRY, "line_hash": f"{line_hash(GOOD):016x}"}
    r = check_with(tmp_path, {"tunelint_baseline": 1, "findings": [entry]})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TL104" not in r.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs")
def test_a_fifo_as_the_baseline_is_refused_without_opening_it(tmp_path):
    (tmp_path / "train.jsonl").write_text(GOOD + "\n", encoding="utf-8")
    os.mkfifo(tmp_path / "baseline.json")  # opening it would block until a writer comes
    (tmp_path / "tunelint.toml").write_text('baseline = "baseline.json"\n')
    r = subprocess.run([sys.executable, "-m", "tunelint", "check", "--no-cache", "train.jsonl"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "baseline.json: the baseline is not a regular file" in r.stderr
