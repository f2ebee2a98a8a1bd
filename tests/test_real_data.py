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
