"""The CLI as CI and pre-commit use it: formats, exit codes, fixes, baselines, convert."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO, run_cli
from tunelint.cli import main

GOOD = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}'
BAD_ROLE = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello!"}]}'
TRAILING_COMMA = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},]}'


def write(tmp_path: Path, name: str, lines: list[str], end: str = "\n") -> Path:
    p = tmp_path / name
    p.write_text(end.join(lines) + end, encoding="utf-8")
    return p


def check(*args: str):
    return CliRunner().invoke(main, ["check", "--no-stats", "--profile", "hf", *args])


def test_clean_file_exits_zero(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD.replace("Hi", f"Hi {i}") for i in range(3)])
    r = check(str(p))
    assert r.exit_code == 0, r.output
    assert "All checks passed!" in r.output


def test_errors_exit_one_with_ruff_style_locations(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD, BAD_ROLE])
    r = check(str(p))
    assert r.exit_code == 1
    col = BAD_ROLE.index('"bot"') + 1
    assert f"{p}:2:{col}: TL104 unknown role 'bot'" in r.output


def test_warnings_only_exit_zero(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD.replace("Hello!", "Hello! ")])
    r = check(str(p))
    assert r.exit_code == 0
    assert "TL603" in r.output


def test_json_format_has_the_documented_fields(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD, BAD_ROLE])
    r = check("--format", "json", str(p))
    data = json.loads(r.output)
    f = next(x for x in data["findings"] if x["code"] == "TL104")
    assert {k: f[k] for k in ("path", "line", "code", "name", "severity")} == {
        "path": str(p), "line": 2, "code": "TL104", "name": "invalid-role", "severity": "error"}
    start = BAD_ROLE.index('"bot"')
    assert (f["column"], f["end_line"], f["end_column"]) == (start + 1, 2, start + 1 + len('"bot"'))
    assert "message" in f
    assert data["summary"]["error"] >= 1
    assert str(p) in data["stats"]


def test_github_format_annotates_lines(tmp_path):
    p = write(tmp_path, "train.jsonl", [BAD_ROLE])
    r = check("--format", "github", str(p))
    assert r.output.startswith(f"::error title=TL104 invalid-role,file={p},line=1,col=")


def test_sarif_format_is_valid_sarif(tmp_path):
    p = write(tmp_path, "train.jsonl", [BAD_ROLE])
    data = json.loads(check("--format", "sarif", str(p)).output)
    assert data["version"] == "2.1.0"
    res = data["runs"][0]["results"]
    assert any(x["ruleId"] == "TL104" and x["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
               for x in res)


def test_select_and_ignore_by_prefix(tmp_path):
    p = write(tmp_path, "train.jsonl", [BAD_ROLE, GOOD.replace("Hello!", "Hello! ")])
    codes = lambda r: {f["code"] for f in json.loads(r.output)["findings"]}  # noqa: E731
    assert codes(check("--format", "json", "--select", "TL6", str(p))) == {"TL603"}
    assert "TL104" not in codes(check("--format", "json", "--ignore", "TL1", str(p)))


def test_fix_applies_safe_fixes_atomically_and_keeps_other_lines(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD, TRAILING_COMMA, "", GOOD.replace("Hello!", "  Hello!\\n")])
    r = check("--fix", str(p))
    assert r.exit_code == 0, r.output
    lines = p.read_text().splitlines()
    assert lines == [GOOD, GOOD, GOOD.replace('"Hello!"', '"Hello!"')]
    assert not list(tmp_path.glob(".tunelint-*"))


def test_diff_previews_without_writing(tmp_path):
    p = write(tmp_path, "train.jsonl", [TRAILING_COMMA])
    before = p.read_text()
    r = check("--diff", str(p))
    assert "-" + TRAILING_COMMA in r.output and "+" + GOOD in r.output
    assert p.read_text() == before


def test_fix_keeps_crlf_unless_that_is_the_fix(tmp_path):
    p = write(tmp_path, "train.jsonl", [TRAILING_COMMA, GOOD], end="\r\n")
    check("--fix", "--select", "TL008", str(p))
    assert p.read_bytes() == (GOOD + "\r\n" + GOOD + "\r\n").encode()
    check("--fix", str(p))
    assert p.read_bytes() == (GOOD + "\n" + GOOD + "\n").encode()


def test_baseline_hides_accepted_findings_even_after_lines_move(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD, BAD_ROLE])
    base = tmp_path / "baseline.json"
    r = CliRunner().invoke(main, ["check", "--profile", "hf", "--write-baseline", str(base), str(p)])
    assert r.exit_code == 0
    write(tmp_path, "train.jsonl", [GOOD, GOOD, BAD_ROLE])
    r = check("--baseline", str(base), str(p))
    assert r.exit_code == 0, r.output
    assert "hidden by the baseline" in r.output
    write(tmp_path, "train.jsonl", [BAD_ROLE, BAD_ROLE.replace("bot", "robot")])
    r = check("--baseline", str(base), str(p))
    assert r.exit_code == 1 and "'robot'" in r.output and "'bot'" not in r.output


def test_missing_file_is_a_finding_and_missing_config_is_a_usage_error(tmp_path):
    r = check(str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 1 and "TL001 no such file" in r.output
    r = check("--config", str(tmp_path / "nope.toml"), str(tmp_path))
    assert r.exit_code == 2


def test_directory_is_searched_for_jsonl(tmp_path):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data", "train.jsonl", [BAD_ROLE])
    write(tmp_path / "data", "notes.txt", ["not checked"])
    r = check(str(tmp_path / "data"))
    assert "train.jsonl:1:" in r.output and "notes.txt" not in r.output
    (tmp_path / "empty").mkdir()
    assert check(str(tmp_path / "empty")).exit_code == 2


def test_config_file_sets_profile_and_severity(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.tunelint]\nprofile = "mistral"\n'
                                             '[tool.tunelint.severity]\nTL104 = "warning"\n')
    p = write(tmp_path, "train.jsonl", [BAD_ROLE, '{"messages": [{"role": "user", "content": "Hi"}]}'])
    r = CliRunner().invoke(main, ["check", "--no-stats", "--format", "json", str(p)])
    sev = {f["code"]: f["severity"] for f in json.loads(r.output)["findings"]}
    assert sev["TL104"] == "warning"
    assert sev["TL201"] == "error"


def test_bad_config_is_exit_two_naming_the_key(tmp_path):
    (tmp_path / "tunelint.toml").write_text('profil = "openai"\n')
    p = write(tmp_path, "train.jsonl", [GOOD])
    r = CliRunner().invoke(main, ["check", str(p)])
    assert r.exit_code == 2
    assert "unknown key 'profil'" in r.output


def test_rule_prints_documentation_and_rules_lists_all():
    r = CliRunner().invoke(main, ["rule", "TL011"])
    assert r.exit_code == 0 and "duplicate-key" in r.output and "Why is this bad?" in r.output
    assert CliRunner().invoke(main, ["rule", "duplicate-key"]).output == r.output
    assert CliRunner().invoke(main, ["rule", "TL999"]).exit_code == 2
    listing = CliRunner().invoke(main, ["rules"]).output
    assert "TL701" in listing and "too-many-tokens" in listing


def test_convert_sharegpt_array_to_chat_never_in_place(tmp_path):
    src = tmp_path / "sharegpt.json"
    src.write_text(json.dumps([{"conversations": [{"from": "human", "value": "Hi"},
                                                  {"from": "gpt", "value": "Hello"}]}]))
    out = tmp_path / "chat.jsonl"
    r = CliRunner().invoke(main, ["convert", str(src), str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text()) == {"messages": [{"role": "user", "content": "Hi"},
                                                        {"role": "assistant", "content": "Hello"}]}
    assert CliRunner().invoke(main, ["convert", str(src), str(src)]).exit_code == 2
    assert CliRunner().invoke(main, ["convert", str(src), str(out)]).exit_code == 2  # exists
    assert CliRunner().invoke(main, ["convert", str(src), str(out), "--overwrite"]).exit_code == 0


def test_convert_refuses_broken_input_and_writes_nothing(tmp_path):
    src = write(tmp_path, "alpaca.jsonl",
                ['{"instruction": "Add", "input": "1+1", "output": "2"}', '{"instruction": "x",'])
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["convert", str(src), str(out)])
    assert r.exit_code == 1 and ":2: invalid JSON" in r.output
    assert not out.exists()


def test_python_dash_m_and_usage_error_exit_codes(tmp_path):
    p = write(tmp_path, "train.jsonl", [GOOD])
    assert run_cli("check", "--profile", "hf", str(p)).returncode == 0
    assert run_cli("check", "--format", "yaml", str(p)).returncode == 2


def test_example_dataset_shows_its_faults():
    r = CliRunner().invoke(main, ["check", "--no-stats", "--format", "json", str(REPO / "examples")])
    codes = {f["code"] for f in json.loads(r.output)["findings"]}
    assert r.exit_code == 1
    assert {"TL008", "TL010", "TL011", "TL104", "TL201", "TL303", "TL304", "TL305", "TL601", "TL603"} <= codes


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tokenizer_none_skips_token_rules(tmp_path, fmt):
    p = write(tmp_path, "train.jsonl", [GOOD])
    r = check("--tokenizer", "none", "--format", fmt, str(p))
    assert r.exit_code == 0


def test_hf_tokenizer_counts_through_the_cli_and_template_edits_invalidate_the_cache(tmp_path):
    from tests.hf_fixtures import CHATML, build_tokenizer

    folder = build_tokenizer(tmp_path / "tok")
    p = write(tmp_path, "train.jsonl", [GOOD] * 2)
    args = ["check", "--no-stats", "--format", "json", "--profile", "hf", "--tokenizer", f"hf:{folder}", str(p)]
    first = json.loads(CliRunner().invoke(main, args).output)["stats"][str(p)]
    assert first["tokenizer"] == f"hf:{folder}"
    assert first["tokens_per_example"]["min"] > 0
    # a different template (one more line per turn) must change the count, not hit the cache
    build_tokenizer(folder, CHATML.replace("<|im_start|>", "<|im_start|>\n"))
    second = json.loads(CliRunner().invoke(main, args).output)["stats"][str(p)]
    assert second["tokens_per_example"]["min"] > first["tokens_per_example"]["min"]


def test_the_command_ends_a_check_at_once_with_its_whole_report_and_its_exit_code(tmp_path):
    """`entry` ends the process after a local check without freeing its objects: the report is
    written out whole (here 3,000 findings, past any pipe buffer) and the exit code kept; a
    usage error and another command exit as usual."""
    p = write(tmp_path, "train.jsonl", [BAD_ROLE] * 3000)
    r = run_cli("check", "--no-cache", "--profile", "hf", "--format", "json", str(p))
    assert r.returncode == 1
    assert len(json.loads(r.stdout)["findings"]) >= 3000
    assert run_cli("check", "--exit-zero", "--profile", "hf", str(p)).returncode == 0
    assert run_cli("rules").returncode == 0
