"""Options as users write them, typed once and structured by one converter.

The same option reaches tunelint from several places: the config file (`[tool.tunelint]`,
snake_case, or kebab-case), the editor (`initializationOptions` and `workspace/configuration`,
camelCase) and the command line. Each is a field of an attrs/dataclass model; `structure` turns
a mapping from any of those places into the model with cattrs, so every place gets the same
checks and the same messages, naming the key as that place spells it (`max_tokens` in the
config file, `maxTokens` in the editor).

A field's type says what it accepts: the `NewType`s below carry the checks (a positive integer,
a fraction, a known profile...), and plain `str` / `int` / `float` / `bool` are strict (cattrs
would otherwise turn `3` into `"3"`). `None` means "not set here", so a later source overrides
only what it sets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal, NewType

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, override

from tunelint.linter.findings import Severity
from tunelint.linter.profiles import PROFILES

Naming = Literal["snake", "camel"]


class OptionsError(ValueError):
    """Options that do not fit their model; `problems` are one message per key, each naming it."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


# -- the types options are made of ------------------------------------------------------------

PositiveInt = NewType("PositiveInt", int)
NonNegativeInt = NewType("NonNegativeInt", int)
PositiveFloat = NewType("PositiveFloat", float)
NonNegativeFloat = NewType("NonNegativeFloat", float)
Fraction = NewType("Fraction", float)  # 0 < x <= 1
Profile = NewType("Profile", str)
Tokenizer = NewType("Tokenizer", str)  # a name, hf:<folder>, or "" for none
Codes = NewType("Codes", tuple)  # rule codes or prefixes, upper-cased
Globs = NewType("Globs", tuple)  # a glob or a list of globs
Severities = NewType("Severities", tuple)  # ((code or prefix, severity), ...)
Languages = NewType("Languages", tuple)  # ISO 639-1 codes, lower-cased


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"must be an integer, not {v!r}")
    return v


def _positive_int(v: Any, _=None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError(f"must be a positive integer, not {v!r}")
    return v


def _non_negative_int(v: Any, _=None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"must be an integer ≥ 0, not {v!r}")
    return v


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"must be a number, not {v!r}")
    return float(v)


def _positive_float(v: Any, _=None) -> float:
    if _number(v) <= 0:
        raise ValueError(f"must be a positive number, not {v!r}")
    return float(v)


def _non_negative_float(v: Any, _=None) -> float:
    if _number(v) < 0:
        raise ValueError(f"must be a number ≥ 0, not {v!r}")
    return float(v)


def _fraction(v: Any, _=None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise ValueError(f"must be a number in (0, 1], not {v!r}")
    return float(v)


def _str(v: Any, _=None) -> str:
    if not isinstance(v, str):
        raise ValueError(f"must be a string, not {v!r}")
    return v


def _bool(v: Any, _=None) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, not {v!r}")
    return v


def _profile(v: Any, _=None) -> str:
    if v not in PROFILES:
        raise ValueError(f"unknown profile {v!r} (choose {', '.join(PROFILES)})")
    return v


def _tokenizer(v: Any, _=None) -> str:
    if v is False or (isinstance(v, str) and v.strip().lower() in ("", "none")):
        return ""
    if not isinstance(v, str):
        raise ValueError("must be a tokenizer name, hf:<folder>, or false / 'none'")
    return v


def _codes(v: Any, _=None) -> tuple[str, ...]:
    if isinstance(v, str):
        v = v.split(",")
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ValueError("must be a rule code or prefix, or a list of them")
    codes = tuple(x.strip().upper() for x in v if x.strip())
    for code in codes:
        _check_code(code)
    return codes


def _check_code(code: str) -> None:
    """A code or prefix that names no rule is a typo (`select = ["NOPE"]` would check nothing)."""
    from tunelint.linter.rule import all_rules

    if not any(r.code.startswith(code) for r in all_rules()):
        raise ValueError(f"must name rules: {code!r} names none (`tunelint rules` lists the codes; a prefix "
                         "such as TL1 names a family)")


def _languages(v: Any, _=None) -> tuple[str, ...]:
    if isinstance(v, str):
        v = v.split(",")
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
        raise ValueError('must be a list of ISO 639-1 language codes, e.g. ["en", "de"]')
    from tunelint.linter.langid import check_codes

    return check_codes(tuple(x.strip().lower() for x in v if x.strip()))


def _globs(v: Any, _=None) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ValueError("must be a glob or a list of globs")


def _severities(v: Any, _=None) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, Mapping):
        raise ValueError('must be a table of CODE = "error" | "warning" | "info"')
    allowed = {s.value for s in Severity}
    for code, sev in v.items():
        if sev not in allowed:
            raise _KeyProblem(str(code), f"must be error, warning or info, not {sev!r}")
        try:
            _check_code(str(code).upper())
        except ValueError as e:
            raise _KeyProblem(str(code), str(e)) from None
    return tuple((str(c).upper(), s) for c, s in v.items())


class _KeyProblem(ValueError):
    """A problem with one key inside a table-valued option (`severity.TL101`)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


CONVERTER = cattrs.Converter(forbid_extra_keys=True)
for _type, _hook in ((int, lambda v, _: _int(v)), (float, lambda v, _: _number(v)), (str, _str), (bool, _bool),
                     (PositiveInt, _positive_int), (NonNegativeInt, _non_negative_int),
                     (PositiveFloat, _positive_float), (NonNegativeFloat, _non_negative_float),
                     (Fraction, _fraction), (Profile, _profile),
                     (Tokenizer, _tokenizer), (Codes, _codes), (Globs, _globs), (Severities, _severities),
                     (Languages, _languages)):
    CONVERTER.register_structure_hook(_type, _hook)
CONVERTER.register_structure_hook(dict, lambda v, _: _table(v))


def _nested_model(cls: type) -> Callable:
    """A model inside a model (`splits` in the config file): a table whose keys are its fields."""
    fn = make_dict_structure_fn(cls, CONVERTER, _cattrs_forbid_extra_keys=True)

    def structure_table(v: Any, _=None):
        return fn(_table(v), cls)

    return structure_table


CONVERTER.register_structure_hook_factory(attrs.has, _nested_model)


def _table(v: Any) -> dict:
    if not isinstance(v, Mapping):
        raise ValueError(f"must be a table (an object), not {v!r}")
    return dict(v)


# -- structuring ------------------------------------------------------------------------------

def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def key_name(name: str, naming: Naming) -> str:
    return camel(name) if naming == "camel" else name


def field_names(cls) -> list[str]:
    return [f.name for f in (attrs.fields(cls) if attrs.has(cls) else dataclasses.fields(cls))]


_structurers: dict[tuple[type, str], Callable] = {}


def _structurer(cls: type, naming: Naming) -> Callable:
    fn = _structurers.get((cls, naming))
    if fn is None:
        renames = {n: override(rename=key_name(n, naming)) for n in field_names(cls) if key_name(n, naming) != n}
        fn = _structurers[(cls, naming)] = make_dict_structure_fn(cls, CONVERTER, _cattrs_forbid_extra_keys=True,
                                                                  **renames)
    return fn


def structure(cls: type, data: Mapping, naming: Naming = "snake", *, display: Mapping[str, str] | None = None):
    """`data` as an instance of `cls` (an attrs class or dataclass), or OptionsError with one
    message per bad key. Snake-case data may spell keys with dashes (`max-tokens`). `display`
    maps a field name to how the user wrote its key, where that differs (`duplicates.threshold`)."""
    if not isinstance(data, Mapping):
        raise OptionsError([f"must be a table (an object), not {data!r}"])
    if naming == "snake":
        data = {str(k).replace("-", "_"): v for k, v in data.items()}
    data = {k: v for k, v in data.items() if v is not None}  # None: not set here
    try:
        return _structurer(cls, naming)(data, cls)
    except ClassValidationError as e:
        raise OptionsError(_problems(e, naming, display or {})) from None


def _problems(e: ClassValidationError, naming: Naming, display: Mapping[str, str]) -> list[str]:
    return [_message(path, sub, naming, display) for path, sub in _leaves(e, (), naming, display)]


def _leaves(e: BaseException, path: tuple[str, ...], naming: Naming, display: Mapping[str, str]):
    """(key path, problem) for each problem under `e`, the path spelt as the user wrote it
    (`splits.train`, `overrides[2]`)."""
    if isinstance(e, ForbiddenExtraKeysError):
        yield path, e
        return
    if isinstance(e, (ClassValidationError, IterableValidationError)) and e.exceptions:
        for sub in e.exceptions:
            notes = getattr(sub, "__notes__", [])
            step = next((n for n in notes if hasattr(n, "name") or hasattr(n, "index")), None)
            if step is None:
                # a Union's alternatives, or a problem of the whole: its first problem says it
                yield from _leaves(sub, path, naming, display)
                break
            if hasattr(step, "name"):
                key = display.get(step.name, key_name(step.name, naming)) if not path else key_name(step.name, naming)
                yield from _leaves(sub, (*path, key), naming, {})
            else:
                yield from _leaves(sub, (*path[:-1], f"{path[-1]}[{step.index}]") if path else (f"[{step.index}]",),
                                   naming, {})
        return
    yield path, e


def _message(path: tuple[str, ...], e: BaseException, naming: Naming, display: Mapping[str, str]) -> str:
    key = ".".join(path)
    if isinstance(e, ForbiddenExtraKeysError):
        names = field_names(e.cl) if attrs.has(e.cl) or dataclasses.is_dataclass(e.cl) else []
        # the keys as the user writes them (the config file's `duplicates` table for two fields)
        tables = {f: t for t, keys in CONFIG_TABLES.items() for f in keys.values()} if naming == "snake" else {}
        spelt = [key_name(n, naming) if path else tables.get(n, key_name(n, naming)) for n in names]
        known = ", ".join(dict.fromkeys(spelt))
        where = f"{key}." if key else ""
        return "; ".join(f"unknown key '{where}{k}' (known: {known})" for k in sorted(e.extra_fields))
    if isinstance(e, _KeyProblem):
        return f"`{key}.{e.key}` {e}"
    return f"`{key}` {e}" if str(e).startswith("must ") else f"`{key}`: {e}"


def set_values(obj) -> dict:
    """The fields of a structured model that were set (not None), by field name."""
    return {n: getattr(obj, n) for n in field_names(type(obj)) if getattr(obj, n) is not None}


# -- the linter's options ---------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class LintOptions:
    """What a user can set about linting, in the config file (also per file, in `overrides`),
    in the editor, or on the command line. Each field is a `Settings` field of the same name."""

    profile: Profile | None = None
    """Fine-tuning target whose rules and limits apply: openai (default), together, mistral, hf."""
    tokenizer: Tokenizer | None = None
    """o200k_base (default), cl100k_base, hf:<local tokenizer folder>, or false / 'none'."""
    max_tokens: PositiveInt | None = None
    """Token limit per example (default: the profile's)."""
    select: Codes | None = None
    """Rule codes or prefixes to enable (default: all, `TL`)."""
    ignore: Codes | None = None
    """Rule codes or prefixes to disable."""
    severity: Severities | None = None
    """Per-rule severity: CODE = error | warning | info."""
    max_line_bytes: PositiveInt | None = None
    """Lines longer than this many bytes are not analysed (TL014)."""
    duplicate_threshold: Fraction | None = None
    """Estimated similarity (0 < t ≤ 1) that makes two examples near duplicates."""
    duplicate_casefold: bool | None = None
    """Compare duplicates ignoring case."""
    languages: Languages | None = None
    """ISO 639-1 codes of the dataset's languages (TLC201; default: the file's dominant one)."""

    def settings_values(self) -> dict:
        """The values set here, as `Settings` takes them. A tokenizer turned off is "" (Settings
        makes it None): None would mean "not set here", and the config's tokenizer would apply."""
        return set_values(self)


# In the config file, the duplicate options are a table of their own: `duplicates.threshold`.
CONFIG_TABLES = {"duplicates": {"threshold": "duplicate_threshold", "casefold": "duplicate_casefold"}}


def lint_options(data: Mapping, naming: Naming = "snake") -> LintOptions:
    """LintOptions from a config table (naming "snake", with its `duplicates` table) or from the
    editor's settings (naming "camel")."""
    data = dict(data)
    display = {}
    if naming == "snake":
        for table, keys in CONFIG_TABLES.items():
            if table not in data:
                continue
            sub = data.pop(table)
            if not isinstance(sub, Mapping):
                raise OptionsError([f"`{table}` must be a table with keys {', '.join(keys)}"])
            unknown = sorted(set(sub) - set(keys))
            if unknown:
                raise OptionsError([f"unknown key '{table}.{unknown[0]}' (known: {', '.join(keys)})"])
            for key, field in keys.items():
                display[field] = f"{table}.{key}"
                if key in sub:
                    data[field] = sub[key]
    return structure(LintOptions, data, naming, display=display)


LINT_KEYS = frozenset(field_names(LintOptions))


# -- generation (compare) ------------------------------------------------------------------------

@attrs.frozen(kw_only=True)
class GenerateOptions:
    """How `tunelint.compare` generates: `[generate]` in the config file (snake_case) and the
    editor's `tunelint.generate` settings (camelCase: maxNewTokens, temperature, topP). Unset
    fields (None) take GENERATE_DEFAULTS; a later source overrides only what it sets."""

    max_new_tokens: PositiveInt | None = None
    """The most tokens each model generates (default 128)."""
    temperature: NonNegativeFloat | None = None
    """Sampling temperature; 0 (the default) is greedy decoding."""
    top_p: Fraction | None = None
    """Nucleus sampling's probability mass, 0 < p ≤ 1 (default 1); only with temperature > 0."""


GENERATE_DEFAULTS = {"max_new_tokens": 128, "temperature": 0.0, "top_p": 1.0}


def generate_options(data: Mapping | None, naming: Naming = "snake") -> GenerateOptions:
    """GenerateOptions from the config's `[generate]` (snake) or the editor's `generate` (camel)."""
    return structure(GenerateOptions, data or {}, naming)


def generate_settings(*sources: GenerateOptions | None) -> dict:
    """max_new_tokens, temperature and top_p: the defaults, then each source's set values in turn."""
    out = dict(GENERATE_DEFAULTS)
    for src in sources:
        if src is not None:
            out.update(set_values(src))
    return out


# -- the project's own keys in the config file ---------------------------------------------------

@attrs.frozen(kw_only=True)
class SplitGlobs:
    """`[splits]`: which files are train / validation / test (default: their names decide)."""

    train: Globs | None = None
    validation: Globs | None = None
    test: Globs | None = None


@attrs.frozen(kw_only=True)
class ProjectOptions:
    """The config file's keys beside the linter's options."""

    splits: SplitGlobs | None = None
    """Which files are train / validation / test."""
    overrides: list[dict] | None = None
    """Per-file settings: tables of `files` (globs) and linter options (`lint_options`)."""
    baseline: str | None = None
    """The baseline file (relative to the config file)."""
    exclude: Globs | None = None
    """Globs skipped when a directory is checked."""
    train: dict | None = None
    """`[train]`: training defaults, checked by the trainer's TrainSettings when a run starts."""
    generate: GenerateOptions | None = None
    """`[generate]`: how compare generates (max_new_tokens, temperature, top_p)."""


PROJECT_KEYS = frozenset(field_names(ProjectOptions))


