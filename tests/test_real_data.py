"""Datasets written by other people for real fine-tuning jobs: no false errors."""

import pytest

from tunelint.linter.engine import Linter
from tunelint.linter.settings import Settings

FILES = {
    "gsm8k_train.jsonl": "openai",
    "gsm8k_validation.jsonl": "openai",
    "stock_toolcall_train.jsonl": "openai",
    "stock_toolcall_validation.jsonl": "openai",
    "chartqa_train.jsonl": "openai",
    "chartqa_validation.jsonl": "openai",
    "orca_dpo_validation.jsonl": "openai",
    "cnn_dailymail_validation.jsonl": "openai",
    "retail_tooluse_validation.jsonl": "openai",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_dataset_has_no_errors(real_data, name):
    path = real_data / name
    with Linter(use_cache=False, jobs=1) as linter:
        report = linter.lint_paths([str(path)], lambda _: Settings(profile=FILES[name]))[0]
    errors = [f"{f.line}:{f.column} {f.code} {f.message}" for f in report.findings if f.severity.value == "error"]
    assert errors == []
    assert report.stats.examples > 0
    assert len(report.stats.tokens) == report.stats.examples


def test_sharegpt_json_array_is_recognised_and_converts(real_data, tmp_path):
    from tunelint.convert_file import convert_file

    src = real_data / "fastchat_dummy_conversation.json"
    with Linter(use_cache=False, jobs=1) as linter:
        report = linter.lint_paths([str(src)], lambda _: Settings())[0]
    assert [f.code for f in report.findings] == ["TL013"]
    assert "ShareGPT" in report.findings[0].message
    out = tmp_path / "chat.jsonl"
    n, kinds = convert_file(str(src), str(out))
    assert n == 500 and kinds == {"sharegpt": 500}
    with Linter(use_cache=False, jobs=1) as linter:
        converted = linter.lint_paths([str(out)], lambda _: Settings(profile="hf"))[0]
    assert not [f for f in converted.findings if f.severity.value == "error"]


def _leaks(reports):
    return sorted((r.path.rsplit("/", 1)[-1], f.line, f.code, f.related[0].line if f.related else None)
                  for r in reports for f in r.findings if f.code.startswith("TL9"))


def test_gsm8k_train_validation_pair_has_no_duplicates_or_leakage(real_data):
    paths = [str(real_data / "gsm8k_train.jsonl"), str(real_data / "gsm8k_validation.jsonl")]
    with Linter(use_cache=False, jobs=1) as linter:
        reports = linter.lint_paths(paths, lambda _: Settings(tokenizer=None))
    assert _leaks(reports) == []


def test_leakage_injected_into_gsm8k_is_found_exactly(real_data, tmp_path):
    import json
    import random

    train = (real_data / "gsm8k_train.jsonl").read_text(encoding="utf-8").splitlines()
    val = (real_data / "gsm8k_validation.jsonl").read_text(encoding="utf-8").splitlines()
    rnd = random.Random(0)
    picks = rnd.sample(range(len(train)), 9)
    expected = []
    for n, i in enumerate(picks):
        ex = json.loads(train[i])
        if n < 3:  # the same example, copied
            line = train[i]
            code = "TL904"
        elif n < 6:  # the same example with one word of the answer changed: a near copy
            words = ex["messages"][-1]["content"].split(" ")
            words[len(words) // 2] = "changed"
            ex["messages"][-1]["content"] = " ".join(words)
            line, code = json.dumps(ex), "TL904"
        else:  # the same question with another answer: the prompt leaks
            ex["messages"][-1]["content"] = "I do not know."
            line, code = json.dumps(ex), "TL905"
        val.append(line)
        expected.append(("validation.jsonl", len(val), code, i + 1))
    (tmp_path / "train.jsonl").write_text("\n".join(train) + "\n", encoding="utf-8")
    (tmp_path / "validation.jsonl").write_text("\n".join(val) + "\n", encoding="utf-8")
    with Linter(use_cache=False, jobs=1) as linter:
        reports = linter.lint_paths([str(tmp_path / "train.jsonl"), str(tmp_path / "validation.jsonl")],
                                    lambda _: Settings(tokenizer=None))
    assert _leaks(reports) == sorted(expected)


def test_content_rules_on_by_default_report_no_error_on_real_data(real_data):
    """The TLC rules that are on by default: no error on data written for real jobs (the
    warnings they raise there are listed, with a judgement of each, in the branch's report)."""
    from tunelint.linter.rule import all_rules

    on = {r.code for r in all_rules() if r.code.startswith("TLC") and r.default}
    assert {"TLC101", "TLC106", "TLC401", "TLC501"} <= on
    with Linter(use_cache=False, jobs=1) as linter:
        for name in sorted(FILES):
            report = linter.lint_paths([str(real_data / name)], lambda _: Settings(tokenizer=None))[0]
            errors = [f"{name}:{f.line} {f.code} {f.message}" for f in report.findings
                      if f.code in on and f.severity.value == "error"]
            assert errors == []
