"""Edit message as text: a message's string (or a tool call's arguments) opened unescaped, and
written back into its JSONL line as a correctly escaped JSON string through `workspace/applyEdit`
(so the editor's undo undoes it), touching nothing else on the line.

* `tunelint.editText` [uri, line (0-based), path (the value's JSON path, e.g.
  ["messages", 1, "content"])] → {"text", "kind": "text" | "arguments", "language": "markdown" |
  "json", "title", "token"}. Arguments held as a JSON string are answered pretty-printed.
* `tunelint.writeText` [token, text] → {"applied": true, "token"}: the new token, for the next
  save. Refused (an error with a message, nothing written) when the document is closed, its
  line is gone, the line no longer parses or the value at that path is not what was opened (the
  line changed there meanwhile), arguments that are not JSON, or an edit the editor did not
  apply. The token names the line by the server's stable line id (lines inserted above it move
  it, not the edit; after a whole-text change, its line number) and holds the value's JSON text as it
was opened.

The code action "Edit message as text" is offered on any editable string under the cursor
(server/example_view.py says which are)."""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

from lsprotocol import types

from tunelint.linter.locate import ScanError, locate

from . import example_view as ev
from .documents import from_utf16, to_utf16
from .runs import RunRefused

if TYPE_CHECKING:
    from .main import TunelintServer

CMD_EDIT_TEXT = "tunelint.editText"
CMD_WRITE_TEXT = "tunelint.writeText"
KIND = "refactor.rewrite.tunelint.editText"
SESSION = os.urandom(6).hex()  # a token from another server process names lines this one never had
INLINE_CHARS = 20_000  # longer lines are scanned on the analysis thread, not while the editor waits

# Escaped although JSON allows them raw: lone surrogates (not UTF-8), and the separators some
# editors and tools take for line breaks.
_ESCAPE = re.compile("[\ud800-\udfff\u2028\u2029\u0085]")


def json_string(text: str) -> str:
    """`text` as a JSON string literal: json's escapes (quotes, backslashes, control characters),
    the rest of Unicode as it is, except `_ESCAPE`'s characters as \\u escapes."""
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def editable_at(line: str, column: int) -> tuple[tuple, str] | None:
    """(path, kind) of the editable value holding code-point `column` of the line, or None."""
    try:
        v = ev.view(line)
    except ev.NotAnExample:
        return None
    body, bom = ev.strip_line(line)
    try:
        loc = locate(body)
    except ScanError:
        return None
    col = column - bom
    best = None
    for e in v.entries:
        for path, kind in e.editable:
            s = loc.spans.get(path)
            if s is not None and s.key_start <= col <= s.end and (best is None or s.end - s.start < best[0]):
                best = (s.end - s.start, path, kind)
    return (best[1], best[2]) if best else None


def value_span(line: str, path: tuple) -> tuple[int, int, str]:
    """(start, end, JSON text) of the value at `path` in the line (code points), or RunRefused."""
    body, bom = ev.strip_line(line)
    try:
        loc = locate(body)
    except ScanError as e:
        raise RunRefused(f"the line is no longer valid JSON ({e} at column {e.pos + bom + 1}): fix it, then "
                         "edit the message again") from None
    s = loc.spans.get(tuple(path))
    if s is None:
        raise RunRefused(f"the line has no value at {_path_text(path)} any more: it was not written back")
    return s.start + bom, s.end + bom, body[s.start:s.end]


def opened_text(raw: str, kind: str) -> tuple[str, str]:
    """(text to edit, language) of a value's JSON text."""
    value = json.loads(raw)
    if kind == "arguments":
        return ev.pretty_arguments(value)[0], "json"
    if not isinstance(value, str):
        raise RunRefused(f"the value is a JSON {type(value).__name__}, not a string: edit it in the line")
    return value, "markdown"


def new_literal(raw: str, kind: str, text: str) -> str:
    """The JSON text written back for `text` (`raw`: the value as opened): a string literal;
    for arguments, the compact JSON (as a string when they were one) after checking it parses."""
    if kind != "arguments":
        return json_string(text)
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise RunRefused(f"the tool-call arguments are not valid JSON ({e}): nothing was written back") from None
    compact = json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
    if isinstance(json.loads(raw), str):
        return json_string(compact)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", compact)


def _path_text(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def title(path: tuple, kind: str) -> str:
    return "Edit tool-call arguments as text" if kind == "arguments" else "Edit message as text"


# -- the code action ---------------------------------------------------------------------------

async def actions(ls: TunelintServer, src, rng: types.Range) -> list[types.CodeAction]:
    doc = src.doc
    n = rng.start.line
    if doc is None or n >= doc.content_lines or rng.start.line != rng.end.line:
        return []
    line = doc.lines[n]
    if not line.lstrip("\ufeff").lstrip().startswith("{"):
        return []
    col = from_utf16(line, rng.start.character)
    found = editable_at(line, col) if len(line) <= INLINE_CHARS else await ls.run(editable_at, line, col)
    if found is None:
        return []
    path, kind = found
    t = title(path, kind)
    return [types.CodeAction(title=t, kind=KIND, command=types.Command(
        title=t, command=CMD_EDIT_TEXT, arguments=[doc.uri, n, list(path)]))]


# -- the commands ------------------------------------------------------------------------------

def _source(ls: TunelintServer, uri):
    src = ls.docs.get(uri) if isinstance(uri, str) else None
    if src is None or src.doc is None:
        raise RunRefused(f"{uri} is not open: open the file to edit its messages")
    return src


def _path(value) -> tuple:
    if not isinstance(value, list) or not value or not all(
            isinstance(p, str) or (isinstance(p, int) and not isinstance(p, bool)) for p in value):
        raise RunRefused('the path is a JSON path: a list of keys and 0-based indexes, e.g. ["messages", 1, "content"]')
    return tuple(value)


async def edit_text(ls: TunelintServer, args: list) -> dict:
    if not isinstance(args, (list, tuple)) or len(args) != 3:
        raise RunRefused(f"{CMD_EDIT_TEXT} takes (uri, line (0-based), path)")
    uri, n, path = args[0], args[1], _path(args[2])
    doc = _source(ls, uri).doc
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < doc.content_lines:
        raise RunRefused(f"no line {n!r:.20} in {uri} (0-based; it has {doc.content_lines} lines)")
    line = doc.lines[n]
    found = None
    try:
        v = ev.view(line)
        found = next((k for e in v.entries for p, k in e.editable if p == path), None)
    except ev.NotAnExample as e:
        raise RunRefused(f"line {n + 1}: {e}") from None
    if found is None:
        raise RunRefused(f"line {n + 1} has no message text or tool-call arguments at {_path_text(path)}")
    start, end, raw = value_span(line, path)
    text, language = opened_text(raw, found)
    token = {"session": SESSION, "uri": uri, "lineId": doc.ids[n], "line": n, "path": list(path), "kind": found,
             "raw": raw, "version": doc.version}
    return {"text": text, "kind": found, "language": language, "token": token,
            "title": f"{os.path.basename(doc.path)} line {n + 1} {_path_text(path)}"}


async def write_text(ls: TunelintServer, args: list) -> dict:
    if not isinstance(args, (list, tuple)) or len(args) != 2 or not isinstance(args[0], dict) \
            or not isinstance(args[1], str):
        raise RunRefused(f"{CMD_WRITE_TEXT} takes (token, text): the token {CMD_EDIT_TEXT} answered, and the new text")
    token, text = args
    if token.get("session") != SESSION:
        raise RunRefused("the tunelint server restarted since this text was opened: open the message again "
                         "(your text is still in its tab)")
    path, kind, raw = _path(token.get("path")), token.get("kind"), token.get("raw")
    if kind not in ("text", "arguments") or not isinstance(raw, str):
        raise RunRefused("not a token tunelint.editText answered")
    doc = _source(ls, token.get("uri")).doc
    try:
        n = doc.ids.index(token.get("lineId"))
    except ValueError:  # the whole text was replaced (a client without incremental sync): the same line number
        n = token.get("line")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < doc.content_lines:
            raise RunRefused(f"line {token.get('line', 0) + 1} of {os.path.basename(doc.path)} is gone since the "
                             "message was opened: nothing was written back") from None
    line = doc.lines[n]
    start, end, now = value_span(line, path)
    if now != raw:
        raise RunRefused(f"line {n + 1} changed at {_path_text(path)} since the message was opened: nothing was "
                         "written back (open the message again to edit what is there now)")
    literal = new_literal(raw, kind, text)
    edit = types.TextEdit(range=types.Range(start=types.Position(line=n, character=to_utf16(line, start)),
                                            end=types.Position(line=n, character=to_utf16(line, end))),
                          new_text=literal)
    ws = ls.client_capabilities.workspace
    versioned = ws is not None and ws.workspace_edit is not None and bool(ws.workspace_edit.document_changes)
    if versioned:  # the editor refuses it if the document changed after this version
        change = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
            edits=[edit])])
    else:
        change = types.WorkspaceEdit(changes={doc.uri: [edit]})
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
        edit=change, label=title(path, kind)))
    if not result.applied:
        why = result.failure_reason or "the editor did not apply the edit (the document changed meanwhile?)"
        raise RunRefused(f"the message was not written back: {why}")
    return {"applied": True, "line": n, "token": {**token, "line": n, "raw": literal}}
