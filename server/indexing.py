"""The workspace's large split files, read and analysed in the background, a part at a time, so
that an opened file's own findings never wait for them.

A split file on disk (train/validation/test, not open) feeds the cross-file findings of the
open documents: duplicates across files, conflicts, split leakage. A small one (up to
`BACKGROUND_BYTES` on disk, `BACKGROUND_LINES` lines to analyse) is read and analysed before the
documents' diagnostics are published, as before. A larger one is read on the analysis thread and
analysed `CHUNK_LINES` lines at a time (through the line cache: a second open of the same
workspace starts from it), with work-done progress ("indexing data/train.jsonl: 12,000 /
20,000"); between two parts, the editor's requests (an open file's analysis, hover, code
actions) go first (`foreground`). Until every such file is indexed, an open split document
shows the marker `leakage check pending: indexing train.jsonl` (an information diagnostic on
line 1 and a code lens) and its cross-file findings are held back, so a file without leakage
findings is never mistaken for one without leakage; when indexing ends, the documents are
published again. The same when a large split file changes on disk."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.linter.analyze import DUPLICATE_CODES

from .memory import tidy_up
from .project import Source, compute

if TYPE_CHECKING:
    from .main import TunelintServer

log = logging.getLogger("tunelint.server")

BACKGROUND_BYTES = 1_000_000  # a split file larger than this on disk is read in the background
BACKGROUND_LINES = 2_000  # a file on disk with more lines than this to analyse is analysed in the background
CHUNK_LINES = 1_024  # lines analysed at a time (the linter's batch): what a request may wait for
PENDING = "leakage check pending"


class Indexing:
    def __init__(self, ls: TunelintServer):
        self.ls = ls
        self.queued: dict[str, int] = {}  # large files to read (again), in order → their request's number
        self._requests = itertools.count(1)
        self.owned: set[str] = set()  # files read here whose analysis is not done yet
        self.marked: set[str] = set()  # uris published with the pending marker
        self.task: asyncio.Task | None = None
        self._busy = 0
        self._free = asyncio.Event()
        self._free.set()
        self._done = asyncio.Event()
        self._done.set()
        self._tokens = itertools.count(1)
        self.runs = 0  # indexing rounds finished

    # -- what is pending ------------------------------------------------------------------------

    def in_background(self, src: Source) -> bool:
        """Whether the source's analysis is this module's (a large file on disk)."""
        return src.doc is None and bool(src.pending) and (
            src.path in self.owned or len(src.pending) > BACKGROUND_LINES)

    def pending(self) -> list[str]:
        """The files still to index, in order."""
        out = dict(self.queued)
        for path, src in self.ls.project.sources.items():
            if self.in_background(src):
                out[path] = None
        return list(out)

    def complete(self) -> bool:
        return not self.pending()

    def name(self, path: str) -> str:
        root = self.ls.project.root
        try:
            return os.path.relpath(path, root) if root else os.path.basename(path)
        except ValueError:
            return path

    def waiting_on(self, src: Source) -> list[str]:
        """The files whose indexing the source's cross-file findings wait for: none unless it is
        a split file with duplicate rules on."""
        project = self.ls.project
        if project.split_of(src.path) is None:
            return []
        settings = project.settings_for(src.path)
        if not any(settings.enabled(c) for c in DUPLICATE_CODES):
            return []
        return [p for p in self.pending() if p != src.path]

    def marker(self, uri: str, src: Source) -> types.Diagnostic | None:
        """The pending marker for the document (and it is remembered as marked), or None."""
        waiting = self.waiting_on(src)
        if not waiting:
            self.marked.discard(uri)
            return None
        self.marked.add(uri)
        return types.Diagnostic(
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            message=self._pending_text(waiting) + ": cross-file duplicates, conflicts and split leakage show "
            "once it is done", severity=types.DiagnosticSeverity.Information, source="tunelint", code="pending")

    def lenses(self, src: Source) -> list[types.CodeLens]:
        waiting = self.waiting_on(src)
        if not waiting:
            return []
        rng = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))
        return [types.CodeLens(range=rng, command=types.Command(title=f"tunelint: {self._pending_text(waiting)}",
                                                                command=""))]

    def _pending_text(self, waiting: list[str]) -> str:
        names = ", ".join(os.path.basename(p) for p in waiting[:3]) + (" ..." if len(waiting) > 3 else "")
        return f"{PENDING}: indexing {names}"

    # -- priorities -----------------------------------------------------------------------------

    @contextmanager
    def foreground(self):
        """Around the editor's own work on the analysis thread: indexing waits for it."""
        self._busy += 1
        self._free.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._free.set()

    async def idle(self) -> None:
        """Wait until nothing is left to index."""
        while not self.complete():
            self.kick()
            await self._done.wait()
            await asyncio.sleep(0)

    # -- reading --------------------------------------------------------------------------------

    def load(self, paths: list[str]) -> bool:
        """Read split files (again): small ones now, large ones in the background. True when
        a small one was read now (its analysis is the next round's)."""
        now = False
        for path in paths:
            try:
                large = os.stat(path).st_size > BACKGROUND_BYTES
            except OSError:
                large = False  # missing: load_from_disk says so
            if large:
                self.queued.pop(path, None)
                self.queued[path] = next(self._requests)  # (to the end of the queue)
                self.owned.add(path)
            else:
                self.queued.pop(path, None)
                self.ls.project.load_from_disk(path)
                now = True
        self.kick()
        return now

    def kick(self) -> None:
        """Start indexing if there is something to index and it is not running."""
        if (self.task is None or self.task.done()) and self.pending():
            self._done.clear()
            self.task = asyncio.get_running_loop().create_task(self._run())

    # -- the work -------------------------------------------------------------------------------

    async def _background(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.ls.executor, fn, *args)

    async def _run(self) -> None:
        try:
            while self.pending():  # (what was asked for while the last round ended)
                await self._round()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never let indexing stop the server
            self.ls.report_server_error(e, "indexing")
        finally:
            self._done.set()

    async def _round(self) -> None:
        ls = self.ls
        progress = await self._begin()
        lines = 0
        try:
            while True:
                await self._free.wait()
                if self.queued:
                    path, request = next(iter(self.queued.items()))
                    self._report(progress, f"reading {self.name(path)}", None)
                    read = await self._background(ls.project.read_split_file, path)
                    if self.queued.get(path) == request:  # else: asked for again meanwhile, or forgotten
                        del self.queued[path]
                        ls.project.install(path, read)
                    continue
                src = next((s for s in ls.project.sources.values() if self.in_background(s)), None)
                if src is None:
                    break
                settings, texts = ls.project.work(src, CHUNK_LINES)
                try:
                    results = await self._background(self._compute, settings, texts)
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # that file's failure, shown on it; the others go on
                    ls.internal_error(src.path, e)
                    src.pending.clear()
                    continue
                if ls.project.sources.get(src.path) is not src:
                    continue  # read again, or opened, meanwhile
                before = len(src.pending)
                ls.project.store(src, settings, texts, results, CHUNK_LINES)
                lines += before - len(src.pending)
                if not src.pending:
                    self.owned.discard(src.path)
                    ls.failures.pop(src.path, None)
                total = len(src.order)
                self._report(progress, f"indexing {self.name(src.path)}: {total - len(src.pending):,} / {total:,}",
                             100 * (total - len(src.pending)) // max(total, 1))
        finally:
            self.owned.intersection_update(self.pending())
            await self._background(self._release)
            self._end(progress, f"indexed {lines:,} lines")
            self.runs += 1
        log.info("indexing done: %d lines", lines)
        marked, self.marked = set(self.marked), set()
        await ls.republish_affected(also=marked)
        await self._refresh_lenses()

    def _compute(self, settings, texts):
        return compute(self.ls.analysis_linter(), settings, texts, release=False)

    def _release(self) -> None:
        self.ls.analysis_linter().release_workers()
        tidy_up()

    # -- work-done progress ---------------------------------------------------------------------

    async def _begin(self) -> str | None:
        ls = self.ls
        win = ls.client_capabilities.window
        if win is None or not win.work_done_progress:
            return None
        token = f"tunelint-indexing-{next(self._tokens)}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
        except Exception as e:  # the client refused or did not answer: no progress shown
            log.info("no work-done progress: %s", e)
            return None
        names = ", ".join(self.name(p) for p in self.pending()[:3])
        ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(
            title="tunelint: indexing the workspace", message=names, percentage=0, cancellable=False))
        return token

    def _report(self, token: str | None, message: str, percentage: int | None) -> None:
        if token is not None:
            self.ls.work_done_progress.report(token, types.WorkDoneProgressReport(message=message,
                                                                                  percentage=percentage))

    def _end(self, token: str | None, message: str) -> None:
        if token is not None:
            self.ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    async def _refresh_lenses(self) -> None:
        ws = self.ls.client_capabilities.workspace
        if ws is not None and ws.code_lens is not None and ws.code_lens.refresh_support:
            try:
                await asyncio.wait_for(self.ls.workspace_code_lens_refresh_async(None), timeout=5)
            except Exception:  # the client may be gone
                pass
