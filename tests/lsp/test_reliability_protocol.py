"""The LSP life cycle and invalid params, against a real server process: every request gets an
answer (-32002 before initialize, InvalidRequest after shutdown, InvalidParams for params that
do not fit the LSP types), `exit` exits 1 without `shutdown`, and a change that cannot be applied
never leaves the document silently different from the editor's."""

import json

import pytest

from tests.lsp.conftest import BAD_ROLE, GOOD, jsonl
from tests.lsp.lsp_raw import RawServer
from tunelint.server.documents import Document


@pytest.fixture
def ws(tmp_path):
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\n')
    return tmp_path


@pytest.fixture
def server(ws):
    s = RawServer(ws)
    yield s
    s.close()


def hover(uri, line=0, character=0):
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def test_requests_before_initialize_answer_server_not_initialized(server, ws):
    uri = (ws / "train.jsonl").as_uri()
    reply = server.request("textDocument/hover", hover(uri))
    assert reply["error"]["code"] == -32002, reply
    assert "not initialized" in reply["error"]["message"]
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "jsonl", "version": 1,
                                                            "text": jsonl([BAD_ROLE])}})  # dropped (LSP)
    assert "result" in server.initialize(ws)
    again = server.request("initialize", {"processId": None, "rootUri": ws.as_uri(), "capabilities": {}})
    assert again["error"]["code"] == -32600
    assert server.request("textDocument/hover", hover(uri))["result"] is None


def test_requests_after_shutdown_answer_invalid_request_and_exit_is_0(server, ws):
    server.initialize(ws)
    assert server.request("shutdown")["result"] is None
    reply = server.request("textDocument/hover", hover((ws / "train.jsonl").as_uri()))
    assert reply["error"]["code"] == -32600 and "shut down" in reply["error"]["message"], reply
    assert server.request("shutdown")["error"]["code"] == -32600
    server.notify("exit")
    assert server.proc.wait(timeout=30) == 0


def test_exit_without_shutdown_exits_1(server, ws):
    server.initialize(ws)
    server.notify("exit")
    assert server.proc.wait(timeout=30) == 1


def test_exit_before_initialize_exits_1(server):
    server.notify("exit")
    assert server.proc.wait(timeout=30) == 1


def test_invalid_params_get_an_invalid_params_error_that_says_why(server, ws):
    server.initialize(ws)
    uri = (ws / "train.jsonl").as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "jsonl", "version": 1,
                                                            "text": jsonl(GOOD)}})
    for params, words in [(hover(uri, -1, 0), "line"), (hover(uri, 0, -5), "character"),
                          (hover(uri, 2**31, 0), "line"), ({"textDocument": {"uri": uri}}, "position"),
                          (None, "params"), ({"textDocument": {"uri": uri}, "position": {"line": "x", "character": 0}},
                                             "line")]:
        reply = server.request("textDocument/hover", params)
        assert reply.get("error", {}).get("code") == -32602, (params, reply)
        assert words in reply["error"]["message"], reply
    rng = {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}
    for method, params in [("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": rng}),
                           ("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng,
                                                        "context": {"diagnostics": []}})]:
        reply = server.request(method, params)
        assert reply["error"]["code"] == -32602, reply
    # the server still works
    assert server.request("textDocument/hover", hover(uri, 0, 3))["result"] is not None


def test_a_change_with_a_negative_position_is_refused_loudly_until_the_whole_text_comes(server, ws):
    server.initialize(ws)
    uri = (ws / "train.jsonl").as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "jsonl", "version": 1,
                                                            "text": jsonl(GOOD + [BAD_ROLE])}})
    assert any("bot" in d["message"] for d in server.diagnostics(uri, 1))
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": -1, "character": 0}, "end": {"line": 2, "character": 0}}, "text": ""}]})
    (lost,) = server.diagnostics(uri, 2)
    assert "lost track" in lost["message"] and "line" in lost["message"], lost
    assert any(n["method"] == "window/logMessage" and "cannot apply" in n["params"]["message"]
               for n in server.notifications)
    # later incremental changes cannot be applied on an unknown text: still out of sync
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": " "}]})
    assert "lost track" in server.diagnostics(uri, 3)[0]["message"]
    # the editor's whole text brings it back
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [
        {"text": jsonl([GOOD[0], BAD_ROLE])}]})
    diags = server.diagnostics(uri, 4)
    assert diags and all("lost track" not in d["message"] for d in diags)
    assert any("bot" in d["message"] and d["range"]["start"]["line"] == 1 for d in diags), diags
    assert server.request("shutdown")["result"] is None


def test_positions_past_the_end_are_clamped_as_lsp_says():
    doc = Document.open("file:///x.jsonl", "/x.jsonl", 1, "ab\ncd\r\nef")
    doc.apply((0, 99), (0, 99), "X")  # past the line's end: at its end
    doc.apply((1, 99), (1, 99), "Y")  # a CRLF line's end is before its "\r"
    doc.apply((7, 0), (9, 3), "Z")  # past the last line: the document's end
    assert doc.text == "abX\ncdY\r\nefZ"


def test_a_reversed_range_is_the_same_range():
    doc = Document.open("file:///x.jsonl", "/x.jsonl", 1, "0123456789\nabc")
    doc.apply((0, 7), (0, 2), "-")
    assert doc.lines == ["01-789", "abc"]
    doc.apply((1, 1), (0, 4), "+")
    assert doc.text == "01-7+bc"


def test_a_column_inside_a_surrogate_pair_cuts_it_as_a_utf16_editor_does():
    doc = Document.open("file:///x.jsonl", "/x.jsonl", 1, "a🙂b")
    doc.apply((0, 2), (0, 2), "x")  # between the two halves of 🙂
    assert doc.text == "a\ud83dx\ude42b"
    assert doc.text.encode("utf-16-le", "surrogatepass") == "a\ud83dx\ude42b".encode("utf-16-le", "surrogatepass")
    doc.apply((0, 2), (0, 3), "")  # the halves meet again: one character
    assert doc.text == "a🙂b"
    doc.apply((0, 4), (0, 4), "\ud83d")  # a lone half at the end of a line measures one unit
    doc.apply((0, 99), (0, 99), "!")
    assert doc.text == "a🙂b\ud83d!"
    assert json.dumps(doc.text)
