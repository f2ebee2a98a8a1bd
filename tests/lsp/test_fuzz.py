"""Fuzz the real server (a `tunelint server` process through pytest-lsp) with random protocol
traffic: opens, incremental changes with valid, past-the-end and reversed ranges (text with
newlines, CRLF, emoji, lone surrogates), changes with negative positions, hover / inlay hint /
code action / code lens / pull-diagnostic requests at random positions, and malformed params.

Checked: every request is answered (a result, or an error for invalid params) within a timeout;
after each episode the server's diagnostics for the final version are exactly a fresh lint of
the editor's text (so the server's text is the editor's); and after the whole document is
replaced by a known text, its diagnostics are exactly `tunelint check`'s for that text.

The editor's text is kept by a model of a UTF-16 editor written here, independently of the
server's documents: positions past the end of a line are its end, past the last line the
document's end; a reversed range is the same range; a column between the halves of a surrogate
pair cuts it. Seeded: the same traffic every run."""

import asyncio
import json
import random
import subprocess
import sys
import uuid
from concurrent.futures import Future
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.lsp.conftest import BAD_ROLE, GOOD, diagnostics_for, jsonl
from tunelint.linter.engine import Linter
from tunelint.server.documents import Document
from tunelint.server.options import editor_options
from tunelint.server.project import Project
from tunelint.server.to_lsp import diagnostic

pytestmark = pytest.mark.slow

SEED = 20261201
EPISODES = 6
STEPS = 60
REPLY_TIMEOUT = 60.0

LINES = [json.dumps(GOOD[0]), json.dumps(GOOD[1]), json.dumps(BAD_ROLE),
         json.dumps({"messages": [{"role": "user", "content": "Café? 🙂"}, {"role": "assistant", "content": "Oui."}]},
                    ensure_ascii=False),
         '{"messages": [{"role": "user", "content": "x"},]}', '{"prompt": "a", "completion": "b"}', "", "   "]
PIECES = ["", "a", "\n", "\r\n", '"', "}", "{", ",", ":", " ", "é", "🙂", "\ud83d", "\ude42", "\t", "\\", "null",
          '"role": "bot"', "\n" + LINES[1], LINES[2] + "\r\n", LINES[3] + "\n", LINES[0] + "\n", "\n" + LINES[4],
          "x" * 300]


@pytest.fixture
def workspace(tmp_path) -> Path:  # conftest's, without a validation file: one document's findings
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n')
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD))
    return tmp_path


class Editor:
    """The editor's text as UTF-16 code units, lines split at "\\n" (a CRLF line's "\\r" is
    part of its line break: not a column)."""

    def __init__(self, text: str):
        self.units = self._units(text)

    @staticmethod
    def _units(text: str) -> list[int]:
        b = text.encode("utf-16-le", "surrogatepass")
        return [int.from_bytes(b[i:i + 2], "little") for i in range(0, len(b), 2)]

    @property
    def text(self) -> str:
        return b"".join(u.to_bytes(2, "little") for u in self.units).decode("utf-16-le", "surrogatepass")

    def line_spans(self) -> list[tuple[int, int]]:
        """(start, end of content) of each line, in units."""
        spans, start = [], 0
        for i, u in enumerate(self.units):
            if u == 0x0A:
                spans.append((start, i))
                start = i + 1
        spans.append((start, len(self.units)))
        return [(s, e - 1 if e > s and self.units[e - 1] == 0x0D else e) for s, e in spans]

    def offset(self, line: int, character: int) -> int:
        spans = self.line_spans()
        if line >= len(spans):
            return spans[-1][1]
        s, e = spans[line]
        return min(s + character, e)

    def apply(self, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        a, b = sorted((self.offset(*start), self.offset(*end)))
        self.units[a:b] = self._units(text)

    def lines(self) -> list[tuple[int, int]]:
        return [(n, e - s) for n, (s, e) in enumerate(self.line_spans())]


def pos(line: int, character: int) -> dict:
    return {"line": line, "character": character}


class Fuzzer:
    def __init__(self, client, rnd: random.Random, uri: str):
        self.client, self.rnd, self.uri = client, rnd, uri
        self.version = 1
        self.pending: list[tuple[str, asyncio.Future, bool]] = []
        self.answered = 0

    # -- raw JSON-RPC: what a typed client would refuse to build ---------------------------

    def notify_raw(self, method: str, params) -> None:
        self.client.protocol._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    def request_raw(self, method: str, params) -> asyncio.Future:
        msg_id = str(uuid.uuid4())
        future: Future = Future()
        self.client.protocol._request_futures[msg_id] = future
        self.client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return asyncio.wrap_future(future)

    def expect(self, what: str, future, invalid: bool = False) -> None:
        self.pending.append((what, asyncio.ensure_future(future), invalid))

    async def settle(self) -> None:
        """Every request sent so far is answered: a result, or InvalidParams for invalid ones."""
        for what, future, invalid in self.pending:
            try:
                await asyncio.wait_for(future, REPLY_TIMEOUT)
                assert not invalid, f"{what}: invalid params were answered with a result"
            except JsonRpcException as e:
                assert invalid and e.code == -32602, f"{what}: {e.code} {e}"
            except asyncio.TimeoutError:
                raise AssertionError(f"{what}: no reply in {REPLY_TIMEOUT} s") from None
            self.answered += 1
        self.pending.clear()

    # -- random traffic -------------------------------------------------------------------

    def random_position(self, editor: Editor) -> tuple[int, int]:
        lines = editor.lines()
        r = self.rnd.random()
        if r < 0.1:  # past the last line
            return len(lines) + self.rnd.randint(0, 3), self.rnd.randint(0, 5)
        line, length = lines[self.rnd.randrange(len(lines))]
        if r < 0.25:  # past the end of the line
            return line, length + self.rnd.randint(1, 5)
        return line, self.rnd.randint(0, length)

    def random_text(self) -> str:
        return "".join(self.rnd.choice(PIECES) for _ in range(self.rnd.choice((0, 1, 1, 1, 2, 3))))

    def change(self, editor: Editor) -> None:
        self.version += 1
        r = self.rnd.random()
        if r < 0.05:  # the whole text
            text = "\n".join(self.rnd.choice(LINES) for _ in range(self.rnd.randint(0, 5))) + self.rnd.choice(
                ["", "\n", "\r\n"])
            editor.units = Editor._units(text)
            changes = [{"text": text}]
        else:
            changes = []
            for _ in range(self.rnd.choice((1, 1, 1, 2, 3))):  # several in one message: applied in order
                a = self.random_position(editor)
                if self.rnd.random() < 0.7:  # a keystroke's range: on one line, a few columns
                    b = (a[0], max(0, a[1] + self.rnd.randint(-3, 3)))
                else:
                    b = self.random_position(editor)
                if self.rnd.random() < 0.5:
                    a, b = sorted((a, b))
                text = self.random_text()
                editor.apply(a, b, text)
                changes.append({"range": {"start": pos(*a), "end": pos(*b)}, "text": text})
        self.notify_raw("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                   "contentChanges": changes})

    async def negative_change(self, editor: Editor) -> None:
        """A change with a negative position: refused loudly (the document is shown out of sync)
        until the editor sends its whole text, as an editor recovering would."""
        self.version += 1
        bad = {"range": {"start": pos(-self.rnd.randint(1, 3), 0), "end": pos(0, self.rnd.randint(-2, 2))},
               "text": "lost"}
        self.notify_raw("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                   "contentChanges": [bad]})
        diags = await diagnostics_for(self.client, self.uri, self.version, timeout=REPLY_TIMEOUT)
        assert len(diags) == 1 and "lost track" in diags[0].message, diags
        self.version += 1
        self.notify_raw("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                   "contentChanges": [{"text": editor.text}]})

    def request(self, editor: Editor) -> None:
        uri = {"uri": self.uri}
        a, b = sorted((self.random_position(editor), self.random_position(editor)))
        rng = {"start": pos(*a), "end": pos(*b)}
        kind = self.rnd.randrange(7)
        if kind == 0:
            self.expect("hover", self.request_raw("textDocument/hover", {"textDocument": uri, "position": pos(*a)}))
        elif kind == 1:
            self.expect("inlayHint", self.request_raw("textDocument/inlayHint", {"textDocument": uri, "range": rng}))
        elif kind == 2:
            self.expect("codeAction", self.request_raw("textDocument/codeAction", {
                "textDocument": uri, "range": rng, "context": {"diagnostics": [], "only": self.rnd.choice(
                    [None, ["quickfix"], ["source.fixAll"]])}}))
        elif kind == 3:
            self.expect("codeLens", self.request_raw("textDocument/codeLens", {"textDocument": uri}))
        elif kind == 4:
            self.expect("diagnostic", self.request_raw("textDocument/diagnostic", {"textDocument": uri}))
        else:  # malformed: negative or huge positions, a missing field, a wrong type, no params
            method, params = self.rnd.choice([
                ("textDocument/hover", {"textDocument": uri, "position": pos(-1, 0)}),
                ("textDocument/hover", {"textDocument": uri, "position": pos(0, 2**31)}),
                ("textDocument/hover", {"textDocument": uri}),
                ("textDocument/hover", None),
                ("textDocument/inlayHint", {"textDocument": uri, "range": {"start": pos(0, -3), "end": pos(0, 0)}}),
                ("textDocument/codeAction", {"textDocument": uri, "range": rng}),
                ("textDocument/codeLens", {"textDocument": "not an identifier"}),
                ("textDocument/diagnostic", {"textDocument": {}}),
            ])
            self.expect(f"malformed {method} {params}", self.request_raw(method, params), invalid=True)


def expected_diagnostics(workspace: Path, text: str) -> list[tuple]:
    """A fresh lint of `text` as train.jsonl, as the server shows it."""
    path = str(workspace / "train.jsonl")
    project = Project(str(workspace), editor_options({"profile": "hf"})[0].settings_values())
    with Linter(use_cache=False, jobs=1) as linter:
        findings = linter.lint_text(text, path, project.settings_for(path)).findings
    doc = Document.open("file://" + path, path, 0, text)
    return [key(diagnostic(f, doc)) for f in findings]


def key(d: types.Diagnostic) -> tuple:
    r = d.range
    return (r.start.line, r.start.character, r.end.line, r.end.character, d.code, d.message, d.severity)


@pytest.mark.parametrize("client", ["vscode-push", "vscode-pull"], indirect=True)
async def test_random_protocol_traffic_is_always_answered_and_the_text_stays_the_editors(client, tmp_path_factory):
    rnd = random.Random(SEED)
    ws = client.workspace
    uri = (ws / "train.jsonl").as_uri()
    text = jsonl(GOOD)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="jsonl", version=1, text=text)))
    fuzz = Fuzzer(client, rnd, uri)
    editor = Editor(text)
    for _ in range(EPISODES):
        for _ in range(STEPS):
            r = rnd.random()
            if r < 0.5:
                fuzz.change(editor)
            elif r < 0.53:
                await fuzz.settle()
                await fuzz.negative_change(editor)
            else:
                fuzz.request(editor)
            if rnd.random() < 0.2:
                await fuzz.settle()
        await fuzz.settle()
        got = await diagnostics_for(client, uri, fuzz.version, timeout=REPLY_TIMEOUT)
        assert sorted(map(key, got)) == sorted(expected_diagnostics(ws, editor.text)), repr(editor.text)
    assert fuzz.answered > EPISODES * STEPS // 4

    # the whole document replaced by a known text: exactly `tunelint check`'s findings
    known = jsonl(GOOD + [BAD_ROLE]) + '{"messages": [\n\n{"prompt": "p", "completion": "c"}\n'
    fuzz.version += 1
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=fuzz.version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=known)]))
    got = await diagnostics_for(client, uri, fuzz.version, timeout=REPLY_TIMEOUT)
    cli_ws = tmp_path_factory.mktemp("cli")  # the same config and file name, outside the server's workspace
    (cli_ws / "tunelint.toml").write_text((ws / "tunelint.toml").read_text())
    (cli_ws / "train.jsonl").write_text(known)
    report = json.loads(subprocess.run([sys.executable, "-m", "tunelint", "check", "--format", "json", "train.jsonl"],
                                       cwd=cli_ws, capture_output=True, text=True, timeout=120).stdout)
    cli = sorted((f["line"] - 1, f["column"] - 1, f["code"], f["message"]) for f in report["findings"])
    assert cli and sorted((d.range.start.line, d.range.start.character, d.code, d.message) for d in got) == cli
