"""Deeply nested JSON is a finding on its line (TL017), never a crash that hides the file's report."""

import json

from tests.conftest import run_cli

GOOD = '{"messages": [{"role": "user", "content": "Hi %d"}, {"role": "assistant", "content": "Hello!"}]}'


def nested(depth: int) -> str:
    """A chat example whose extra key nests arrays so that the line is `depth` levels deep."""
    inner = depth - 1  # the example object is level 1
    return GOOD[:-1] % 99 + ', "extra": ' + "[" * inner + "]" * inner + "}"


def test_deep_lines_are_findings_and_the_rest_of_the_file_is_checked(tmp_path):
    # 300 levels: orjson reads it but cannot write it again (the duplicate-key check did);
    # 100,000: orjson refuses it and the position scanner recursed without a bound
    lines = [GOOD % 1, nested(300), GOOD.replace('"assistant"', '"bot"') % 2, nested(100_000), GOOD % 3]
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run_cli("check", "--no-cache", "--no-stats", "--format", "json", str(p))
    assert r.returncode == 1, r.stderr
    assert "internal error" not in r.stderr
    found = {(f["line"], f["code"]): f for f in json.loads(r.stdout)["findings"]}
    deep = sorted(line for line, code in found if code == "TL017")
    assert deep == [2, 4]
    for line in deep:  # at the bracket that opens level 129
        f = found[(line, "TL017")]
        level2 = lines[line - 1].index('"extra": ') + len('"extra": ')
        assert f["column"] == level2 + 127 + 1, f
        assert "128 levels" in f["message"] and f["severity"] == "error"
    assert (3, "TL104") in found  # the line after a deep one is checked
    assert not [k for k in found if k[0] in (2, 4) and k[1] != "TL017"]  # nothing else on deep lines


def test_the_limit_is_inclusive(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text("\n".join([nested(128), nested(129)]) + "\n", encoding="utf-8")
    r = run_cli("check", "--no-cache", "--no-stats", "--format", "json", "--select", "TL0", str(p))
    assert "internal error" not in r.stderr
    assert [(f["line"], f["code"]) for f in json.loads(r.stdout)["findings"]] == [(2, "TL017")]


def test_a_deep_invalid_line_is_a_nesting_finding(tmp_path):
    # unbalanced: orjson fails first, then the scanner meets the depth before the error
    p = tmp_path / "train.jsonl"
    p.write_text(GOOD % 1 + "\n" + '{"a": ' + "[" * 5000 + "\n" + GOOD % 2 + "\n", encoding="utf-8")
    r = run_cli("check", "--no-cache", "--no-stats", "--format", "json", str(p))
    assert "internal error" not in r.stderr
    codes = [(f["line"], f["code"]) for f in json.loads(r.stdout)["findings"]]
    assert (2, "TL017") in codes and not [c for c in codes if c[0] != 2 and c[1].startswith("TL0")]
