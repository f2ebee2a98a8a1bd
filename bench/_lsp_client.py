"""The LSP benchmark's client: pygls' `LanguageClient` driving a server over its stdio pipes.

pygls does the protocol: the message types (lsprotocol), requests and their futures, the reader
loop (`pygls.io_.run_async`) and the dispatch of the server's notifications and requests to the
handlers registered here. Three things are the benchmark's own, because the figure measured is
the time from sending a didChange to receiving the publishDiagnostics of that version, and the
client must neither add to it nor change what the server is sent:

- **The clock points.** A message is stamped with `time.perf_counter()` just before its bytes
  are written to the pipe (`sent_at`), and a received message as soon as its body has been read,
  before pygls decodes it (`StampingReader`). pygls' decoding (json plus cattrs structuring into
  lsprotocol types, a few ms for the open's diagnostics) then falls outside the measured span,
  as it did with the hand-written client this replaced, which stamped at the same two points.
- **The framing of what is sent** (`BenchProtocol._send_data`, 8 lines): pygls' own writes
  `json.dumps` with its default `ensure_ascii=True`, which turns every non-ASCII character of the
  16 MB didOpen into a `\\uXXXX` escape. Editors send UTF-8, and the server's decoding of an ASCII
  body allocates differently (a pure-ASCII text instead of a wide one while the message is
  parsed): the server's VmHWM, a measured figure, was 239-240 MB with pygls' escaping against
  266 MB with UTF-8 (tunelint at ce63ae9). So the body is written as compact UTF-8 JSON, as the
  hand-written client did.
- **The process start** (`spawn`): pygls' `start_io` pipes the server's stderr and never reads
  it, so a server that logs more than a pipe's 64 KB would block; here stderr goes to a file.

Requests from the server get a null answer (a list of nulls for workspace/configuration), as
before; the client declares no pull-diagnostic capability, so servers push.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.io_ import run_async
from pygls.lsp.client import LanguageClient
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("bench.lsp_client")

# every request a server may send a client, answered with null (the client does none of them)
NULL_REQUESTS = (
    types.CLIENT_REGISTER_CAPABILITY,
    types.CLIENT_UNREGISTER_CAPABILITY,
    types.WINDOW_WORK_DONE_PROGRESS_CREATE,
    types.WINDOW_SHOW_MESSAGE_REQUEST,
    types.WORKSPACE_CODE_LENS_REFRESH,
    types.WORKSPACE_DIAGNOSTIC_REFRESH,
    types.WORKSPACE_INLAY_HINT_REFRESH,
    types.WORKSPACE_INLINE_VALUE_REFRESH,
    types.WORKSPACE_SEMANTIC_TOKENS_REFRESH,
    types.WORKSPACE_FOLDING_RANGE_REFRESH,
)
IGNORED_NOTIFICATIONS = (
    types.WINDOW_LOG_MESSAGE,
    types.WINDOW_SHOW_MESSAGE,
    types.TELEMETRY_EVENT,
    types.LOG_TRACE,
)

# what the client declares: no textDocument.diagnostic, so the server must push
CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(dynamic_registration=False),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
    ),
    workspace=types.WorkspaceClientCapabilities(),
)


class LspError(RuntimeError):
    pass


class StampingReader:
    """The server's stdout as pygls' reader loop reads it, stamping each body on arrival."""

    def __init__(self, reader: asyncio.StreamReader):
        self.reader = reader
        self.last = 0.0  # when the body of the message being handled was read

    async def readline(self) -> bytes:
        return await self.reader.readline()

    async def readexactly(self, n: int) -> bytes:
        body = await self.reader.readexactly(n)
        self.last = time.perf_counter()
        return body


class BenchProtocol(LanguageServerProtocol):
    """pygls' protocol with the benchmark's framing of outgoing messages (see the docstring)."""

    sent_at = 0.0  # perf_counter() just before the last message was written

    def _send_data(self, data: Any) -> None:
        if not data or self.writer is None:
            return
        body = json.dumps(
            data, default=self._serialize_message, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        frame = b"Content-Length: %d\r\n\r\n" % len(body) + body
        self.sent_at = time.perf_counter()
        self.writer.write(frame)


class BenchClient(LanguageClient):
    """One server process: start, requests and notifications through pygls, and the arrival
    time and a summary (line, severity) of each version's first publishDiagnostics."""

    def __init__(self) -> None:
        super().__init__("tunelint-bench", "1", protocol_cls=BenchProtocol)
        self.diags: dict[tuple[str, int | None], tuple[float, list[tuple[int, int]]]] = {}
        self._waiting: dict[tuple[str, int | None], asyncio.Future] = {}
        self.exited = False
        self.proc: asyncio.subprocess.Process | None = None
        # every publish (arrival, uri, version, codes) and $/progress (arrival, kind, message),
        # for the progressive-open measurement (_lsp_progressive.py)
        self.publishes: list[tuple[float, str, int | None, list]] = []
        self.progress: list[tuple[float, str, str | None]] = []

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(params: types.PublishDiagnosticsParams) -> None:
            t = self.reader.last
            self.publishes.append((t, params.uri, params.version, [d.code for d in params.diagnostics]))
            key = (params.uri, params.version)
            if key in self.diags:  # a server publishes once per version; keep the first
                return
            summary = [(d.range.start.line, int(d.severity or 1)) for d in params.diagnostics]
            self.diags[key] = (t, summary)
            fut = self._waiting.pop(key, None)
            if fut is not None and not fut.done():
                fut.set_result(self.diags[key])

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[None]:
            return [None for _ in params.items]

        @self.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value = params.value if isinstance(params.value, dict) else {}
            self.progress.append((self.reader.last, value.get("kind"), value.get("message")))

        for method in NULL_REQUESTS:
            self.feature(method)(lambda params: None)
        for method in IGNORED_NOTIFICATIONS:
            self.feature(method)(lambda params: None)

    async def spawn(self, cmd: list[str], env: dict[str, str], cwd: str, stderr: Path) -> int:
        """Start the server (what `start_io` does, with stderr to a file); returns its pid."""
        with open(stderr, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                env=env,
                cwd=cwd,
                limit=1 << 20,
            )
        self.proc = self._server = proc
        self.reader = StampingReader(proc.stdout)
        self.protocol.set_writer(proc.stdin)
        self._async_tasks += [
            asyncio.create_task(
                run_async(
                    stop_event=self._stop_event,
                    reader=self.reader,
                    protocol=self.protocol,
                    logger=log,
                    error_handler=self.report_server_error,
                )
            ),
            asyncio.create_task(self._server_exit()),
        ]
        return proc.pid

    def report_server_error(self, error: Exception, source) -> None:
        """A message pygls could not read or handle (by default pygls says nothing)."""
        print(f"lsp client: {getattr(source, '__name__', source)}: {error!r}", file=sys.stderr)

    async def server_exit(self, server: asyncio.subprocess.Process) -> None:
        self.exited = True
        for key, fut in list(self._waiting.items()):
            if not fut.done():
                fut.set_exception(LspError(f"server exited before publishing version {key[1]}"))
        self._waiting.clear()

    @property
    def sent_at(self) -> float:
        return self.protocol.sent_at

    async def initialize(self, ws: Path, timeout: float, capabilities=CAPABILITIES) -> None:
        params = types.InitializeParams(
            process_id=os.getpid(),
            root_uri=ws.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name=ws.name)],
            capabilities=capabilities,
        )
        try:
            await asyncio.wait_for(self.initialize_async(params), timeout)
        except asyncio.TimeoutError:
            raise LspError(f"no answer to initialize within {timeout:.0f} s") from None
        except RuntimeError as e:  # pygls fails pending requests when the server exits
            raise LspError(f"server exited before answering initialize: {e}") from None
        self.initialized(types.InitializedParams())

    def did_open(self, uri: str, text: str) -> float:
        """Send didOpen (version 1); returns the time just before it was written."""
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="jsonl", version=1, text=text
                )
            )
        )
        return self.sent_at

    def did_change(self, uri: str, version: int, line: int, col16: int, new: str) -> float:
        """Send a didChange replacing one UTF-16 unit; returns the time just before the write."""
        start = types.Position(line=line, character=col16)
        end = types.Position(line=line, character=col16 + 1)
        self.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=start, end=end), text=new
                    )
                ],
            )
        )
        return self.sent_at

    async def wait_diagnostics(self, uri: str, version: int, timeout: float):
        """(arrival time, [(line, severity)]) of the first diagnostics published for `version`."""
        key = (uri, version)
        if key in self.diags:
            return self.diags[key]
        if self.exited:
            raise LspError(f"server exited before publishing version {version}")
        fut = self._waiting.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise LspError(f"no diagnostics for version {version} within {timeout:.0f} s") from None

    async def close(self) -> int:
        """shutdown, exit, and the server's exit status (killed if it does not exit)."""
        proc = self.proc
        if proc is None:
            return -1
        try:
            if proc.returncode is None and not self.exited:
                await asyncio.wait_for(self.shutdown_async(None), 30)
                self.exit(None)
        except (asyncio.TimeoutError, RuntimeError, OSError, ConnectionError):
            pass
        try:
            rc = await asyncio.wait_for(proc.wait(), 30)
        except asyncio.TimeoutError:
            proc.kill()
            rc = await proc.wait()
        self._stop_event.set()
        await asyncio.gather(*self._async_tasks, return_exceptions=True)
        return rc
