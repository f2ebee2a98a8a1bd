"""The training settings model (trainer/settings.py TrainSettings): one list of keys for the
config, the settings file, the editor and the command line; bad values are refused naming the key
as its source spells it; the CLI's options are the fields."""

import dataclasses
import json
from pathlib import Path

import click
import pytest

from tunelint.cli import TRAIN_RUN_OPTIONS, main
from tunelint.server.runs import RunRefused
from tunelint.server.training import train_settings
from tunelint.trainer.settings import (
    FIELDS,
    HELP,
    Source,
    TrainError,
    TrainSettings,
    resolve,
    resolve_sources,
    write_settings_file,
)

REPO = Path(__file__).resolve().parents[2]


def train_options() -> dict[str, click.Parameter]:
    cmd = main.commands["train"]
    return {p.name: p for p in cmd.get_params(click.Context(cmd)) if p.expose_value and p.name != "data"}


def test_every_setting_has_an_option_and_every_option_is_a_setting_or_listed():
    options = train_options()
    settings = set(options) - set(TRAIN_RUN_OPTIONS)
    assert settings == set(FIELDS), (sorted(set(FIELDS) - settings), sorted(settings - set(FIELDS)))
    assert set(TRAIN_RUN_OPTIONS) <= set(options)
    for name in FIELDS:
        opt = options[name]
        assert f"--{name.replace('_', '-')}" in opt.opts
        assert opt.help and opt.help.startswith(dataclasses.fields(TrainSettings)[FIELDS.index(name)].metadata[HELP])
    assert options["packing"].secondary_opts == ["--no-packing"]
    assert options["gradient_checkpointing"].secondary_opts == ["--no-gradient-checkpointing"]
    assert list(options["method"].type.choices) == ["lora", "full", "qlora"]
    cmd = main.commands["train"]
    given = cmd.make_context("train", ["data.jsonl", "-o", "run"]).params
    assert all(given[name] is None for name in FIELDS)  # not given: the config or the settings file decides
    given = cmd.make_context("train", ["data.jsonl", "-o", "run", "--no-packing", "--lora-r", "4"]).params
    assert given["packing"] is False and given["lora_r"] == 4


def test_every_setting_is_documented():
    for f in dataclasses.fields(TrainSettings):
        assert f.metadata.get(HELP), f.name


def test_the_editors_train_settings_are_fields():
    props = json.loads((REPO / "editor-client" / "package.json").read_text())["contributes"]["configuration"]
    keys = [k.removeprefix("tunelint.train.") for k in props["properties"] if k.startswith("tunelint.train.")]
    camel = {f.split("_")[0] + "".join(w.title() for w in f.split("_")[1:]) for f in FIELDS}
    assert keys and set(keys) <= camel


def test_later_sources_override_earlier_ones_and_none_is_not_set(tmp_path):
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"max_length": 256, "batch_size": 2, "seed": 7}))
    s = resolve({"max_length": 128, "lora-r": 8, "model": "m"}, {"batch_size": 16, "seed": None}, file)
    assert (s.max_length, s.batch_size, s.seed, s.lora_r, s.model) == (256, 16, 7, 8, "m")
    assert resolve({}, {}) == TrainSettings()


def test_a_settings_file_holds_every_setting_and_gives_them_back(tmp_path):
    s = TrainSettings(model="m", method="full", learning_rate=1e-4, packing=True, lora_alpha=8)
    write_settings_file(tmp_path / "s.json", s)
    assert set(json.loads((tmp_path / "s.json").read_text())) == set(FIELDS)
    assert resolve({}, {}, tmp_path / "s.json") == s


@pytest.mark.parametrize(("config", "cli", "message"), [
    ({"max_length": 0}, {}, "[tool.tunelint.train]: `max_length` must be a positive integer, not 0"),
    ({"lora_r": "8"}, {}, "[tool.tunelint.train]: `lora_r` must be a positive integer, not '8'"),
    ({"learning_rate": -1}, {}, "`learning_rate` must be a positive number"),
    ({"packing": "yes"}, {}, "`packing` must be true or false"),
    ({"epochs": 1, "bogus": 1}, {}, "unknown key 'bogus'"),
    ({}, {"batch_size": 0}, "command line: `--batch-size` must be a positive integer, not 0"),
    ({"method": "dora"}, {}, "[tool.tunelint.train]: `method` must be lora, full or qlora, not 'dora'"),
    ({}, {"epochs": 0.0}, "give a positive --epochs or --max-steps"),
])
def test_a_bad_value_is_refused_naming_the_key_as_its_source_spells_it(config, cli, message):
    with pytest.raises(TrainError, match=None) as e:
        resolve(config, cli)
    assert message in str(e.value)
    assert e.value.code == 2


def test_a_settings_file_that_is_not_settings_is_refused(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text("[1]")
    with pytest.raises(TrainError, match="one JSON object"):
        resolve({}, {}, bad)
    with pytest.raises(TrainError, match="cannot read"):
        resolve({}, {}, tmp_path / "missing.json")
    bad.write_text('{"maxLength": 10}')  # a file is keyed as the config is
    with pytest.raises(TrainError, match="unknown key 'maxLength'"):
        resolve({}, {}, bad)


def test_the_editor_speaks_camel_case_and_every_key_reaches_the_settings():
    s = train_settings({"max_length": 64}, {"loraR": 4, "loraAlpha": 8, "gradAccum": 2, "evalMaxNewTokens": 5,
                                            "model": "", "maxSteps": None}, {"batchSize": 2, "force": True})
    got = (s.max_length, s.lora_r, s.lora_alpha, s.grad_accum, s.eval_max_new_tokens, s.batch_size)
    assert got == (64, 4, 8, 2, 5, 2)
    assert s.model == "tiny" and s.max_steps == -1  # "" and null: not set


@pytest.mark.parametrize(("editor", "command", "message"), [
    ({"loraR": 0}, {}, "tunelint.train settings: `loraR` must be a positive integer, not 0"),
    ({"lora_r": 4}, {}, "unknown key 'lora_r'"),
    ({}, {"maxLength": "long"}, "tunelint.train command: `maxLength` must be a positive integer"),
    ({"method": "dora"}, {}, "tunelint.train settings: `method` must be lora, full or qlora"),
    ({"epochs": 0, "maxSteps": -1}, {}, "give a positive `epochs` or `maxSteps`"),
    ("fast", {}, "must be a table"),
])
def test_the_server_refuses_bad_editor_settings_before_launching(editor, command, message):
    with pytest.raises(RunRefused) as e:
        train_settings({}, editor, command)
    assert message in str(e.value)


def test_a_bad_config_value_is_refused_by_the_server_too():
    with pytest.raises(RunRefused, match=r"\[tool.tunelint.train\]: `batch_size` must be a positive integer"):
        train_settings({"batch_size": 0}, None)


def test_sources_are_named_in_messages():
    with pytest.raises(TrainError, match="^here: `seed` must be an integer ≥ 0"):
        resolve_sources(Source("here", {"seed": -1}))
