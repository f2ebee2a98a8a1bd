"""The `tunelint` command line."""

from __future__ import annotations

import gc
import os
import stat
import sys
import traceback
from pathlib import Path

import click

from tunelint import __version__
from tunelint.config import ConfigError, load_config
from tunelint.linter.discover import jsonl_files
from tunelint.options import OptionsError, lint_options


def expand(paths: tuple[str, ...], config) -> list[str]:
    """Files to lint: given files as they are (a missing one becomes a TL001 finding),
    directories searched for *.jsonl and *.parquet."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = jsonl_files(p, skip=config.excluded, suffixes=(".jsonl", ".parquet"))
            if not found:
                raise click.UsageError(f"no .jsonl or .parquet files under {p}")
            out += found
        else:
            out.append(p)
    return list(dict.fromkeys(os.path.normpath(p) for p in out))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tunelint")
def main() -> None:
    """Lint chat fine-tuning data (JSONL) before training, and fine-tune it."""


GC_THRESHOLD = 50_000  # allocations between collections of the youngest generation in a check
_finished_check = False  # a local `check` wrote its report and closed its files (`entry`)


def entry() -> None:
    """The `tunelint` command (and `python -m tunelint`): `main`. After a local `check` has
    written its report and closed its cache, the process ends without freeing its objects one
    by one, as mypy does (a 50,000-line file's indexes took 0.13 s to free). Any other command,
    and `main` called in-process (the tests' CliRunner), exits as usual."""
    try:
        main()
    except SystemExit as e:
        if not _finished_check or not isinstance(e.code, int):
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit reports it
            raise e from None
        os._exit(e.code)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github", "sarif"]), default="text",
              show_default=True, help="Output format.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: nearest tunelint.toml or pyproject.toml with [tool.tunelint]).")
@click.option("--profile", type=click.Choice(["openai", "together", "mistral", "hf"]),
              help="Target whose limits apply (default: openai).")
@click.option("--tokenizer", help="o200k_base (default), cl100k_base, hf:<local tokenizer folder>, or 'none'.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Token limit per example (default: the profile's).")
@click.option("--select", help="Comma-separated codes or prefixes to enable (e.g. TL1,TL701).")
@click.option("--ignore", help="Comma-separated codes or prefixes to disable.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place (atomically).")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a diff instead of writing them.")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Hide findings recorded in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False),
              help="Record the current findings as the baseline, then exit 0.")
@click.option("--stdin-filename", metavar="NAME",
              help="With `-` (read standard input): the name to report it as, and whose settings apply.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the per-line cache.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Processes for large files (default: all cores).")
@click.option("--stats/--no-stats", default=True, help="Print the dataset summary (text format).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when errors are found.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where to check: this process (local), or a Ray cluster (ray: one task per file).")
@click.option("--address", metavar="ADDRESS",
              help="With --engine ray: the cluster (auto, ray://HOST:PORT, HOST:PORT); default: a local one.")
@click.option("--dynamics", "dynamics_run", type=click.Path(file_okay=False),
              help="Also report the hardest-to-learn lines of this fine-tune's training file (TL950).")
@click.option("--dynamics-top", type=click.IntRange(min=0), default=10, show_default=True,
              help="With --dynamics: how many of the hardest-to-learn lines.")
def check(paths, fmt, config_path, profile, tokenizer, max_tokens, select, ignore, fix, unsafe_fixes, diff,
          baseline, write_baseline, stdin_filename, no_cache, jobs, stats, exit_zero, engine="local", address=None,
          dynamics_run=None, dynamics_top=10) -> None:
    """Check JSONL files (or directories of them; `-`: standard input). Exit 0: no errors; 1:
    errors; 2: usage or internal error."""
    # A check keeps most of what it allocates until it ends (each line's result, the indexes'
    # entries): collecting the young objects every 700 allocations is wasted work (0.17 of the
    # main process's 6 CPU-s on the 50k-example benchmark). mypy raises the threshold as well;
    # the workers fork with it.
    threshold = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    try:
        code = _check(paths or (".",), fmt, config_path, profile, tokenizer, max_tokens, select, ignore, fix,
                      unsafe_fixes, diff, baseline, write_baseline, no_cache, jobs, stats, stdin_filename,
                      engine, address, (dynamics_run, dynamics_top))
    except (click.UsageError, click.exceptions.Exit):
        raise
    except (ConfigError, ValueError) as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(2)
    except Exception as e:  # an internal error is exit 2 with a message, never a bare traceback
        if os.environ.get("TUNELINT_DEBUG"):
            traceback.print_exc()
        click.echo(f"tunelint: internal error: {type(e).__name__}: {e} (set TUNELINT_DEBUG=1 for the traceback)",
                   err=True)
        sys.exit(2)
    finally:
        gc.set_threshold(*threshold)  # for `main` called in-process
    global _finished_check
    _finished_check = engine == "local"  # (a Ray client shuts down at exit)
    sys.exit(0 if exit_zero else code)


def _check(paths, fmt, config_path, profile, tokenizer, max_tokens, select, ignore, fix, unsafe_fixes, diff,
           baseline, write_baseline, no_cache, jobs, stats, stdin_filename=None, engine="local",
           address=None, dynamics_of=(None, 10)) -> int:
    from tunelint.linter.cachedir import cache_is_cold
    from tunelint.linter.tokens import TokenizerUnavailable, prefetch_counter

    stdin = _stdin_name(paths, stdin_filename, fix and not diff)
    if address and engine != "ray":
        raise click.UsageError("--address names a Ray cluster: give it with --engine ray")
    if stdin and engine == "ray":
        raise click.UsageError("--engine ray checks files: standard input is checked locally")
    first = Path(stdin if stdin else paths[0])
    config = load_config(config_path, first if first.exists() else None)
    try:  # the options' typed model checks them as it checks the config file's
        cli = lint_options({"profile": profile, "tokenizer": tokenizer, "max_tokens": max_tokens,
                            "select": select or None, "ignore": ignore or None}).settings_values()
    except OptionsError as e:
        raise click.UsageError(str(e)) from None
    if cli.get("tokenizer"):
        cli["tokenizer"] = _resolve_tokenizer(cli["tokenizer"])
    files = [stdin] if stdin else expand(paths, config)
    if files and engine == "local" and (no_cache or cache_is_cold()):
        # every line will be analysed: the tokenizer is built while the linter is imported
        prefetch_counter(config.settings_for(files[0], cli).tokenizer)
    from tunelint.linter import baseline as baseline_mod
    from tunelint.linter.engine import Linter
    from tunelint.report import counts, render_github, render_json, render_sarif, render_text

    progress = None if stdin else _progress_bar(files)
    baseline = baseline or config.baseline_to_read()  # the config's, else tunelint-baseline.json at its root
    data = sys.stdin.buffer.read() if stdin else None
    try:
        with Linter(use_cache=not no_cache, jobs=jobs, progress=progress.update if progress else None,
                    line_hashes=bool(baseline or write_baseline)) as linter:
            settings_for = lambda p: config.settings_for(p, cli)  # noqa: E731

            def lint():
                if stdin:
                    return [linter.lint_bytes(data, stdin, settings_for(stdin), config.split_of(stdin))]
                if engine == "ray":  # the line cache is not used there (README: "Ray engine")
                    from tunelint.linter.ray_engine import lint_paths_ray

                    return lint_paths_ray(files, settings_for, config.split_of, address=address, jobs=jobs,
                                          line_hashes=bool(baseline or write_baseline))
                return linter.lint_paths(files, settings_for, config.split_of)

            if fix or diff:
                reports = _lint_and_fix(lint, files, unsafe_fixes, write=fix and not diff, roots=_checked_tree(paths),
                                        stdin=data)
            else:
                reports = lint()
    except TokenizerUnavailable as e:
        raise ValueError(str(e)) from None
    finally:
        if progress:
            progress.finish()
    if write_baseline:
        # the named file, or a symlink's target in the folder it is named in (a planted link
        # never redirects the write); BaselineError (a ValueError) is exit 2 with its message
        n = baseline_mod.write(reports, write_baseline, inside=os.path.dirname(os.path.abspath(write_baseline)))
        click.echo(f"Wrote {n} finding{'s' * (n != 1)} to {write_baseline}", err=True)
        return 0
    findings = [f for r in reports for f in r.findings]
    hidden = 0
    if baseline:
        try:
            findings, hidden = baseline_mod.filter_findings(reports, baseline)
        except baseline_mod.BaselineError as e:
            raise ValueError(str(e)) from None
    if dynamics_of[0] is not None:
        findings = sorted(findings + _dynamics_findings(dynamics_of, files, config, cli), key=lambda f: f.sort_key)
    if fmt == "json":
        click.echo(render_json(reports, findings, hidden))
    elif fmt == "github":
        text = render_github(findings)
        if text:
            click.echo(text)
    elif fmt == "sarif":
        click.echo(render_sarif(findings))
    elif not diff:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(render_text(reports, findings, colour=colour, show_stats=stats, hidden=hidden))
    return 1 if counts(findings)["error"] else 0


def _dynamics_findings(dynamics_of, files, config, cli) -> list:
    """--dynamics RUN: the run's hardest-to-learn lines (tunelint/run_findings.py); a note on stderr."""
    from tunelint import run_findings

    run, top = dynamics_of
    found, note = run_findings.findings(run, files, lambda p: config.settings_for(p, cli), top)
    if note:
        click.echo(f"tunelint: {note}", err=True)
    return found


def _resolve_tokenizer(spec: str) -> str:
    if spec.startswith("hf:") and not os.path.isabs(spec[3:]):
        return "hf:" + os.path.abspath(spec[3:])
    return spec


def _stdin_name(paths, stdin_filename: str | None, fix: bool) -> str | None:
    """`-` (standard input): the name it is reported as (`--stdin-filename`, else `-`); None when
    files are checked. `-` is checked alone, and --fix cannot rewrite it (--diff shows the fixes)."""
    if "-" not in paths:
        if stdin_filename:
            raise click.UsageError("--stdin-filename names standard input: give `-` as the path")
        return None
    if len(paths) > 1:
        raise click.UsageError("`-` (standard input) is checked alone: give it without other paths")
    if fix:
        raise click.UsageError("--fix cannot rewrite standard input; --diff prints the fixes")
    return stdin_filename or "-"


def _checked_tree(paths) -> list[str]:
    """The folders `--fix` may write in: each directory checked, and the folder of each file
    named. A symlinked dataset is fixed in its target when that lies inside one of them."""
    return [p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in paths]


FIX_TRIES = 3  # lint rounds when files change while they are linted, before giving up on them


def _lint_and_fix(lint, files, unsafe: bool, write: bool, roots, stdin: bytes | None = None):
    """Lint, then apply (or, not `write`, print) the fixes, each only to a file byte-identical to
    what was linted: each file's fingerprint (hash of its bytes, and its stat) is taken before the
    lint and checked on the bytes read to fix (and on the file right before the rename). A file
    that changed meanwhile is linted again, up to FIX_TRIES times, then left with a message.
    The reports of the files as they are in the end."""
    prints = {} if stdin is not None else {p: _fingerprint(p) for p in files}
    reports = lint()
    todo = None  # every file
    changed = False
    for _ in range(FIX_TRIES):
        fixed, stale = _apply_fixes(reports, unsafe, write, prints, roots, stdin, only=todo)
        changed |= fixed > 0
        if not stale:
            break
        todo = stale
        prints = {p: _fingerprint(p) for p in files}
        reports = lint()
    else:
        for p in todo:
            click.echo(f"tunelint: not fixing {p}: it changed while it was checked ({FIX_TRIES} times); "
                       "run again", err=True)
    return lint() if write and changed else reports


def _fingerprint(path: str):
    """(sha256 of the bytes, (device, inode, size, mtime, ctime)) of a regular file; None if it
    is not one or cannot be read. The ctime changes with every write, so equal fingerprints
    taken before and after a lint mean the lint read these bytes."""
    import hashlib

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.sha256()
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest(), _identity(st)


def _identity(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _apply_fixes(reports, unsafe: bool, write: bool, prints: dict, roots, stdin: bytes | None = None,
                 only=None) -> tuple[int, list[str]]:
    """Apply (or print as a diff) each report's fixes to its file: how many files changed, and
    the files that are no longer what was linted (to lint again). Written atomically, through a
    symlink to its target inside `roots`, keeping mode and owner; a read-only or hard-linked
    file, or a link that leads out, is refused with a message."""
    import hashlib

    from tunelint.linter.atomic import WriteRefused, write_atomically
    from tunelint.linter.fix import apply_to_text, diff, fixable

    changed, stale = 0, []
    for r in reports:
        if only is not None and r.path not in only:
            continue
        todo = fixable(r.findings, unsafe)
        if not todo:
            continue
        expected = prints.get(r.path)
        try:
            if stdin is not None:
                raw = stdin
            else:
                if expected is None:
                    raise OSError("not a regular file, or unreadable")
                with open(r.path, "rb") as f:
                    st = os.fstat(f.fileno())
                    raw = f.read()
                if (hashlib.sha256(raw).hexdigest(), _identity(st)) != expected:
                    stale.append(r.path)
                    continue
            before = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            click.echo(f"tunelint: not fixing {r.path}: {e}", err=True)
            continue
        after, n = apply_to_text(before, todo)
        if after == before:
            continue
        if not write:
            changed += 1
            click.echo(diff(r.path, before, after), nl=False)
            continue
        identity = expected[1]
        try:
            write_atomically(r.path, after, inside=roots, refuse_read_only=True, refuse_hard_links=True,
                             unchanged=lambda now, identity=identity: _identity(now) == identity)
        except WriteRefused as e:
            click.echo(f"tunelint: not fixing: {e}", err=True)
            continue
        except OSError as e:
            click.echo(f"tunelint: not fixing {r.path}: {e.strerror or e}", err=True)
            continue
        changed += 1
        click.echo(f"Fixed {n} finding{'s' * (n != 1)} in {r.path}", err=True)
    return changed, stale


class _Progress:
    def __init__(self, total: int):
        self.bar = click.progressbar(length=total, label="tunelint", file=sys.stderr, show_eta=True)
        self.bar.__enter__()

    def update(self, n: int) -> None:
        self.bar.update(n)

    def finish(self) -> None:
        self.bar.__exit__(None, None, None)


def _progress_bar(files: list[str]) -> _Progress | None:
    if not sys.stderr.isatty():
        return None
    total = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
    return _Progress(total) if total > 50 * 1024 * 1024 else None


def _train_import():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        import trl  # noqa: F401
    except ImportError as e:
        click.echo(f"tunelint: training needs the `train` extra ({e.name} is missing): pip install 'tunelint[train]'",
                   err=True)
        sys.exit(2)


# `tunelint train`'s options that are not training settings: what it trains on, where the run goes, how it
# runs. Every other option is a TrainSettings field (trainer/settings.py), made by _setting_options.
TRAIN_RUN_OPTIONS = ("validation", "output", "settings_path", "resume", "overwrite", "force", "events_to",
                     "config_path")


def _setting_options() -> list[click.Option]:
    """One option per training setting: `--kebab-name`, the field's type and help; booleans as
    `--x/--no-x`. Not given: None, so the config or the settings file decides."""
    import dataclasses

    from tunelint.trainer.settings import HELP, TrainSettings, flag, option_types

    kinds = option_types()
    out = []
    for f in dataclasses.fields(TrainSettings):
        kind, choices = kinds[f.name]
        name = flag(f.name)
        if kind is bool:
            shown = name[2:] if f.default else f"no-{name[2:]}"
            out.append(click.Option([f"{name}/--no-{name[2:]}", f.name], default=None,
                                    help=f"{f.metadata[HELP]}  [default: {shown}]"))
        else:
            type_ = click.Choice(choices) if choices else {int: click.INT, float: click.FLOAT, str: click.STRING}[kind]
            shown = f"  [default: {f.default}]" if f.default is not None else ""
            out.append(click.Option([name, f.name], type=type_, help=f.metadata[HELP] + shown))
    return out


class _TrainCommand(click.Command):
    """`tunelint train`, with its setting options made the first time it parses or shows its help:
    the trainer's modules are not imported when `tunelint check` starts."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        if not any(p.name == "model" for p in self.params):
            at = next(i for i, p in enumerate(self.params) if p.name == "settings_path") + 1
            self.params[at:at] = _setting_options()
        return super().get_params(ctx)


@main.command(cls=_TrainCommand)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--validation", type=click.Path(dir_okay=False),
              help="Validation file, evaluated before and after, per example.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False), help="Run folder to create.")
@click.option("--settings", "settings_path", type=click.Path(dir_okay=False),
              help="JSON file of training settings (keys as in [tool.tunelint.train]): over the config's, under "
                   "the options given here. The editor's runs are launched with one.")
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
@click.option("--force", is_flag=True, help="Train even if the linter finds errors.")
@click.option("--events", "events_to", type=click.Choice(["-"]), help="'-': also write events as JSON lines to stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: nearest tunelint.toml or pyproject.toml with [tool.tunelint]).")
def train(data, validation, output, settings_path, resume, overwrite, force, events_to, config_path, **settings):
    """Fine-tune on DATA (chat JSONL): lint, preflight, train with TRL + peft, evaluate per example.
    Exit 0: done; 1: dataset errors; 2: usage or setup problem; 130: cancelled."""
    _train_import()
    from tunelint.trainer.settings import TrainError, resolve
    from tunelint.trainer.train_recipe import train as run_train

    try:
        config = load_config(config_path, Path(data).resolve().parent)  # read once, for the settings and the lint
        resolved = resolve(config.train, settings, settings_path)
        code = run_train(data, output, resolved, config=config, validation=validation, force=force,
                         overwrite=overwrite, resume=resume, events_stdout=events_to == "-",
                         settings_file=settings_path)
    except (TrainError, ConfigError) as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(getattr(e, "code", 2))
    sys.exit(code)


@main.command("eval")
@click.argument("target")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="Chat JSONL to evaluate on.")
@click.option("--output", "-o", type=click.Path(file_okay=False),
              help="Folder for eval_results.jsonl (default: a new eval-<time> folder in the run).")
@click.option("--max-new-tokens", type=int, default=128, show_default=True)
@click.option("--events", "events_to", type=click.Choice(["-"]))
def eval_cmd(target, data, output, max_new_tokens, events_to):
    """Evaluate a run folder (its adapter or model) or any model on DATA, per example."""
    _train_import()
    from tunelint.trainer.contract import RunLayout
    from tunelint.trainer.eval_recipe import evaluate_run
    from tunelint.trainer.settings import TrainError

    try:
        out = evaluate_run(target, data, output, max_new_tokens=max_new_tokens, events_stdout=events_to == "-")
    except TrainError as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(e.code)
    click.echo(f"Wrote {RunLayout(out).eval_results}", err=True)


class _RunsGroup(click.Group):
    """`tunelint runs [DIR...]` lists; `tunelint runs compare A B` compares."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@main.group("runs", cls=_RunsGroup)
def runs_group():
    """List the runs (`tunelint runs [DIR...]`) or compare two (`tunelint runs compare A B`)."""


@runs_group.command("list")
@click.argument("dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def runs_list(dirs, fmt):
    """The runs under DIR (a run folder, or a folder of them; default: ./.tunelint/runs): date,
    model, method, status (running, completed, cancelled, failed, broken), eval loss, duration."""
    import json

    from tunelint.trainer.history import format_runs, list_runs

    missing = [d for d in dirs if not os.path.isdir(d)]
    if missing:
        raise click.UsageError(f"no such folder: {missing[0]}")
    summaries = list_runs(dirs or None, workspace=os.getcwd())
    click.echo(json.dumps(summaries, indent=1) if fmt == "json" else format_runs(summaries))


@runs_group.command("compare")
@click.argument("a", type=click.Path(file_okay=False))
@click.argument("b", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def runs_compare(a, b, fmt):
    """Two runs side by side: metrics, the settings that differ, the loss of each validation line
    (largest difference first). Refused when they were evaluated on different validation files."""
    import json

    from tunelint.trainer.history import CompareRefused, compare, format_comparison

    try:
        result = compare(a, b)
    except CompareRefused as e:
        click.echo(f"tunelint: cannot compare: {e}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, indent=1) if fmt == "json" else format_comparison(result))


@main.command("export")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder to write (refused if it exists, without --overwrite).")
@click.option("--adapter-only", is_flag=True,
              help="The LoRA adapter alone; its adapter_config.json points at the base model.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists (only once the export is complete).")
@click.option("--push-to-hub", "push_to_hub", metavar="REPO",
              help="Then upload OUTPUT to the Hugging Face hub repository REPO (OWNER/NAME).")
@click.option("--gguf", is_flag=True,
              help="Also write model.gguf (llama.cpp, Ollama) with llama.cpp's convert_hf_to_gguf.py, found "
                   "in LLAMA_CPP_DIR or on PATH; without it the export is refused and says what to install.")
def export_cmd(run, output, adapter_only, overwrite, push_to_hub, gguf):
    """Export a training run: LoRA merged into the base (or the full model) as safetensors with the
    tokenizer, chat template, generation_config.json and a model card (README.md), loadable with
    AutoModelForCausalLM.from_pretrained(OUTPUT) without peft. Written beside OUTPUT, then renamed:
    never a partial OUTPUT. Exit 2: a usage or setup problem (not a run, OUTPUT exists, hub offline)."""
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        click.echo(f"tunelint: export needs the `train` extra ({e.name} is missing): pip install 'tunelint[train]'",
                   err=True)
        sys.exit(2)
    from tunelint.trainer.export import export
    from tunelint.trainer.settings import TrainError

    try:
        export(run, output, adapter_only=adapter_only, overwrite=overwrite, push_to_hub=push_to_hub, gguf=gguf)
    except TrainError as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(e.code)


@main.command()
@click.option("--tcp", metavar="HOST:PORT", help="Listen on TCP instead of stdio (for debugging).")
@click.option("--stdio", is_flag=True,
              help="Speak LSP over stdin/stdout (the default; accepted for editors that pass it).")
def server(tcp: str | None, stdio: bool) -> None:
    """Run the language server (LSP over stdio)."""
    from tunelint.server.main import main as serve

    serve(tcp)


@main.command("serve")
@click.argument("target", metavar="RUN_OR_MODEL")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one that is not loopback needs --allow-remote.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on (refused if in use).")
@click.option("--allow-remote", is_flag=True, help="Allow a --host other machines can reach (no authentication).")
@click.option("--engine", type=click.Choice(["auto", "transformers", "vllm"]), default="auto", show_default=True,
              help="auto: vLLM with the adapter as a LoRA module when vLLM and CUDA are there, else "
                   "`transformers serve` of the merged model.")
@click.option("--ready-json", is_flag=True, hidden=True, help="Print {url, models, pid} on stdout once ready.")
def serve_cmd(target, host, port, allow_remote, engine, ready_json):
    """Serve a run's fine-tuned model (under the run's name) and its base model (under its own name)
    as an OpenAI-compatible endpoint: /v1/chat/completions (streaming too) and /v1/models. RUN_OR_MODEL
    is a run folder, a model folder or a cached hub model id. Ctrl-C stops it. Exit 2: a usage or
    setup problem (a port in use, not a run or model)."""
    _train_import()
    from tunelint.trainer.serve import serve
    from tunelint.trainer.settings import TrainError

    try:
        code = serve(target, host=host, port=port, allow_remote=allow_remote, engine=engine, ready_json=ready_json)
    except TrainError as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(e.code)
    sys.exit(code)


@main.command("rule")
@click.argument("code")
def rule_cmd(code: str) -> None:
    """Print a rule's documentation, by code (TL701) or name (too-many-tokens)."""
    from tunelint.linter.rule import get_rule

    r = get_rule(code)
    if r is None:
        raise click.UsageError(f"no rule {code!r}; `tunelint rules` lists them")
    click.echo(f"# {r.name} ({r.code})\n\nDefault severity: {r.severity.value}"
               + ("  ·  fixable" if r.fixable else "") + f"\n\n{r.doc}")


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
def rules_cmd(fmt: str) -> None:
    """List every rule: code, name, default severity, summary."""
    import json

    from tunelint.linter.rule import all_rules

    rules = all_rules()
    if fmt == "json":
        click.echo(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity.value,
                                "fixable": r.fixable, "default": r.default, "doc": r.doc} for r in rules], indent=2))
    elif fmt == "markdown":
        click.echo("| code | name | severity | fix | what it finds |\n| --- | --- | --- | --- | --- |")
        for r in rules:
            sev = r.severity.value if r.default else f"{r.severity.value}, off by default"
            click.echo(f"| {r.code} | {r.name} | {sev} | {'yes' if r.fixable else ''} | {r.summary} |")
    else:
        for r in rules:
            off = "" if r.default else " (off by default)"
            click.echo(f"{r.code}  {r.name:<32} {r.severity.value:<8} {r.summary}{off}")


@main.command("profiles")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="Output format (markdown: the README's table).")
def profiles_cmd(fmt: str) -> None:
    """Show what each profile accepts, its limits and the sources they come from."""
    from tunelint.linter.profiles import PROFILES, describe, sources_markdown

    rows = [describe(p) for p in PROFILES.values()]
    if fmt == "markdown":
        cols = [*rows[0], "sources"]
        click.echo("| " + " | ".join(cols) + " |\n|" + " --- |" * len(cols))
        for p, r in zip(PROFILES.values(), rows, strict=True):
            cells = [f"`{v}`" if k == "profile" else v for k, v in r.items()] + [sources_markdown(p)]
            click.echo("| " + " | ".join(cells) + " |")
        return
    for p, r in zip(PROFILES.values(), rows, strict=True):
        click.echo(f"{p.name}: {p.description}")
        for k, v in list(r.items())[1:]:
            click.echo(f"  {k}: {v}")
        for src in p.sources:
            click.echo(f"  source: {src.what}: {src.where}")
        click.echo()


@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
def convert(source: str, output: str, overwrite: bool) -> None:
    """Write SOURCE (ShareGPT, Alpaca or prompt/completion; JSONL or a JSON array) as chat-format
    JSONL to OUTPUT. SOURCE is never modified."""
    from tunelint.convert_file import ConvertFailed, convert_file

    if os.path.exists(output) and os.path.samefile(source, output):
        raise click.UsageError("OUTPUT must be a new file: convert never writes in place")
    if os.path.exists(output) and not overwrite:
        raise click.UsageError(f"{output} exists; pass --overwrite to replace it")
    try:
        n, kinds = convert_file(source, output)
    except ConvertFailed as e:
        click.echo(f"tunelint: error: {e}", err=True)
        sys.exit(1)
    click.echo(f"Wrote {n} chat example{'s' * (n != 1)} to {output} "
               f"(from {', '.join(f'{k}: {v}' for k, v in kinds.items())})")


if __name__ == "__main__":  # pragma: no cover
    main()
