"""Configuration: discovery, validation with clear errors, splits, per-file overrides."""

import pytest

from tunelint.config import ConfigError, load_config, split_from_name


@pytest.mark.parametrize("name,split", [
    ("train.jsonl", "train"), ("data_train_v2.jsonl", "train"), ("training.jsonl", "train"),
    ("validation.jsonl", "validation"), ("val.jsonl", "validation"), ("my-dev-set.jsonl", "validation"),
    ("chat_valid.jsonl", "validation"), ("test.jsonl", "test"), ("interval_notes.jsonl", None),
    ("latest.jsonl", None), ("contest.jsonl", None),
])
def test_split_from_file_name(name, split):
    assert split_from_name(name) == split


def test_tunelint_toml_wins_over_pyproject_and_is_found_from_a_subdirectory(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.tunelint]\nprofile = "mistral"\n')
    (tmp_path / "tunelint.toml").write_text('profile = "together"\n')
    sub = tmp_path / "data" / "deep"
    sub.mkdir(parents=True)
    cfg = load_config(start=sub)
    assert cfg.file == tmp_path / "tunelint.toml"
    assert cfg.settings_for(str(sub / "x.jsonl")).profile == "together"


def test_pyproject_without_tunelint_section_is_skipped(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(start=tmp_path).file is None


def test_overrides_splits_and_cli_precedence(tmp_path):
    (tmp_path / "tunelint.toml").write_text(
        'profile = "openai"\nmax_tokens = 100\n[splits]\nvalidation = ["holdout/*.jsonl"]\n'
        '[[overrides]]\nfiles = ["legacy/*.jsonl"]\nprofile = "hf"\nignore = ["TL6"]\n')
    cfg = load_config(start=tmp_path)
    legacy = cfg.settings_for(str(tmp_path / "legacy" / "a.jsonl"))
    assert (legacy.profile, legacy.ignore, legacy.max_tokens) == ("hf", ("TL6",), 100)
    assert cfg.settings_for(str(tmp_path / "a.jsonl")).profile == "openai"
    assert cfg.settings_for(str(tmp_path / "a.jsonl"), {"profile": "mistral", "max_tokens": None}).profile == "mistral"
    assert cfg.split_of(str(tmp_path / "holdout" / "q.jsonl")) == "validation"
    assert cfg.split_of(str(tmp_path / "train_x.jsonl")) == "train"


def test_hf_tokenizer_path_is_relative_to_the_config_file(tmp_path):
    (tmp_path / "tunelint.toml").write_text('tokenizer = "hf:models/tok"\n')
    s = load_config(start=tmp_path).settings_for(str(tmp_path / "a.jsonl"))
    assert s.tokenizer == f"hf:{tmp_path / 'models' / 'tok'}"


@pytest.mark.parametrize("text,needle", [
    ('profil = "openai"', "unknown key 'profil'"),
    ('profile = "anthropic"', "unknown profile 'anthropic'"),
    ("max_tokens = -3", "`max_tokens` must be a positive integer"),
    ('[severity]\nTL101 = "fatal"', "severity.TL101"),
    ('[splits]\ntrain = 3', "splits.train"),
    ('[[overrides]]\nprofile = "hf"', "overrides[0] needs `files`"),
    ("profile = ", "invalid TOML"),
])
def test_bad_config_names_the_file_and_the_problem(tmp_path, text, needle):
    (tmp_path / "tunelint.toml").write_text(text + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(start=tmp_path)
    assert needle in str(e.value) and "tunelint.toml" in str(e.value)
