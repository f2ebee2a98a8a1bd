"""Findings to the editor at the cost of what changed: each open document's LSP diagnostics are
kept from one publish to the next, with their JSON, and a finding whose line did not change is
neither converted nor serialised again. A 20k-line file with 220 findings spent ~7 ms an edit
converting every finding to lsprotocol types and ~5 ms in pygls' serialisation (cattrs
unstructuring, then `json.dumps`) before this (bench/README.md, "Where an edit's time goes").

`publish` writes the `textDocument/publishDiagnostics` notification itself, as the JSON-RPC
frame pygls writes (Content-Length header, UTF-8 body) on pygls' own writer, from the event loop
as pygls does; every other message still goes through pygls."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable

import orjson
from lsprotocol import types

from tunelint.linter.findings import Finding

from .documents import Document
from .to_lsp import diagnostic

_METHOD = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS


def _dumps(value) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # a lone surrogate (UTF-8 cannot hold it): escaped, as pygls' json.dumps does
        return json.dumps(value, separators=(",", ":")).encode("ascii")


class DiagnosticCache:
    """Per open document: finding (and the text of its lines) → its Diagnostic and the
    Diagnostic's JSON. Only the current findings are kept (each call replaces the last)."""

    def __init__(self, unstructure: Callable[[object], object]):
        self._unstructure = unstructure
        self._by_uri: dict[str, dict[tuple, types.Diagnostic]] = {}
        # id(finding) → (finding, its lines' texts, diagnostic): the server keeps a line's Finding
        # objects while the line is unchanged, so most lookups need no hashing of a finding
        self._by_id: dict[str, dict[int, tuple]] = {}
        self._json: dict[str, dict[int, tuple[types.Diagnostic, bytes]]] = {}  # id(diagnostic) → JSON

    def diagnostics(self, uri: str, doc: Document | None, findings: list[Finding]) -> list[types.Diagnostic]:
        """The findings as LSP diagnostics (to_lsp.diagnostic), the unchanged ones reused."""
        if doc is None:
            return [diagnostic(f, None) for f in findings]
        old, new = self._by_uri.get(uri, {}), {}
        old_ids, new_ids = self._by_id.get(uri, {}), {}
        lines, n = doc.lines, len(doc.lines)
        out = []
        for f in findings:
            # a range depends on its lines' text (UTF-16 columns) and, on the last line, on
            # whether a line follows (to_lsp.next_line_start)
            first = lines[f.line - 1] if 0 < f.line <= n else None
            end = lines[f.end_line - 1] if f.end_line != f.line and 0 < f.end_line <= n else None
            last = f.end_line >= n - 1
            have = old_ids.get(id(f))
            if have is not None and have[0] is f and have[1] is first and have[2] is end and have[3] == last:
                d = have[4]  # (not hashed: the next call finds it by id again)
            else:
                key = (f, first, end, last)
                d = new.get(key) or old.get(key)
                if d is None:
                    d = diagnostic(f, doc)
                new[key] = d
            new_ids[id(f)] = (f, first, end, last, d)
            out.append(d)
        self._by_uri[uri] = new
        self._by_id[uri] = new_ids
        return out

    def encoded(self, uri: str, diagnostics: list[types.Diagnostic]) -> list[bytes]:
        """Each diagnostic's JSON (as pygls would send it), the ones sent last time reused."""
        old, new = self._json.get(uri, {}), {}
        out = []
        for d in diagnostics:
            have = old.get(id(d))
            if have is None or have[0] is not d:
                have = (d, _dumps(self._unstructure(d)))
            new[id(d)] = have  # holds d, so its id is not reused while kept
            out.append(have[1])
        self._json[uri] = new
        return out

    def forget(self, uri: str) -> None:
        self._by_uri.pop(uri, None)
        self._by_id.pop(uri, None)
        self._json.pop(uri, None)


def publish(protocol, cache: DiagnosticCache, uri: str, version: int | None,
            diagnostics: list[types.Diagnostic]) -> None:
    """Send textDocument/publishDiagnostics for `uri` on pygls' writer (see the docstring)."""
    writer = protocol.writer
    if writer is None:
        return
    params = b'{"uri":' + _dumps(uri) + (b',"version":%d' % version if version is not None else b"") + \
        b',"diagnostics":[' + b",".join(cache.encoded(uri, diagnostics)) + b"]}"
    body = b'{"jsonrpc":"2.0","method":"' + _METHOD.encode() + b'","params":' + params + b"}"
    frame = body
    if getattr(protocol, "_include_headers", True):
        frame = b"Content-Length: %d\r\nContent-Type: %s; charset=%s\r\n\r\n" % (
            len(body), protocol.CONTENT_TYPE.encode(), protocol.CHARSET.encode()) + body
    res = writer.write(frame)
    if inspect.isawaitable(res):
        import asyncio

        asyncio.ensure_future(res)


F_SETPIPE_SZ = 1031  # Linux's fcntl command
PIPE_BYTES = 1 << 20


def widen_pipe(fd: int) -> None:
    """Make the pipe to the editor hold 1 MiB (Linux; elsewhere nothing): a publishDiagnostics
    of a few hundred diagnostics (~90 KB) is then written without waiting for the editor to
    read the first 64 KiB (the default pipe size)."""
    import fcntl
    import stat as st

    try:
        if st.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
    except (OSError, ValueError, AttributeError):
        pass  # not Linux, not a pipe, or above /proc/sys/fs/pipe-max-size: the default stays
