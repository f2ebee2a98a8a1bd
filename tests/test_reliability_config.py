"""Configuration mistakes are errors that name the file or option, and what the user sets is what
applies (issue: "Nothing written outside the workspace, no hang, no lost run", wrong answers)."""

import json
import subprocess
import sys

GOOD = json.dumps({"messages": [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}]})


def run_check(cwd, *args):
    return subprocess.run([sys.executable, "-m", "tunelint", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_tokenizer_none_on_the_command_line_turns_off_the_configs_tokenizer(tmp_path):
    (tmp_path / "tunelint.toml").write_text('tokenizer = "cl100k_base"\n')
    (tmp_path / "train.jsonl").write_text(GOOD + "\n")
    counted = json.loads(run_check(tmp_path, "train.jsonl", "--format", "json", "--no-cache").stdout)
    off = json.loads(run_check(tmp_path, "train.jsonl", "--format", "json", "--no-cache", "--tokenizer", "none").stdout)
    assert list(counted["stats"].values())[0]["tokenizer"] == "cl100k_base"
    assert list(off["stats"].values())[0]["tokenizer"] is None


def test_tokenizer_none_from_the_editor_turns_off_the_configs_tokenizer(tmp_path):
    from tunelint.server.options import editor_options
    from tunelint.server.project import Project

    (tmp_path / "tunelint.toml").write_text('tokenizer = "cl100k_base"\n')
    for value in ("none", "", False):
        lint, _, problems = editor_options({"tokenizer": value})
        project = Project(str(tmp_path), lint.settings_values())
        assert problems == [] and project.settings_for(str(tmp_path / "train.jsonl")).tokenizer is None, value
    assert Project(str(tmp_path), {}).settings_for(str(tmp_path / "train.jsonl")).tokenizer == "cl100k_base"


def test_a_code_that_names_no_rule_is_an_error_wherever_it_is_given(tmp_path):
    (tmp_path / "train.jsonl").write_text(GOOD + "\n")
    r = run_check(tmp_path, "train.jsonl", "--select", "NOPE")
    assert r.returncode == 2 and "'NOPE' names none" in r.stderr
    for text in ('select = ["NOPE"]', 'ignore = ["TL1", "XX"]', '[severity]\nTL999 = "error"'):
        (tmp_path / "tunelint.toml").write_text(text + "\n")
        r = run_check(tmp_path, "train.jsonl")
        assert r.returncode == 2 and "tunelint.toml" in r.stderr and "names none" in r.stderr, (text, r.stderr)
        assert "All checks passed" not in r.stdout


def test_a_malformed_pyproject_is_an_error_naming_the_file_and_the_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.tunelint]\nprofile = \n')
    (tmp_path / "train.jsonl").write_text(GOOD + "\n")
    r = run_check(tmp_path, "train.jsonl")
    assert r.returncode == 2 and "pyproject.toml" in r.stderr and "invalid TOML" in r.stderr and "line 4" in r.stderr
