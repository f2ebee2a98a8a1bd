"""Baseline for bench/lsp_latency.py: the naive language server for JSONL.

A plain pygls 2 server with pygls' own document store (incremental sync: pygls applies each
change to its TextDocument, which rebuilds the document's whole text). On every didOpen and
didChange it takes `ls.workspace.get_text_document(uri).source`, runs `json.loads` on every line
(and nothing else: no schema, no token counts, no dataset checks) and publishes one diagnostic per
line that is not valid JSON, with the document's version.

    python bench/baselines/naive_lsp.py      # LSP over stdio
"""

from __future__ import annotations

import json

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer(
    "naive-jsonl", "0.1", text_document_sync_kind=types.TextDocumentSyncKind.Incremental
)


def lint(ls: LanguageServer, uri: str, version: int | None) -> None:
    doc = ls.workspace.get_text_document(uri)
    diagnostics = []
    for n, line in enumerate(doc.source.split("\n")):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as e:
            diagnostics.append(
                types.Diagnostic(
                    range=types.Range(
                        start=types.Position(line=n, character=0),
                        end=types.Position(line=n, character=len(line)),
                    ),
                    message=f"invalid JSON: {e}",
                    severity=types.DiagnosticSeverity.Error,
                    source="naive",
                )
            )
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics)
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    lint(ls, params.text_document.uri, params.text_document.version)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    lint(ls, params.text_document.uri, params.text_document.version)


if __name__ == "__main__":
    server.start_io()
