"""Configuration: `[tool.tunelint]` in pyproject.toml, or tunelint.toml, found by walking up from
the linted files. One place for the CLI, the language server and the trainer."""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from tunelint.linter.engine import split_from_name
from tunelint.linter.settings import Settings
from tunelint.options import (
    CONFIG_TABLES,
    CONVERTER,
    LINT_KEYS,
    PROJECT_KEYS,
    GenerateOptions,
    Globs,
    OptionsError,
    ProjectOptions,
    SplitGlobs,
    lint_options,
    structure,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# the linter's options as the config file spells them (tunelint.options.LintOptions, with the
# duplicate options in a `duplicates` table); the rest is the project's layout and training
SETTING_KEYS = (LINT_KEYS - {f for table in CONFIG_TABLES.values() for f in table.values()}) | set(CONFIG_TABLES)
TOP_KEYS = SETTING_KEYS | PROJECT_KEYS
SPLITS = ("train", "validation", "test")
DEFAULT_BASELINE = "tunelint-baseline.json"  # at the project's root, when the config names none


class ConfigError(ValueError):
    """A configuration problem; the message names the file and the key."""


@dataclass
class Config:
    file: Path | None = None
    root: Path = field(default_factory=Path.cwd)
    base: dict = field(default_factory=dict)
    overrides: list[tuple[list[str], dict]] = field(default_factory=list)
    splits: dict[str, list[str]] = field(default_factory=dict)
    baseline: str | None = None  # the config's `baseline` (absolute); see baseline_path
    exclude: list[str] = field(default_factory=list)
    train: dict = field(default_factory=dict)
    generate: GenerateOptions = field(default_factory=GenerateOptions)  # `[generate]`: compare's settings

    def settings_for(self, path: str, cli: dict | None = None) -> Settings:
        values = dict(self.base)
        rel = self._rel(path)
        for globs, extra in self.overrides:
            if _matches(rel, globs):
                values.update(extra)
        values.update({k: v for k, v in (cli or {}).items() if v is not None})
        return _settings(values, self.file)

    @property
    def baseline_path(self) -> str:
        """The project's baseline file, the one place both its writers ("add to baseline" in the
        editor) and its readers (`tunelint check`, the server) use: the config's `baseline`, else
        DEFAULT_BASELINE at the project's root (the config file's folder)."""
        return self.baseline or str(self.root / DEFAULT_BASELINE)

    def baseline_to_read(self) -> str | None:
        """The baseline that applies: the config's `baseline` (missing: an error when read), else
        the default one when it exists."""
        if self.baseline:
            return self.baseline
        default = self.baseline_path
        return default if os.path.isfile(default) else None

    def split_of(self, path: str) -> str | None:
        """train / validation / test from the config's globs, else from the file name."""
        rel = self._rel(path)
        for split in SPLITS:
            if _matches(rel, self.splits.get(split, [])):
                return split
        return split_from_name(path)

    def excluded(self, path: str) -> bool:
        return _matches(self._rel(path), self.exclude)

    def _rel(self, path: str) -> str:
        try:
            return Path(os.path.abspath(path)).relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return Path(path).as_posix()


def _matches(rel: str, globs: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)


def find_config_file(start: Path) -> Path | None:
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for d in [start, *start.parents]:
        t = d / "tunelint.toml"
        if t.is_file():
            return t
        p = d / "pyproject.toml"
        if p.is_file():
            try:
                if "tunelint" in tomllib.loads(p.read_text(encoding="utf-8")).get("tool", {}):
                    return p
            except tomllib.TOMLDecodeError as e:
                # it may hold [tool.tunelint]: silently linting with the defaults would hide that
                raise ConfigError(f"{p}: invalid TOML: {e}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise ConfigError(f"{p}: cannot read: {e}") from None
    return None


def load_config(explicit: str | None = None, start: Path | None = None) -> Config:
    """The config from `explicit`, else the nearest tunelint.toml / pyproject.toml with
    [tool.tunelint] above `start` (default: the working directory); defaults if none."""
    file = Path(explicit) if explicit else find_config_file(start or Path.cwd())
    if file is None:
        return Config(root=(start or Path.cwd()).resolve() if (start or Path.cwd()).is_dir() else Path.cwd())
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: invalid TOML: {e}") from None
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("tunelint", {})
    elif "tool" in data and "tunelint" in data["tool"]:
        data = data["tool"]["tunelint"]
    return parse_config(data, file)


def parse_config(data: dict, file: Path | None) -> Config:
    """The config from a `[tool.tunelint]` table. Each key is checked by its typed model
    (tunelint.options: LintOptions for the linter's, ProjectOptions for the rest, the trainer's
    TrainSettings for `[train]`); a ConfigError names the file and the key."""
    where = str(file) if file else "configuration"
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    cfg = Config(file=file, root=file.parent.resolve() if file else Path.cwd())
    cfg.base = _setting_values({k: v for k, v in data.items() if k in SETTING_KEYS}, where, cfg.root)
    try:
        project = structure(ProjectOptions, {k: v for k, v in data.items() if k in PROJECT_KEYS})
    except OptionsError as e:
        raise ConfigError(f"{where}: {e}") from None
    splits = project.splits or SplitGlobs()
    cfg.splits = {k: list(getattr(splits, k)) for k in SPLITS if getattr(splits, k) is not None}
    for i, ov in enumerate(project.overrides or []):
        ov = {k.replace("-", "_"): v for k, v in ov.items()}
        if "files" not in ov:
            raise ConfigError(f"{where}: overrides[{i}] needs `files` (a list of globs)")
        files = ov.pop("files")
        try:
            globs = list(CONVERTER.structure(files, Globs))
        except ValueError as e:
            raise ConfigError(f"{where}: `overrides[{i}].files` {e}") from None
        cfg.overrides.append((globs, _setting_values(ov, f"{where}: overrides[{i}]", cfg.root)))
    if project.baseline is not None:
        cfg.baseline = str(cfg.root / project.baseline)
    cfg.exclude = list(project.exclude or ())
    cfg.train = dict(project.train or {})
    cfg.generate = project.generate or GenerateOptions()
    if cfg.train:
        _check_train(cfg.train, where)
    return cfg


def _check_train(train: dict, where: str) -> None:
    """`[train]`'s keys and types, now (a typo is an error of the config file, as any other);
    what spans keys (epochs or max_steps) is checked when a run merges every source."""
    from tunelint.trainer.settings import TrainSettings  # torch-free

    try:
        structure(TrainSettings, train)
    except OptionsError as e:
        raise ConfigError(f"{where}: [train]: {e}") from None


def _setting_values(d: dict, where: str, root: Path) -> dict:
    """The linter's options of a config table (top level or an override), checked by their
    typed model (tunelint.options), as Settings values."""
    try:
        values = lint_options(d).settings_values()
    except OptionsError as e:
        raise ConfigError(f"{where}: {e}") from None
    tok = values.get("tokenizer")
    if tok and tok.startswith("hf:") and not os.path.isabs(tok[3:]):
        values["tokenizer"] = "hf:" + str(root / tok[3:])  # relative to the config file, like every path in it
    return values


def _settings(values: dict, file: Path | None) -> Settings:
    try:
        return replace(Settings(), **values)
    except ValueError as e:
        raise ConfigError(f"{file or 'configuration'}: {e}") from None
