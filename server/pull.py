"""Pull diagnostics with result ids: a report names its content with a `resultId`, and a client
that asks again with that id (`previousResultId`, or `previousResultIds` for
workspace/diagnostic) while nothing changed gets an "unchanged" report instead of the whole
list again (VS Code pulls an open file's diagnostics again about every 2 s)."""

from __future__ import annotations

import itertools
import os

from lsprotocol import types


class ResultIds:
    """uri → the id of the diagnostics last reported for it; a new id only when they differ."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, list[types.Diagnostic]]] = {}
        self._next = itertools.count(1)
        self._prefix = f"{os.getpid():x}-"  # ids of an earlier server process never match

    def id_for(self, uri: str, items: list[types.Diagnostic]) -> str:
        last = self._last.get(uri)
        if last is not None and last[1] == items:
            return last[0]
        rid = f"{self._prefix}{next(self._next)}"
        self._last[uri] = (rid, items)
        return rid

    def forget(self, uri: str) -> None:
        self._last.pop(uri, None)

    def document(self, uri: str, items: list[types.Diagnostic], previous: str | None):
        """The answer to textDocument/diagnostic."""
        rid = self.id_for(uri, items)
        if previous == rid:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=rid)
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=rid)

    def workspace_item(self, uri: str, version: int | None, items: list[types.Diagnostic],
                       previous: dict[str, str]):
        """One document's part of the answer to workspace/diagnostic (`previous`: uri → the id
        the client holds)."""
        rid = self.id_for(uri, items)
        if previous.get(uri) == rid:
            return types.WorkspaceUnchangedDocumentDiagnosticReport(uri=uri, version=version, result_id=rid)
        return types.WorkspaceFullDocumentDiagnosticReport(uri=uri, version=version, items=items, result_id=rid)


def previous_ids(params: types.WorkspaceDiagnosticParams) -> dict[str, str]:
    return {p.uri: p.value for p in params.previous_result_ids or ()}
