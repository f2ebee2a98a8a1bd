"""The options' typed model (tunelint.options): the config file, the editor and the command line
go through the same checks with the same messages, each naming the key as its source spells it."""

import dataclasses
import json
from pathlib import Path

import pytest

from tunelint.config import ConfigError, parse_config
from tunelint.linter.settings import Settings
from tunelint.options import LINT_KEYS, LintOptions, OptionsError, camel, lint_options
from tunelint.server.options import EditorOptions, editor_options

ROOT = Path(__file__).resolve().parents[1]

BAD = [
    ("profile", "anthropic", "unknown profile 'anthropic'"),
    ("tokenizer", 3, "must be a tokenizer name"),
    ("max_tokens", 0, "must be a positive integer"),
    ("max_tokens", True, "must be a positive integer"),
    ("max_tokens", "100", "must be a positive integer"),
    ("select", [1], "must be a rule code or prefix"),
    ("ignore", {"a": 1}, "must be a rule code or prefix"),
    ("severity", {"TL101": "fatal"}, "must be error, warning or info, not 'fatal'"),
    ("severity", ["TL101"], "must be a table"),
    ("max_line_bytes", -1, "must be a positive integer"),
    ("duplicate_threshold", 1.5, "must be a number in (0, 1]"),
    ("duplicate_casefold", "yes", "must be true or false"),
]


@pytest.mark.parametrize("field,value,needle", BAD)
def test_config_and_editor_refuse_a_bad_value_with_the_same_message(field, value, needle):
    with pytest.raises(OptionsError) as from_config:
        lint_options({field: value})
    with pytest.raises(OptionsError) as from_editor:
        lint_options({camel(field): value}, "camel")
    config_msg, = from_config.value.problems
    editor_msg, = from_editor.value.problems
    assert needle in config_msg and f"`{field}" in config_msg
    assert editor_msg == config_msg.replace(f"`{field}", f"`{camel(field)}")


def test_the_config_file_names_its_file_and_its_own_spelling_of_the_duplicate_options():
    with pytest.raises(ConfigError) as e:
        parse_config({"duplicates": {"threshold": 2}}, Path("/p/tunelint.toml"))
    assert "/p/tunelint.toml" in str(e.value) and "`duplicates.threshold` must be a number in (0, 1]" in str(e.value)
    with pytest.raises(ConfigError, match="unknown key 'duplicates.treshold'"):
        parse_config({"duplicates": {"treshold": 0.5}}, Path("/p/tunelint.toml"))


def test_good_values_become_the_settings_the_cli_and_the_editor_apply():
    opts = lint_options({"profile": "hf", "tokenizer": False, "max-tokens": 512, "select": "tl1, TL7",
                         "severity": {"tl202": "error"}, "duplicates": {"threshold": 0.9, "casefold": False}})
    s = dataclasses.replace(Settings(), **opts.settings_values())
    assert (s.profile, s.tokenizer, s.max_tokens, s.select) == ("hf", None, 512, ("TL1", "TL7"))
    assert s.severity == (("TL202", "error"),) and (s.duplicate_threshold, s.duplicate_casefold) == (0.9, False)
    editor = lint_options({"profile": "hf", "tokenizer": "none", "maxTokens": 512, "select": ["tl1", "TL7"],
                           "severity": {"tl202": "error"}, "duplicateThreshold": 0.9, "duplicateCasefold": False},
                          "camel")
    assert editor.settings_values() == opts.settings_values()


def test_every_linter_option_is_a_settings_field_and_every_settings_field_an_option():
    assert LINT_KEYS == {f.name for f in dataclasses.fields(Settings)}
    assert LINT_KEYS == {f.name for f in LintOptions.__attrs_attrs__}


def test_the_editor_drops_only_the_bad_key_and_says_which():
    lint, editor, problems = editor_options({"profile": "hf", "maxTokens": -1, "worstExamples": 2,
                                             "colour": "red", "max_tokens": 7})
    assert lint.profile == "hf" and lint.max_tokens == 7 and editor.worst == 2
    assert any(p.startswith("`maxTokens` must be a positive integer") for p in problems)
    assert any(p.startswith("unknown key 'colour'") for p in problems) and len(problems) == 2
    _, editor, problems = editor_options({"worstExamples": -2})
    assert editor.worst == 5 and problems == ["`worstExamples` must be an integer ≥ 0, not -2"]


def test_every_setting_the_vs_code_extension_declares_is_known_to_the_server():
    manifest = json.loads((ROOT / "editor-client" / "package.json").read_text())
    keys = {k.removeprefix("tunelint.").split(".")[0]
            for k in manifest["contributes"]["configuration"]["properties"]}
    sample = {k: None for k in keys}
    _, _, problems = editor_options(sample)
    assert problems == [] and keys <= {camel(n) for n in LINT_KEYS} | {camel(f.name) for f in
                                                                        EditorOptions.__attrs_attrs__}


def _ts_list(name: str) -> list[str]:
    import re

    text = (ROOT / "editor-client" / "src" / "settings.ts").read_text()
    body = re.search(rf"export const {name} = \[(.*?)\] as const;", text, re.S).group(1)
    return re.findall(r"'([^']+)'", body)


def test_the_extension_declares_and_forwards_every_setting_the_server_and_the_trainer_take():
    import dataclasses

    from tunelint.trainer.settings import TrainSettings

    manifest = json.loads((ROOT / "editor-client" / "package.json").read_text())
    declared = [k.removeprefix("tunelint.") for k in manifest["contributes"]["configuration"]["properties"]]
    train = {camel(f.name) for f in dataclasses.fields(TrainSettings)}
    lint = {camel(n) for n in LINT_KEYS}
    assert {k.removeprefix("train.") for k in declared if k.startswith("train.")} == train
    assert set(_ts_list("TRAIN_KEYS")) == train
    assert set(_ts_list("SERVER_KEYS")) == lint | {"worstExamples", "hardestExamples"}
    assert lint | {"worstExamples", "hardestExamples"} <= set(declared)


def test_the_extension_declares_and_forwards_every_generation_setting():
    from tunelint.options import GenerateOptions

    manifest = json.loads((ROOT / "editor-client" / "package.json").read_text())
    props = manifest["contributes"]["configuration"]["properties"]
    fields = {camel(f.name) for f in GenerateOptions.__attrs_attrs__}
    assert {k.removeprefix("tunelint.generate.") for k in props if k.startswith("tunelint.generate.")} == fields
    assert set(_ts_list("GENERATE_KEYS")) == fields
    # the editor's defaults are the server's defaults, and valid values for it
    defaults = {k.removeprefix("tunelint.generate."): v["default"] for k, v in props.items()
                if k.startswith("tunelint.generate.")}
    assert defaults == {"maxNewTokens": 128, "temperature": 0, "topP": 1}
    _, editor, problems = editor_options({"generate": defaults})
    assert problems == []


@pytest.mark.parametrize("table,needle", [
    ({"splits": {"train": 3}}, "`splits.train` must be a glob or a list of globs"),
    ({"splits": "train*"}, "`splits` must be a table"),
    ({"splits": {"tran": "t*"}}, "unknown key 'splits.tran' (known: train, validation, test)"),
    ({"exclude": [1]}, "`exclude` must be a glob or a list of globs"),
    ({"baseline": 3}, "`baseline` must be a string"),
    ({"overrides": [{"files": 3}]}, "`overrides[0].files` must be a glob or a list of globs"),
    ({"overrides": [{"files": "a*", "profil": "hf"}]},
     "overrides[0]: unknown key 'profil' (known: profile, tokenizer, max_tokens, select, ignore, severity, "
     "max_line_bytes, duplicates, languages)"),
    ({"train": {"lora_r": 0}}, "[train]: `lora_r` must be a positive integer"),
    ({"train": {"lr": 1e-4}}, "[train]: unknown key 'lr'"),
])
def test_every_key_of_the_config_file_is_checked_by_a_typed_model(table, needle):
    with pytest.raises(ConfigError) as e:
        parse_config(table, Path("/p/tunelint.toml"))
    assert needle in str(e.value) and str(e.value).startswith("/p/tunelint.toml: ")
