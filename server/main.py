"""The language server: the only place with pygls registrations. Each handler turns an LSP
event into calls on the Project (server/project.py) and features (server/features.py)."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import os
import stat
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cattrs import transform_error
from cattrs.errors import ClassValidationError
from cattrs.v import format_exception
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from tunelint import __version__
from tunelint.linter.findings import Finding
from tunelint.linter.settings import Settings

from . import commands, compare, dynamics, edit_text, features, preview, run_features
from .documents import Document
from .indexing import Indexing
from .memory import tidy_up, tune_allocator
from .options import EditorOptions, editor_options
from .project import LARGE_BATCH, Project, Source, compute
from .publish import DiagnosticCache, publish, widen_pipe
from .pull import ResultIds, previous_ids
from .reading import use_orjson
from .runs import RunRefused
from .serving import Serving
from .to_lsp import diagnostic, path_to_uri
from .training import Training

log = logging.getLogger("tunelint.server")

# No debounce: an edit is analysed at once, and the edits that arrive while a round runs are
# coalesced into the next round (`schedule`); a delay would only add to every result.
DEBOUNCE_S = 0.0
CONFIG_FILES = ("tunelint.toml", "pyproject.toml")


class CommandRefused(JsonRpcInvalidParams):
    """A command refused with a reason the user was shown (a run already going, a bad path)."""


@dataclass
class Unreadable:
    """A message whose params do not fit the LSP types (a negative position, a missing field):
    pygls would drop it without a word; it is answered (a request) or refused loudly instead."""

    jsonrpc: str
    method: str
    id: int | str | None
    params: object
    reason: str


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(cause, ClassValidationError):  # e.g. "Position.line should be in range [0:2147483647],
        # but was -1. @ params.position"
        def why(e: BaseException, _type) -> str:
            if isinstance(e, KeyError):
                return "required field missing"
            return str(e) if isinstance(e, ValueError) and str(e) else format_exception(e, _type)

        return "; ".join(m.replace("@ .", "@ ") for m in transform_error(cause, path="", format_exception=why))
    return str(cause or exc) or type(exc).__name__


class TunelintProtocol(LanguageServerProtocol):
    """pygls' protocol, minus its own document store: pygls rewrites a document's whole text on
    every change; tunelint keeps documents as line arrays (server/documents.py). And the LSP
    life cycle as the spec has it: every request is answered, -32002 before `initialize`,
    InvalidRequest after `shutdown`, InvalidParams for params that do not fit; `exit` without
    `shutdown` exits 1."""

    initialized = False
    exit_code: int | None = None

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not isinstance(data, dict) or not isinstance(data.get("method"), str) or "jsonrpc" not in data:
                raise
            return Unreadable(data["jsonrpc"], data["method"], data.get("id"), data.get("params"), _reason(exc))

    def _refuse(self, msg_id, code: int, message: str) -> None:
        self._send_response(msg_id, error=types.ResponseError(code=code, message=message))

    def handle_message(self, message):
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        request = method is not None and msg_id is not None
        if method is None or method == types.EXIT or getattr(message, "jsonrpc", None) != self.VERSION:
            return super().handle_message(message)  # responses, exit, and what pygls ignores
        if self._shutdown:
            if request:
                self._refuse(msg_id, types.ErrorCodes.InvalidRequest, f"{method}: the server is shut down")
            return
        if not self.initialized and method != types.INITIALIZE:
            if request:  # notifications before initialize are dropped (LSP)
                self._refuse(msg_id, types.ErrorCodes.ServerNotInitialized,
                             f"{method}: the server is not initialized (send initialize first)")
            return
        if self.initialized and method == types.INITIALIZE:
            if request:
                self._refuse(msg_id, types.ErrorCodes.InvalidRequest, "initialize: already initialized")
            return
        if isinstance(message, Unreadable):
            log.warning("%s: invalid params: %s", method, message.reason)
            if request:
                self._refuse(msg_id, types.ErrorCodes.InvalidParams, f"{method}: invalid params: {message.reason}")
            else:
                self._server.refused_notification(message)
            return
        token = compare.REQUEST_ID.set(msg_id) if request else None  # the request's tasks inherit it
        try:
            return super().handle_message(message)
        finally:
            if token is not None:
                compare.REQUEST_ID.reset(token)

    def _handle_cancel_notification(self, msg_id):
        """$/cancelRequest also stops a long command's own task (compare: pygls cancels only the
        request's future, not the command running inside it)."""
        task = compare.CANCELLABLE.pop(msg_id, None)
        if task is not None:
            task.cancel()
        return super()._handle_cancel_notification(msg_id)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args):
        self.exit_code = 0 if self._shutdown else 1  # pygls' own code is lost in its SystemExit
        return (yield from super().lsp_exit(*args))

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        self.initialized = True
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None  # UTF-16, the LSP default
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


class TunelintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("tunelint", __version__, protocol_cls=TunelintProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.project = Project(None)
        self.docs: dict[str, Source] = {}  # uri → source
        self.published: dict[str, tuple[int, list[Finding]]] = {}  # uri → (version, findings)
        self.pull = False
        self.tasks: dict[str, asyncio.Task] = {}
        self.again: set[str] = set()  # uris edited while their round runs: one more round
        self.init_options: dict = {}
        self.ready: asyncio.Event | None = None  # set once settings and the workspace's files are loaded
        # CPU work runs on one thread of our own, never on pygls' reader pool; its Linter (and
        # so its SQLite cache connection) lives on that thread only.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tunelint-analysis")
        self._local = threading.local()
        self.training = Training(self)
        self.serving = Serving(self)
        self.comparing = compare.Compare(self)
        self.editor_options: dict = {}  # as the editor sent them
        self.editor = EditorOptions()  # the server's own, checked
        self.warmed: set[Settings] = set()
        self.untidy = False
        self.failures: dict[str, str] = {}  # path → why its analysis failed (shown on its line 1)
        self.reported: set[str] = set()  # what is already in the log, once: internal errors, config problems
        self.indexing = Indexing(self)  # the workspace's large split files, in the background
        self.lsp_cache = DiagnosticCache(lambda d: self.protocol._converter.unstructure(d))
        self.result_ids = ResultIds()  # pull diagnostics: "unchanged" when they are

    def stop_children(self) -> None:
        """No trainer, model server or generation worker outlives the server."""
        self.training.shutdown()
        self.serving.shutdown()
        self.comparing.shutdown()

    def client_declares(self, name: str) -> bool:
        """Whether the client declared the experimental capability `name` (what the VS Code
        extension shows itself: editor-client/src/capabilities.ts)."""
        exp = self.client_capabilities.experimental
        return isinstance(exp, dict) and bool(exp.get(name))

    def diagnostics_for(self, src: Source, findings: list[Finding]) -> list[types.Diagnostic]:
        if src.doc is not None and src.doc.lost is not None:
            return [_line_one(f"tunelint lost track of this document's text: {src.doc.lost}; "
                              "close and reopen it to check it again")]
        failed = self.failures.get(src.path)
        marker = self.indexing.marker(src.doc.uri, src)
        return ([_line_one(f"tunelint could not check this file: {failed}")] if failed else []) + (
            [marker] if marker else []) + self.lsp_cache.diagnostics(src.doc.uri, src.doc, findings) + \
            run_features.diagnostics(self.training.results_for(src), src, self.editor.worst) + \
            dynamics.diagnostics(self.training.dynamics_for(src), src, self.editor.hardest)

    def refused_notification(self, message) -> None:
        """A notification whose params do not fit the LSP types: nothing can answer it, so it is
        refused loudly. A change that cannot be applied leaves the document out of sync with the
        editor: it is shown as such (one diagnostic) until the editor sends its whole text."""
        params = message.params if isinstance(message.params, dict) else {}
        td = params.get("textDocument")
        uri = td.get("uri") if isinstance(td, dict) else None
        src = self.docs.get(uri) if isinstance(uri, str) else None
        if message.method == types.TEXT_DOCUMENT_DID_CHANGE and src is not None:
            if isinstance(td.get("version"), int):
                src.doc.version = td["version"]
            self.lose_sync(src, f"the editor sent a change tunelint cannot apply ({message.reason})")
            return
        self.log(f"tunelint: ignored {message.method}: invalid params: {message.reason}", types.MessageType.Error)

    def lose_sync(self, src: Source, why: str) -> None:
        doc = src.doc
        self.log(f"tunelint: {doc.uri}: {why}; its diagnostics wait for the editor's whole text",
                 types.MessageType.Error)
        doc.lost = why
        self.project.changed(src, doc.replace_all(""))  # its stale lines leave the dataset indexes
        self.schedule(doc.uri, 0)

    def internal_error(self, path: str, error: Exception) -> str:
        """An exception while analysing one file: logged once per cause, shown on that file."""
        cause = f"{type(error).__name__}: {error}"
        if cause not in self.reported:
            self.reported.add(cause)
            log.error("internal error while checking %s", path, exc_info=error)
            self.log(f"tunelint internal error while checking {path}: {cause}", types.MessageType.Error)
        self.failures[path] = cause
        return cause

    # -- helpers ------------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        log.info(message)
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the client may be gone
            pass

    def report_server_error(self, error: Exception, source) -> None:
        """Internal errors go to the log, never a storm of pop-ups."""
        if isinstance(error, CommandRefused):  # a refusal the user was told about
            self.log(f"tunelint: {error}", types.MessageType.Info)
            return
        log.exception("internal error", exc_info=error)
        self.log(f"tunelint internal error ({source.__name__ if hasattr(source, '__name__') else source}): {error}",
                 types.MessageType.Error)

    def analysis_linter(self):
        """The server's one Linter, on the analysis thread (its SQLite cache connection belongs
        to that thread): call it from functions given to `run`."""
        linter = getattr(self._local, "linter", None)
        if linter is None:
            from tunelint.linter.engine import Linter

            linter = self._local.linter = Linter(start_method="forkserver")
        return linter

    def _compute(self, settings: Settings, texts: list[str]):
        return compute(self.analysis_linter(), settings, texts)

    def _warm_up(self, settings: Settings) -> None:
        """Build the in-process analyzer (tokenizer included, ~0.6 s) while nobody waits, so
        the first edit after opening a large file is as fast as the next ones."""
        try:
            self.analysis_linter().analyzer(settings)
            tidy_up()  # what loading the tokenizer's tables left behind
        except Exception as e:  # e.g. a missing tokenizer: the next analysis reports it
            log.info("warm-up skipped: %s", e)

    def warm_up(self, settings: Settings) -> asyncio.Future | None:
        """Build the analyzer for `settings` on the analysis thread, once per settings."""
        if settings in self.warmed:
            return None
        self.warmed.add(settings)
        return asyncio.get_running_loop().run_in_executor(self.executor, self._warm_up, settings)

    async def run(self, fn, *args):
        with self.indexing.foreground():  # the editor's work goes before the next part of indexing
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- linting ------------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float = DEBOUNCE_S) -> None:
        """A round for the document: now, or, while one runs, once it is over (edits that
        arrive meanwhile share that next round)."""
        task = self.tasks.get(uri)
        if task is not None and not task.done():
            self.again.add(uri)
            return
        self.tasks[uri] = asyncio.get_running_loop().create_task(self._lint_later(uri, delay))

    async def _lint_later(self, uri: str, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            with self.indexing.foreground():  # a document's round goes before the next part of indexing
                while True:
                    self.again.discard(uri)
                    await self.refresh(uri)
                    if uri not in self.again or uri not in self.docs:
                        break
        except asyncio.CancelledError:
            pass
        except Exception as e:  # never let one bad document stop the server
            self.report_server_error(e, "lint")

    async def bring_up_to_date(self, src: Source) -> None:
        """Analyse pending lines until none are left (edits may arrive while computing)."""
        for _ in range(50):
            if not src.pending:
                return
            settings, texts = self.project.work(src)
            results = await self.run(self._compute, settings, texts) if texts else []
            self.untidy = self.untidy or len(texts) > LARGE_BATCH
            self.project.store(src, settings, texts, results)

    async def analyse(self, src: Source) -> bool:
        """bring_up_to_date, isolated: an exception in one file's analysis is that file's
        failure (logged once, shown on it), never the others'. True when it succeeded."""
        try:
            await self.bring_up_to_date(src)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self.internal_error(src.path, e)
            return False
        self.failures.pop(src.path, None)
        return True

    def findings_of(self, src: Source) -> list[Finding]:
        try:  # the cross-file ones once the files they concern are indexed
            findings = self.project.findings(src, cross_file=not self.indexing.waiting_on(src))
        except Exception as e:
            self.internal_error(src.path, e)
            return []
        self.report_config_error()
        return findings

    def report_config_error(self) -> None:
        """A configuration problem found while linting (a baseline that cannot be applied), shown
        once per problem: the findings go on, unfiltered, and the user should know why."""
        problem = self.project.config_error
        if problem and problem not in self.reported:
            self.reported.add(problem)
            self.log(f"tunelint: {problem}", types.MessageType.Error)

    async def refresh(self, uri: str) -> list[Finding] | None:
        await self.wait_ready()
        src = self.docs.get(uri)
        if src is None:
            return None
        version = src.doc.version
        ok = await self.analyse(src)
        for other in list(self.project.sources.values()):
            if other is not src and other.pending and not self.indexing.in_background(other):
                await self.analyse(other)
        self.indexing.kick()  # a large file on disk whose lines are pending: analysed in the background
        if self.docs.get(uri) is not src or src.doc.version != version or (ok and src.pending):
            return None  # stale: a newer edit has its own round coming
        findings = self.findings_of(src) if ok else []
        self.published[uri] = (version, findings)
        if not self.pull:
            publish(self.protocol, self.lsp_cache, uri, version, self.diagnostics_for(src, findings))
        if self.untidy:  # after a large batch: the worker pool's leftovers, once the results are out
            self.untidy = False
            asyncio.get_running_loop().run_in_executor(self.executor, tidy_up)
        self.warm_up(self.project.settings_for(src.path))
        return findings

    async def wait_ready(self) -> None:
        if self.ready is not None and not self.ready.is_set():
            try:
                await asyncio.wait_for(self.ready.wait(), timeout=60)
            except asyncio.TimeoutError:
                self.log("workspace still loading; answering with what is known", types.MessageType.Warning)

    async def current(self, uri: str) -> tuple[Source, list[Finding]] | None:
        """The document and its findings for its current version: its round, awaited (or run)."""
        await self.wait_ready()
        done = None
        for _ in range(50):
            src = self.docs.get(uri)
            if src is None:
                return None
            done = self.published.get(uri)
            if done is not None and done[0] == src.doc.version and not src.pending:
                break
            self.schedule(uri, 0)
            await asyncio.wait([self.tasks[uri]])  # (a round cancelled by a close is not this request's error)
        return src, (done[1] if done else [])

    def relint_all(self) -> None:
        for uri in list(self.docs):
            self.schedule(uri, 0)
        self._refresh_pull_clients()

    def _refresh_pull_clients(self) -> None:
        """Pull clients ask again for what they show (workspace/diagnostic/refresh)."""
        if self.pull:
            try:
                self.workspace_diagnostic_refresh(None)
            except Exception:
                pass

    async def republish_affected(self, also: set[str] = frozenset()) -> None:
        """After files on disk changed: analyse what is pending, then publish again only the
        open documents whose findings changed (cross-file findings), not every one, and those
        in `also` (the ones that showed the indexing's pending marker)."""
        await self.wait_ready()
        for src in list(self.project.sources.values()):
            if src.pending and not self.indexing.in_background(src):
                await self.analyse(src)
        self.indexing.kick()
        for uri, src in list(self.docs.items()):
            done = self.published.get(uri)
            task = self.tasks.get(uri)
            if done is None or done[0] != src.doc.version or src.pending or (task is not None and not task.done()):
                continue  # a round of its own is coming (or running): it publishes the news
            if uri in also or self.findings_of(src) != done[1]:
                log.info("re-publishing %s: files on disk changed its findings", uri)
                self.schedule(uri, 0)
        self._refresh_pull_clients()

    async def load_workspace(self) -> None:
        """Read the split files that are not open, so leakage across files shows live."""
        self.indexing.load([p for p in await self.run(self.project.workspace_files)
                            if p not in self.project.sources])  # the large ones in the background
        self.relint_all()

    async def reload_settings(self) -> None:
        section = {}
        caps = self.client_capabilities.workspace
        if caps is not None and caps.configuration:
            try:
                result = await self.workspace_configuration_async(types.ConfigurationParams(
                    items=[types.ConfigurationItem(section="tunelint")]))
                section = result[0] if result and isinstance(result[0], dict) else {}
            except Exception as e:
                self.log(f"workspace/configuration failed: {e}", types.MessageType.Warning)
        merged = {**self.init_options, **section}
        self.editor_options = merged
        lint, self.editor, problems = editor_options(merged)
        settings = lint.settings_values()
        for p in problems:
            self.log(f"tunelint settings: {p}", types.MessageType.Warning)
        if settings != self.project.editor_settings:
            self.project.editor_settings = settings
            self.project.reload_config()
            self.relint_all()


server = TunelintServer()


def _line_one(message: str) -> types.Diagnostic:
    return types.Diagnostic(range=types.Range(start=types.Position(line=0, character=0),
                                              end=types.Position(line=0, character=0)),
                            message=message, severity=types.DiagnosticSeverity.Error, source="tunelint")


def _uri_path(uri: str) -> str:
    return to_fs_path(uri) or uri


@server.feature(types.INITIALIZE)
def initialize(ls: TunelintServer, params: types.InitializeParams) -> None:
    root = None
    if params.workspace_folders:
        root = _uri_path(params.workspace_folders[0].uri)
    elif params.root_uri:
        root = _uri_path(params.root_uri)
    elif params.root_path:
        root = params.root_path
    opts = params.initialization_options if isinstance(params.initialization_options, dict) else {}
    ls.init_options = opts
    ls.editor_options = dict(opts)
    lint, ls.editor, problems = editor_options(opts)
    ls.project = Project(root, lint.settings_values())
    td = params.capabilities.text_document
    ls.pull = bool(td is not None and td.diagnostic is not None)
    for p in problems:
        log.warning("initialization options: %s", p)


@server.feature(types.INITIALIZED)
async def initialized(ls: TunelintServer, params: types.InitializedParams) -> None:
    ls.ready = asyncio.Event()
    try:
        await _start(ls)
    finally:
        ls.ready.set()


async def _start(ls: TunelintServer) -> None:
    ls.report_config_error()
    ws = ls.client_capabilities.workspace
    if ws is not None and ws.did_change_watched_files is not None and ws.did_change_watched_files.dynamic_registration:
        watchers = [types.FileSystemWatcher(glob_pattern=g)
                    for g in ("**/*.jsonl", "**/tunelint.toml", "**/pyproject.toml")]
        try:
            await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
                id="tunelint-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))
        except Exception as e:
            ls.log(f"could not watch files: {e}", types.MessageType.Warning)
    await ls.reload_settings()
    ls.training.reload()
    # the tokenizer's tables, while memory is low and nobody waits (a file opened meanwhile queues)
    warming = ls.warm_up(ls.project.settings_for(os.path.join(str(ls.project.root or os.getcwd()), "train.jsonl")))
    if warming is not None:
        await warming
    await ls.load_workspace()


def _is_run_output(ls: TunelintServer, path: str) -> bool:
    """Files tunelint itself writes (.tunelint/runs/*/eval_results.jsonl...) are not datasets."""
    return os.sep + ".tunelint" + os.sep in path


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: TunelintServer, params: types.DidOpenTextDocumentParams) -> None:
    td = params.text_document
    if _is_run_output(ls, _uri_path(td.uri)):
        return
    doc = Document.open(td.uri, _uri_path(td.uri), td.version, td.text)
    # pygls' reader keeps the last message alive until the next one arrives: without this the
    # whole text (4 bytes a character once one emoji is in it) would stay until the first edit
    td.text = ""
    ls.docs[td.uri] = ls.project.open(doc)
    ls.schedule(td.uri, 0)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: TunelintServer, params: types.DidChangeTextDocumentParams) -> None:
    src = ls.docs.get(params.text_document.uri)
    if src is None:
        return
    doc = src.doc
    for change in params.content_changes:
        if doc.lost is not None:  # out of sync: only the editor's whole text brings it back
            if isinstance(change, types.TextDocumentContentChangePartial):
                continue
            doc.lost = None
        if isinstance(change, types.TextDocumentContentChangePartial):
            r = change.range
            ch = doc.apply((r.start.line, r.start.character), (r.end.line, r.end.character), change.text)
        else:
            ch = doc.replace_all(change.text)
        ls.project.changed(src, ch)
    doc.version = params.text_document.version
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: TunelintServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    src = ls.docs.pop(uri, None)
    task = ls.tasks.pop(uri, None)
    if task is not None:
        task.cancel()
    ls.published.pop(uri, None)
    ls.lsp_cache.forget(uri)
    ls.result_ids.forget(uri)
    ls.indexing.marked.discard(uri)
    if src is not None and ls.project.close(src.path, reload=False):
        ls.indexing.load([src.path])  # read from disk again (a large one in the background)
    if not ls.pull:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
    ls.relint_all()


@server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC,
                types.DiagnosticOptions(identifier="tunelint", inter_file_dependencies=True,
                                        workspace_diagnostics=True))
async def document_diagnostic(ls: TunelintServer, params: types.DocumentDiagnosticParams):
    uri = params.text_document.uri
    got = await ls.current(uri)
    if got is None:
        return types.RelatedFullDocumentDiagnosticReport(items=[])
    src, findings = got
    return ls.result_ids.document(uri, ls.diagnostics_for(src, findings), params.previous_result_id)


@server.feature(types.WORKSPACE_DIAGNOSTIC)
async def workspace_diagnostic(ls: TunelintServer, params: types.WorkspaceDiagnosticParams):
    items, previous = [], previous_ids(params)
    for uri in list(ls.docs):
        got = await ls.current(uri)
        if got is not None:
            src, findings = got
            items.append(ls.result_ids.workspace_item(uri, src.doc.version, ls.diagnostics_for(src, findings),
                                                      previous))
    await ls.indexing.idle()  # the files on disk: once indexed (the open ones were answered first)
    for path, src in list(ls.project.sources.items()):
        if src.doc is None:
            ok = await ls.analyse(src)
            failed = ls.failures.get(path)
            found = [diagnostic(f, None) for f in ls.findings_of(src)] if ok else []
            uri = path_to_uri(path)
            items.append(ls.result_ids.workspace_item(
                uri, None, ([_line_one(f"tunelint could not check this file: {failed}")] if failed else []) + found,
                previous))
    return types.WorkspaceDiagnosticReport(items=items)


@server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
async def inlay_hint(ls: TunelintServer, params: types.InlayHintParams):
    got = await ls.current(params.text_document.uri)
    if not got:
        return []
    src = got[0]
    training = ls.training
    return (features.inlay_hints(src, params.range) + run_features.hints(training.results_for(src), src, params.range)
            + dynamics.hints(training.dynamics_for(src), src, params.range))


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(ls: TunelintServer, params: types.HoverParams):
    got = await ls.current(params.text_document.uri)
    if got is None:
        return None
    src, findings = got
    pos = params.position
    breakdown = None
    if pos.line < src.doc.content_lines and src.path not in ls.failures:  # a failed file's diagnostic says why
        settings, line = ls.project.settings_for(src.path), src.doc.lines[pos.line]
        try:
            breakdown = await ls.run(lambda: features.token_breakdown(ls.analysis_linter().analyzer(settings).counter,
                                                                      settings, line))
        except Exception as e:
            ls.internal_error(src.path, e)
    return features.hover(src, findings, pos, [run_features.hover(ls.training.results_for(src), pos.line),
                                               dynamics.hover(ls.training.dynamics_for(src), pos.line), breakdown])


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
async def code_lens(ls: TunelintServer, params: types.CodeLensParams):
    got = await ls.current(params.text_document.uri)
    if not got:
        return []
    src, findings = got
    summary = ls.project.summary(src, findings)
    split, training = ls.project.split_of(src.path), ls.training
    return ls.indexing.lenses(src) + features.code_lenses(summary, split) + run_features.lenses(
        src, split, running=training.running(), fine_tune=training.describe_settings() if split == "train" else "",
        results=training.results,
        last_training_run=training.last_training_run_name() if split == "validation" else None)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
    code_action_kinds=[types.CodeActionKind.QuickFix, features.FIX_ALL_KIND, run_features.KIND_TRAIN,
                       run_features.KIND_EVALUATE, edit_text.KIND]))
async def code_action(ls: TunelintServer, params: types.CodeActionParams):
    got = await ls.current(params.text_document.uri)
    if not got:
        return []
    only = params.context.only
    wants = (lambda kind: any(kind == k or kind.startswith(k + ".") for k in only)) if only else (lambda kind: True)
    split = ls.project.split_of(got[0].path)
    return features.code_actions(*got, params) + run_features.actions(got[0], split, wants) + (
        compare.actions(got[0], split, params.range, ls.comparing.has_run()) if not only else []) + (
        await edit_text.actions(ls, got[0], params.range) if wants(edit_text.KIND) else [])


@server.feature(preview.PREVIEW)
async def preview_request(ls: TunelintServer, params):
    """One example as a conversation and as the model sees it: server/preview.py, README."""
    try:
        return await preview.answer(ls, params)
    except RunRefused as e:
        raise CommandRefused(str(e)) from None


# what editors and tools write next to a file and remove again: Emacs's lock (.#name, a
# dangling symlink) and auto-save (#name#) files, backups (name~, .orig, .bak), vim's swap
# files (.name.swp, .swo...) and its write probe (4913), temporary and partial files
_SCRATCH_NAMES = (".#*", "#*#", "*~", ".*.sw?", "*.tmp", "*.temp", "*.bak", "*.orig",
                  "*.part", "*.crdownload", "*.crswap", "4913", ".~lock.*#", ".goutputstream-*",
                  "*___jb_tmp___", "*___jb_old___", "*.tmp.*", ".*.tmp*")


def is_scratch_file(path: str) -> bool:
    """Whether a watched file is an editor's or a tool's lock, backup, swap or temporary file."""
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(name, g) for g in _SCRATCH_NAMES)


def _regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def watched_files(ls: TunelintServer, params: types.DidChangeWatchedFilesParams) -> None:
    """A config file changed: everything is read again. A split file that is not open changed:
    that file is read again, and the open documents whose findings it changes (the cross-file
    ones: leakage, duplicates, mixed formats) are published again, no other. Editors' scratch
    files (`is_scratch_file`), tunelint's own run outputs, what is not a regular file, files
    that are no split and open documents (the editor's text is theirs) change nothing."""
    config_changed, files_changed = False, False
    for change in params.changes:
        path = _uri_path(change.uri)
        if _is_run_output(ls, path) or is_scratch_file(path):
            continue  # the trainer writing its results, an editor's lock or swap file
        name = os.path.basename(path)
        deleted = change.type == types.FileChangeType.Deleted
        if name in CONFIG_FILES:
            config_changed = True
        elif not path.endswith(".jsonl") or any(s.path == path for s in ls.docs.values()):
            continue
        elif deleted or not _regular_file(path) or ls.project.split_of(path) is None \
                or ls.project.config.excluded(path):
            if path in ls.project.sources:
                ls.project.forget(path)
                files_changed = True
        else:  # read again (a large one in the background, with the pending marker meanwhile)
            if ls.indexing.load([path]):
                files_changed = True
            else:
                ls.relint_all()
    if config_changed:
        ls.project.reload_config()
        await ls.load_workspace()
    elif files_changed:
        await ls.republish_affected()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: TunelintServer, params: types.DidChangeConfigurationParams) -> None:
    if isinstance(params.settings, dict) and isinstance(params.settings.get("tunelint"), dict):
        ls.init_options = {**ls.init_options, **params.settings["tunelint"]}
    await ls.reload_settings()


async def _run_command(ls: TunelintServer, fn, args):
    """Run a command; a refusal (bad argument, a run already going) is shown once and answered
    as a request error, not logged as an internal error."""
    try:
        return await fn(list(args))
    except (RunRefused, ValueError) as e:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"tunelint: {e}"))
        raise CommandRefused(str(e)) from None


@server.feature(types.SHUTDOWN)
def shutdown(ls: TunelintServer, *args) -> None:
    ls.stop_children()


def _register(name: str, handler) -> None:
    @server.command(name)
    async def run(ls: TunelintServer, *args):
        return await _run_command(ls, lambda a: handler(ls, a), args)


for _name, _handler in commands.COMMANDS.items():
    _register(_name, _handler)


def main(tcp: str | None = None) -> None:
    logging.basicConfig(level=os.environ.get("TUNELINT_LOG", "WARNING"), format="%(asctime)s %(name)s %(message)s")
    import signal

    def terminated(signum, frame):  # an editor killing the server must not leave a trainer running
        server.stop_children()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    tune_allocator()
    use_orjson()
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            widen_pipe(sys.stdout.fileno())
            server.start_io()
    finally:
        server.stop_children()
        server.executor.shutdown(wait=False, cancel_futures=True)
        server.project.close_all()
    if server.protocol.exit_code:  # `exit` without `shutdown` (LSP: 1)
        sys.exit(server.protocol.exit_code)
