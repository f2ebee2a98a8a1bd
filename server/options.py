"""The editor's settings (`initializationOptions` and `workspace/configuration`, section
"tunelint", camelCase): the linter's options (tunelint.options.LintOptions, checked exactly as
the config file's are) and the server's own (`EditorOptions`). A bad value is reported and
dropped, the rest applies: a typo in a setting must not stop the server (as
jedi-language-server does with its initialization options)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from tunelint.options import (
    LINT_KEYS,
    GenerateOptions,
    LintOptions,
    NonNegativeInt,
    OptionsError,
    camel,
    field_names,
    generate_options,
    lint_options,
    structure,
)

WORST_DEFAULT = 5
HARDEST_DEFAULT = 5


@attrs.frozen(kw_only=True)
class EditorOptions:
    """The server's own settings, beside the linter's."""

    worst_examples: NonNegativeInt | None = None
    """After a fine-tune, mark this many examples the model does worst on (default 5; 0: none)."""
    hardest_examples: NonNegativeInt | None = None
    """After a fine-tune, mark this many of its hardest-to-learn training lines (default 5; 0: none)."""
    train: dict | None = None
    """Defaults for fine-tunes launched from the editor (checked by the trainer's settings model
    when a run is launched: tunelint.trainer.settings)."""
    generate: dict | None = None
    """How compare generates: maxNewTokens, temperature (0: greedy), topP (tunelint.options.GenerateOptions)."""
    # read by the VS Code extension itself; accepted here so that they are not "unknown"
    path: str | None = None
    interpreter: str | None = None
    trace: dict | None = None
    server_args: list | None = None
    preview: dict | None = None  # {"openAutomatically": bool}: the Preview panel's

    @property
    def worst(self) -> int:
        return WORST_DEFAULT if self.worst_examples is None else self.worst_examples

    @property
    def hardest(self) -> int:
        return HARDEST_DEFAULT if self.hardest_examples is None else self.hardest_examples

    @property
    def generation(self) -> GenerateOptions:
        """The editor's generation settings (checked by editor_options; camelCase)."""
        return generate_options(self.generate, "camel")


_LINT = {camel(n): n for n in LINT_KEYS}
_EDITOR = {camel(n) for n in field_names(EditorOptions)}


def editor_options(options: Mapping | None) -> tuple[LintOptions, EditorOptions, list[str]]:
    """(the linter's options, the server's, problems). Keys may be camelCase (`maxTokens`, as
    VS Code sends them) or the config file's snake_case (`max_tokens`)."""
    lint: dict = {}
    editor: dict = {}
    problems: list[str] = []
    for key, value in (options or {}).items():
        name = camel(key) if "_" in key else key
        if name in _LINT:
            target, model = lint, lambda d: lint_options(d, "camel")
        elif name in _EDITOR:
            target, model = editor, lambda d: structure(EditorOptions, d, "camel")
        else:
            known = ", ".join(sorted([*_LINT, *_EDITOR]))
            problems.append(f"unknown key {key!r} (known: {known})")
            continue
        if name == "generate":
            model = _generate_model
        try:  # one key at a time: a bad one is dropped, the others apply
            model({name: value})
        except OptionsError as e:
            problems += e.problems
            continue
        target[name] = value
    return lint_options(lint, "camel"), structure(EditorOptions, editor, "camel"), problems


def _generate_model(d: dict) -> None:
    """`generate` is a table of GenerateOptions (camelCase); its problems are named `generate.<key>`."""
    structure(EditorOptions, d, "camel")
    try:
        generate_options(d["generate"], "camel")
    except OptionsError as e:
        raise OptionsError([p.replace("`", "`generate.", 1) if p.startswith("`") else
                            p.replace("unknown key '", "unknown key 'generate.", 1) for p in e.problems]) from None

