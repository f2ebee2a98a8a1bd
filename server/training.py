"""Editor side of fine-tuning: launching runs (the commands train, evaluate, cancel and show run
of server/commands.py), work-done progress from the trainer's events, and the last run's
results (shown on the lines they concern by server/run_features.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.linter.atomic import is_inside
from tunelint.trainer.contract import (
    EXIT_CANCELLED,
    EXIT_OK,
    Eval,
    Event,
    ExampleResult,
    RunLayout,
    Step,
    latest_training_run,
    new_run_dir,
)
from tunelint.trainer.settings import Source, TrainError, TrainSettings, resolve_sources, write_settings_file

from . import dynamics
from .runs import EditorNotes, Job, Results, RunRefused, digest, latest_results, load_results, write_editor_notes
from .to_lsp import path_to_uri

if TYPE_CHECKING:
    from .main import TunelintServer
    from .project import Source

COMMAND_OPTIONS = ("force", "validation")  # tunelint.train's options that are not training settings


def train_settings(config_train: Mapping, editor: object, command: Mapping | None = None) -> TrainSettings:
    """The settings a fine-tune from the editor runs with: the config's `[tool.tunelint.train]`,
    then the editor's `tunelint.train` settings, then the command's own options (camelCase, as
    the editor's). Every key is checked against TrainSettings before anything is launched: a bad
    or unknown one is a RunRefused that names it, shown in the editor. An editor setting that is
    null or "" is not set (VS Code's way of clearing one)."""
    if editor is None:
        editor = {}
    if isinstance(editor, Mapping):
        editor = {k: v for k, v in editor.items() if v != ""}
    command = {k: v for k, v in (command or {}).items() if k not in COMMAND_OPTIONS}
    try:
        return resolve_sources(Source("[tool.tunelint.train]", config_train),
                               Source("tunelint.train settings", editor, "camel"),  # type: ignore[arg-type]
                               Source("tunelint.train command", command, "camel"))
    except TrainError as e:
        raise RunRefused(f"cannot fine-tune: {e}") from None


class Training:
    def __init__(self, ls: TunelintServer):
        self.ls = ls
        self.job: Job | None = None
        self.task: asyncio.Task | None = None
        self.results: Results | None = None
        self.dynamics: dynamics.Dynamics | None = None  # the last training run's, on its training file
        self.token_seq = 0
        self._digests: dict[str, tuple[object, int, str]] = {}  # uri → (document, version, digest of its text)

    # -- state -------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        if self.ls.project.root is None:
            raise RunRefused("open a folder (workspace) first: runs are kept in its .tunelint/runs")
        return self.ls.project.root

    def reload(self) -> None:
        if self.ls.project.root is not None:
            self.results = latest_results(self.ls.project.root)
            self.dynamics = dynamics.latest(self.ls.project.root)

    def split_files(self, split: str) -> list[str]:
        return sorted(p for p in self.ls.project.workspace_files() if self.ls.project.split_of(p) == split)

    def _inside(self, path: str) -> str:
        """`path`, absolute, if its real path (symlinks followed) is inside the workspace; else refused."""
        path = os.path.abspath(path)
        root = str(self.root)
        if not is_inside(path, root):
            real = os.path.realpath(path)
            how = f" (it leads to {real})" if real != path else ""
            raise RunRefused(f"{path} is outside the workspace {root}{how}")
        if not os.path.isfile(path):
            raise RunRefused(f"no such file: {path}")
        return path

    def _path_arg(self, args: list) -> str | None:
        from pygls.uris import to_fs_path

        value = args[0] if args else None
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise RunRefused("expected a file URI")
        return self._inside(to_fs_path(value) if value.startswith("file:") else value)

    # -- commands ----------------------------------------------------------------------------

    async def train(self, args: list) -> dict:
        opts = args[1] if len(args) > 1 and args[1] is not None else {}
        if not isinstance(opts, dict):
            raise RunRefused("tunelint.train's second argument is its options, an object ({\"validation\": "
                             f"..., \"force\": ..., settings}}), not {type(opts).__name__} {opts!r:.60}")
        if not isinstance(opts.get("force", False), bool):
            raise RunRefused(f"tunelint.train's force option is true or false, not {opts['force']!r:.60}")
        train = self._path_arg(args) or next(iter(self.split_files("train")), None)
        if train is None:
            raise RunRefused("no training file: open one, or name it in [tool.tunelint.splits]")
        validation = opts.get("validation")
        if validation is not None and not isinstance(validation, str):
            raise RunRefused(f"tunelint.train's validation option is a file path or URI, not {validation!r:.60}")
        validation = self._path_arg([validation]) if validation else next(iter(self.split_files("validation")), None)
        if validation is not None and os.path.realpath(validation) == os.path.realpath(train):
            raise RunRefused(f"the validation file is the training file ({train}): validation needs examples "
                             "the model is not trained on")
        settings = self.settings(opts)
        await self._refuse_errors([p for p in (train, validation) if p], bool(opts.get("force")))
        self._refuse_if_running()
        run = RunLayout(new_run_dir(self.root, "train"))
        run.path.mkdir(parents=True)
        write_settings_file(run.settings, settings)  # the trainer reads them: one file, every key resolved
        notes: EditorNotes = {"kind": "train", "train": train, "validation": validation,
                              "validation_digest": digest(validation) if validation else None}
        return self._launch(Job.training(train, validation, run, bool(opts.get("force"))), notes,
                            f"Fine-tuning {os.path.basename(train)}")

    async def evaluate(self, args: list) -> dict:
        data = self._path_arg(args) or next(iter(self.split_files("validation")), None)
        if data is None:
            raise RunRefused("no validation file to evaluate on")
        last = self._last_training_run()
        if last is None:
            raise RunRefused("no finished fine-tune to evaluate: run tunelint.train first")
        await self._refuse_errors([data], False)
        run = RunLayout(new_run_dir(self.root, "eval"))
        notes: EditorNotes = {"kind": "eval", "target": str(last.path), "validation": data,
                              "validation_digest": digest(data)}
        return self._launch(Job.evaluation(last, data, run), notes,
                            f"Evaluating {last.name} on {os.path.basename(data)}")

    async def cancel(self, args: list | None = None) -> dict:
        if self.job is None or not self.job.running():
            return {"cancelled": False, "message": "no run in progress"}
        await self.job.cancel()
        return {"cancelled": True, "run_dir": str(self.job.run_dir)}

    async def show_run(self, args: list) -> dict:
        res = self.results
        if res is None:
            raise RunRefused("no run yet")
        target = res.layout.plot
        uri = path_to_uri(str(target if target.is_file() else res.run_dir))
        try:
            await self.ls.window_show_document_async(types.ShowDocumentParams(uri=uri, external=not target.is_file()))
        except Exception as e:  # clients without showDocument still get the answer
            self.ls.log(f"showDocument failed: {e}", types.MessageType.Warning)
        return {"run_dir": str(res.run_dir), "summary": res.summary, "metrics": res.metrics}

    # -- launching ---------------------------------------------------------------------------

    def settings(self, command: Mapping | None = None) -> TrainSettings:
        """The training settings now (see `train_settings`); RunRefused naming a bad key."""
        return train_settings(self.ls.project.config.train, self.ls.editor_options.get("train"), command)

    def _last_training_run(self) -> RunLayout | None:
        return latest_training_run(self.root)

    async def _refuse_errors(self, paths: list[str], force: bool) -> None:
        if force:
            return
        errors = []
        for path in paths:
            src = self.ls.project.sources.get(path)
            if src is None:
                src = self.ls.project.load_from_disk(path)
            if src is None:
                continue
            await self.ls.bring_up_to_date(src)
            errors += [f for f in self.ls.project.findings(src) if f.severity.value == "error"]
        if errors:
            shown = "; ".join(f"{os.path.basename(f.path)}:{f.line} {f.code} {f.message}" for f in errors[:5])
            raise RunRefused(f"the data has {len(errors)} error(s), fix them or run with force: {shown}")

    def _refuse_if_running(self) -> None:
        if self.running():
            raise RunRefused(f"a {self.job.kind} run is already in progress ({self.job.run_dir.name}); "
                             "cancel it first (tunelint.cancel)")

    def _launch(self, job: Job, notes: EditorNotes, title: str) -> dict:
        self._refuse_if_running()
        self.job = job
        self.task = asyncio.get_running_loop().create_task(self._run(job, notes, title))
        asyncio.get_running_loop().create_task(self._refresh_lenses())  # "Fine-tune" becomes "Cancel run"
        return {"started": True, "kind": job.kind, "run_dir": str(job.run_dir)}

    async def _refresh_lenses(self) -> None:
        ws = self.ls.client_capabilities.workspace
        if ws is not None and ws.code_lens is not None and ws.code_lens.refresh_support:
            try:
                await asyncio.wait_for(self.ls.workspace_code_lens_refresh_async(None), timeout=5)
            except Exception:
                pass

    async def _run(self, job: Job, notes: EditorNotes, title: str) -> None:
        ls = self.ls
        self.token_seq += 1
        token = f"tunelint-run-{self.token_seq}"
        progress = ls.work_done_progress
        supports = self._client_supports_progress()
        if supports:
            try:
                await progress.create_async(token)
                fut = progress.tokens.get(token)
                loop = asyncio.get_running_loop()
                if fut is not None:  # the client's cancel button (window/workDoneProgress/cancel)
                    fut.add_done_callback(lambda f: f.cancelled() and loop.call_soon_threadsafe(
                        lambda: loop.create_task(self.cancel())))
            except Exception:
                supports = False
        if supports:
            progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=0,
                                                              message="starting"))

        def on_event(ev: Event) -> None:
            if not supports:
                return
            if isinstance(ev, Step):
                pct = int(100 * (ev.progress or 0))
                msg = f"step {ev.step}/{ev.total_steps}"
                if ev.loss is not None:
                    msg += f" · loss {ev.loss:.3f}"
                if ev.eta_s is not None:
                    msg += f" · ETA {int(ev.eta_s)}s"
                progress.report(token, types.WorkDoneProgressReport(message=msg, percentage=min(pct, 100)))
            elif isinstance(ev, Eval):
                what = (f"step {ev.step} · eval loss {ev.eval_loss:.3f}" if ev.phase == "during"
                        else f"eval loss {ev.phase} training {ev.eval_loss:.3f}")
                progress.report(token, types.WorkDoneProgressReport(message=what))
            elif isinstance(ev, ExampleResult):
                progress.report(token, types.WorkDoneProgressReport(message=f"evaluating line {ev.line}"))

        code = None
        try:
            code = await job.start(on_event)
        except Exception as e:
            ls.log(f"tunelint: could not start the {job.kind} run: {e}", types.MessageType.Error)
        finally:
            status = ("cancelled" if job.cancelled or code == EXIT_CANCELLED
                      else "completed" if code == EXIT_OK else "failed")
            if supports:
                progress.end(token, types.WorkDoneProgressEnd(message=f"{job.kind} {status}"))
            write_editor_notes(job.run_dir, notes)
            if status != "completed":
                tail = "\n".join(job.stderr_tail[-5:])
                ls.log(f"tunelint: {job.kind} {status} (exit {code}). {tail}",
                       types.MessageType.Warning if status == "cancelled" else types.MessageType.Error)
            res = load_results(job.run_dir)
            if res is not None:
                self.results = res
            dyn = dynamics.load(job.run_dir)
            if dyn is not None:
                self.dynamics = dyn
            await self._refresh_editor()

    def _client_supports_progress(self) -> bool:
        w = self.ls.client_capabilities.window
        return bool(w is not None and w.work_done_progress)

    async def _refresh_editor(self) -> None:
        ls = self.ls
        ws = ls.client_capabilities.workspace
        wanted = []
        if ws is not None and ws.inlay_hint is not None and ws.inlay_hint.refresh_support:
            wanted.append(("inlay hints", ls.workspace_inlay_hint_refresh_async))
        if ws is not None and ws.code_lens is not None and ws.code_lens.refresh_support:
            wanted.append(("code lenses", ls.workspace_code_lens_refresh_async))
        for name, method in wanted:
            try:
                await asyncio.wait_for(method(None), timeout=5)
            except Exception:
                ls.log(f"client did not refresh {name}", types.MessageType.Log)
        ls.relint_all()

    # -- results in the editor ---------------------------------------------------------------

    def results_for(self, src: Source) -> tuple[Results, bool] | None:
        """The last run's results if `src` is the file it evaluated, and whether they are stale."""
        res = self.results
        if res is None or not res.validation or os.path.abspath(res.validation) != os.path.abspath(src.path):
            return None
        current = self._text_digest(src) if src.doc is not None else digest(src.path)
        return res, current != res.validation_digest

    def dynamics_for(self, src: Source) -> tuple[dynamics.Dynamics, bool] | None:
        """The last training run's dynamics if `src` is the file it trained on, and whether stale."""
        dyn = self.dynamics
        if dyn is None or dyn.data != os.path.abspath(src.path):
            return None
        return dyn, dyn.stale(src)

    def _text_digest(self, src: Source) -> str:
        """The open document's digest, made once per version (hints and lenses ask on every edit)."""
        doc = src.doc
        cached = self._digests.get(doc.uri)
        if cached is None or cached[0] is not doc or cached[1] != doc.version:
            import hashlib

            text = doc.text.encode("utf-8", "surrogatepass")
            cached = self._digests[doc.uri] = (doc, doc.version, hashlib.blake2b(text, digest_size=16).hexdigest())
        return cached[2]

    def running(self) -> bool:
        return self.job is not None and self.job.running()

    def describe_settings(self) -> str:
        """What the Fine-tune lens says it will train."""
        try:
            s = self.settings()
        except RunRefused:
            return "the train settings need fixing"
        return f"{s.model}, {s.method}"

    def last_training_run_name(self) -> str | None:
        try:
            last = self._last_training_run()
        except RunRefused:
            return None
        return last.name if last is not None else None

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.kill_now()
