"""`tunelint/preview` and Edit message as text through a real server and pytest-lsp's client,
with a real tiny Hugging Face tokenizer (tests/hf_fixtures.py): every format, broken lines,
diagnostics on their message, the trained spans and the truncation point equal to the trainer's
(trainer/data.py's `encode` with transformers' tokenizer for the same folder), and the
write-back's round trip and refusals."""

import json
import random
import sys

import orjson
import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests import hf_fixtures as F
from tests.lsp.conftest import edit, open_doc

MAX_LENGTH = 40
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
CHAT = {"messages": [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the weather in Paris?\nSay \"sunny\" if so."},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny.", "weight": 0},
    {"role": "user", "content": [{"type": "text", "text": "And this?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    {"role": "assistant", "content": "The capital of France is Paris."},
]}
SHORT = {"messages": [{"role": "user", "content": "Hello there!"}, {"role": "assistant", "content": "Sure, yes."}]}
LINES = [
    CHAT,
    {"input": {"messages": [{"role": "user", "content": "Hello there!"}]},
     "preferred_output": [{"role": "assistant", "content": "How can I help you today?"}],
     "non_preferred_output": [{"role": "assistant", "content": "No."}]},
    {"prompt": "Two plus two?", "completion": "Four."},
    {"conversations": [{"from": "human", "value": "Hello there!"}, {"from": "gpt", "value": "Hi!"}],
     "system": "Be brief."},
    {"instruction": "Please summarise the following text in one sentence.", "input": "The quick brown fox.",
     "output": "A fox jumps."},
    '{"messages": [{"role": "user", "content": "cut',  # broken
    SHORT,
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "No hub."}]},  # TL: unknown role
    {"text": "Plain text example."},
]


def jsonl(items):
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory):
    return F.build_tokenizer(tmp_path_factory.mktemp("tok") / "tok", F.CHATML_TOOL_CALLS)


@pytest.fixture
def workspace(tmp_path, tokenizer_folder):
    (tmp_path / "tunelint.toml").write_text(f'profile = "hf"\ntokenizer = "hf:{tokenizer_folder}"\n'
                                            f'[train]\nmax_length = {MAX_LENGTH}\n')
    (tmp_path / "train.jsonl").write_text(jsonl(LINES))
    return tmp_path


def capabilities():
    caps = client_capabilities("visual-studio-code")
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities(dynamic_registration=True)
    return caps


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "tunelint", "server"]))
async def client(lsp_client: LanguageClient, workspace):
    lsp_client.workspace = workspace
    lsp_client.edits = []
    lsp_client.apply = True

    def apply_edit(params: types.ApplyWorkspaceEditParams):
        lsp_client.edits.append(params.edit)
        return types.ApplyWorkspaceEditResult(applied=lsp_client.apply)

    lsp_client.protocol.fm.features[types.WORKSPACE_APPLY_EDIT] = apply_edit
    lsp_client.protocol.fm.features[types.CLIENT_REGISTER_CAPABILITY] = lambda params: None
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities(), root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")]))
    yield
    await lsp_client.shutdown_session()


async def preview(client, uri, line):
    return await client.protocol.send_request_async("tunelint/preview", {"uri": uri, "line": line})


def plain(v):
    """pygls gives an unknown method's result as nested named tuples: back to JSON values."""
    if hasattr(v, "_asdict"):
        return {k: plain(x) for k, x in v._asdict().items()}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


async def test_a_chat_example_with_a_tool_call_previews_as_a_conversation(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    p = plain(await preview(client, uri, 0))
    assert p["format"] == "chat" and p["error"] is None
    roles = [m["role"] for m in p["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    user = p["messages"][1]
    assert user["text"] == 'What is the weather in Paris?\nSay "sunny" if so.'  # unescaped
    assert user["textPath"] == ["messages", 1, "content"]
    call = p["messages"][2]["toolCalls"][0]
    assert call["name"] == "get_weather" and call["id"] == "c1"
    assert call["arguments"] == '{\n  "city": "Paris"\n}'
    assert call["argumentsPath"] == ["messages", 2, "tool_calls", 0, "function", "arguments"]
    assert p["messages"][3]["toolCallId"] == "c1"
    assert [m["trained"] for m in p["messages"]] == [False, False, True, False, False, False, True]
    assert p["messages"][4]["weight"] == 0
    assert p["messages"][5]["parts"][1] == {"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}
    assert all(isinstance(m["tokens"], int) and m["tokens"] > 0 for m in p["messages"])
    assert sum(m["tokens"] for m in p["messages"]) == p["tokens"]["total"]
    model = p["model"]
    assert model["text"].startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert model["tokenCount"] == p["tokens"]["total"] > MAX_LENGTH
    assert model["truncation"]["token"] == MAX_LENGTH


@pytest.mark.parametrize(("line", "fmt", "roles", "trained"), [
    (1, "preference", ["user", "assistant", "assistant"], [False, True, False]),
    (2, "prompt_completion", ["user", "assistant"], [False, True]),
    (3, "sharegpt", ["system", "user", "assistant"], [False, False, True]),
    (4, "alpaca", ["user", "user", "assistant"], [False, False, True]),
    (8, "text", [None], [False]),
])
async def test_every_format_previews(client, line, fmt, roles, trained):
    uri = open_doc(client, client.workspace / "train.jsonl")
    p = plain(await preview(client, uri, line))
    assert p["format"] == fmt and p["error"] is None
    assert [m["role"] for m in p["messages"]] == roles
    assert [m["trained"] for m in p["messages"]] == trained
    assert all(m["text"] for m in p["messages"])
    counted = [m["tokens"] for m in p["messages"] if m["countedWith"] is None]
    assert all(isinstance(n, int) and n > 0 for n in counted), p["messages"]
    if fmt == "text":
        assert "unavailable" in p["model"]
    else:
        assert p["model"]["trained"] > 0 and p["model"]["text"]
    if fmt == "preference":
        assert [m["section"] for m in p["messages"]] == ["input", "preferred", "non_preferred"]
        assert p["model"]["rendered"] == "input + preferred_output"


async def test_a_broken_line_answers_its_parse_error_and_a_bad_request_is_refused(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    p = plain(await preview(client, uri, 5))
    assert p["messages"] == [] and p["format"] is None
    assert "not valid JSON" in p["error"]["message"] and p["error"]["column"] > 30
    assert [d["code"] for d in p["diagnostics"]] == ["TL009"], p["diagnostics"]
    with pytest.raises(Exception, match="past the end"):
        await preview(client, uri, 99)
    with pytest.raises(Exception, match="0-based line"):
        await client.protocol.send_request_async("tunelint/preview", {"uri": uri, "line": -1})


async def test_diagnostics_are_on_the_message_they_concern(client):
    uri = open_doc(client, client.workspace / "train.jsonl")
    p = plain(await preview(client, uri, 7))
    on_bot = p["messages"][1]["diagnostics"]
    assert on_bot and all(d["range"]["start"]["line"] == 7 for d in on_bot), p
    assert not p["messages"][0]["diagnostics"]


async def test_trained_spans_and_truncation_are_the_trainers(client, tokenizer_folder):
    pytest.importorskip("transformers", reason="the trainer's mask needs the `train` extra")
    from transformers import AutoTokenizer

    from tunelint.linter.to_chat import to_chat
    from tunelint.trainer.data import TrainingExample, encode

    tok = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    uri = open_doc(client, client.workspace / "train.jsonl")
    for line, obj in enumerate(LINES):
        if isinstance(obj, str) or "preferred_output" in obj or "text" in obj:
            continue
        p = plain(await preview(client, uri, line))
        model = p["model"]
        chat = to_chat(obj, p["format"])
        enc = encode(tok, TrainingExample(line + 1, chat["messages"], obj.get("tools")), MAX_LENGTH)
        mask = [0] * model["tokenCount"]
        for a, b in model["trainedTokens"]:
            mask[a:b] = [1] * (b - a)
        assert mask[:MAX_LENGTH] == [int(x != -100) for x in enc.labels], line
        assert model["tokenCount"] == enc.full_length
        cut = model["truncation"]["token"] if model["truncation"] else model["tokenCount"]
        assert cut == len(enc.input_ids), line
        assert model["trainedKept"] == enc.trained
        kept = tok.decode(enc.input_ids)
        assert model["text"][:model["truncation"]["char"]] == kept if model["truncation"] else model["text"] == kept
        for (a, b), (s, e) in zip(model["trainedTokens"], model["trainedChars"], strict=True):
            assert model["text"][s:e] == tok.decode(enc.input_ids[a:b] if b <= MAX_LENGTH else
                                                    tok(model["text"], add_special_tokens=False)["input_ids"][a:b])


# -- edit message as text ------------------------------------------------------------------------

async def edit_args(client, uri, line, character):
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=line, character=character),
                          end=types.Position(line=line, character=character)),
        context=types.CodeActionContext(diagnostics=[])))
    return [a for a in actions or [] if a.title.startswith("Edit ")]


async def command(client, name, *args):
    return plain(await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))))


def apply(text: str, edit: types.WorkspaceEdit) -> str:
    """The client's side: the one text edit on one line."""
    (change,) = edit.document_changes
    (e,) = change.edits
    lines = text.split("\n")
    line = lines[e.range.start.line].encode("utf-16-le", "surrogatepass")
    a, b = e.range.start.character * 2, e.range.end.character * 2
    new = line[:a] + e.new_text.encode("utf-16-le", "surrogatepass") + line[b:]
    lines[e.range.start.line] = new.decode("utf-16-le", "surrogatepass")
    return "\n".join(lines)


def nasty_texts(n: int) -> list[str]:
    rnd = random.Random(23)
    alphabet = ['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "é", "😀", "\u2028", "\ufeff", "}", "{",
                "\\n", "a", " ", "\\u00e9"]
    return ["", '"quoted" \\back\\ \n\r\n😀'] + [
        "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))) for _ in range(n)]


async def test_edit_as_text_round_trips_any_text(client):
    path = client.workspace / "train.jsonl"
    text = path.read_text()
    uri = open_doc(client, path, text)
    line0 = text.split("\n")[0]
    actions = await edit_args(client, uri, 0, line0.index("Say"))
    assert [a.title for a in actions] == ["Edit message as text"]  # (lsprotocol's client reads an action
    # with a command as a Command, losing its arguments: tests/test_edit_text.py checks which value)
    version = 1
    opened = await command(client, "tunelint.editText", uri, 0, ["messages", 1, "content"])
    assert opened["text"] == CHAT["messages"][1]["content"] and opened["language"] == "markdown"
    token = opened["token"]
    for new in nasty_texts(20):
        client.edits.clear()
        done = await command(client, "tunelint.writeText", token, new)
        assert done["applied"]
        before = text
        text = apply(text, client.edits[0])
        version += 1
        (change,) = client.edits[0].document_changes
        client.text_document_did_change(types.DidChangeTextDocumentParams(  # as the editor tells it
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                             for e in change.edits]))
        obj = orjson.loads(text.split("\n")[0])
        assert obj["messages"][1]["content"] == new, repr(new)
        want = json.loads(before.split("\n")[0])
        want["messages"][1]["content"] = new
        assert obj == want  # nothing else on the line changed
        assert text.split("\n")[1:] == before.split("\n")[1:]
        token = done["token"]
    reopened = await command(client, "tunelint.editText", uri, 0, ["messages", 1, "content"])
    assert reopened["text"] == new


async def test_tool_call_arguments_are_edited_as_json_and_written_back_compact(client):
    path = client.workspace / "train.jsonl"
    text = path.read_text()
    uri = open_doc(client, path, text)
    line0 = text.split("\n")[0]
    actions = await edit_args(client, uri, 0, line0.index("Paris\\\""))
    assert [a.title for a in actions] == ["Edit tool-call arguments as text"]
    opened = await command(client, "tunelint.editText", uri, 0, ["messages", 2, "tool_calls", 0, "function",
                                                                  "arguments"])
    assert opened["language"] == "json" and json.loads(opened["text"]) == {"city": "Paris"}
    with pytest.raises(Exception, match="not valid JSON"):
        await command(client, "tunelint.writeText", opened["token"], '{"city": ')
    assert not client.edits
    await command(client, "tunelint.writeText", opened["token"], '{\n  "city": "Lyon",\n  "days": [1, 2]\n}')
    obj = orjson.loads(apply(text, client.edits[0]).split("\n")[0])
    assert obj["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"city":"Lyon","days":[1,2]}'


async def test_a_concurrent_edit_of_the_value_makes_the_write_back_refuse(client):
    path = client.workspace / "train.jsonl"
    text = path.read_text()
    uri = open_doc(client, path, text)
    opened = await command(client, "tunelint.editText", uri, 6, ["messages", 1, "content"])
    line = text.split("\n")[6]
    # an edit elsewhere on the line and lines inserted above: the value is still there
    at = line.index("Hello")
    edit(client, uri, 2, 6, at, at + 5, "Howdy")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            text=json.dumps(SHORT) + "\n")]))
    done = await command(client, "tunelint.writeText", opened["token"], "Sure, no.")
    (change,) = client.edits[-1].document_changes
    assert change.edits[0].range.start.line == 7 and change.text_document.version == 3
    assert done["line"] == 7
    # the value itself changed: refused, nothing sent
    client.edits.clear()
    at = line.index("Sure, yes")
    edit(client, uri, 4, 7, at, at + 4, "Yes!")
    with pytest.raises(Exception, match="changed at messages\\[1\\].content"):
        await command(client, "tunelint.writeText", done["token"], "other")
    assert not client.edits
    # the editor did not apply it: refused
    fresh = await command(client, "tunelint.editText", uri, 7, ["messages", 1, "content"])
    client.apply = False
    with pytest.raises(Exception, match="not written back"):
        await command(client, "tunelint.writeText", fresh["token"], "x")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "tunelint", "server"]))
async def unversioned(lsp_client: LanguageClient, workspace):
    """A client whose workspace edits are plain `changes` (no versioned documentChanges)."""
    lsp_client.workspace = workspace
    lsp_client.edits = []
    lsp_client.protocol.fm.features[types.WORKSPACE_APPLY_EDIT] = lambda params: (
        lsp_client.edits.append(params.edit) or types.ApplyWorkspaceEditResult(applied=True))
    lsp_client.protocol.fm.features[types.CLIENT_REGISTER_CAPABILITY] = lambda params: None
    caps = client_capabilities("neovim")
    caps.workspace.workspace_edit = types.WorkspaceEditClientCapabilities(document_changes=False)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=caps, root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")]))
    yield
    await lsp_client.shutdown_session()


async def test_a_client_without_document_changes_gets_plain_changes(unversioned):
    client = unversioned
    path = client.workspace / "train.jsonl"
    uri = open_doc(client, path)
    opened = await command(client, "tunelint.editText", uri, 2, ["completion"])
    assert opened["text"] == "Four." and opened["token"]["kind"] == "text"
    await command(client, "tunelint.writeText", opened["token"], 'Four, "4".')
    (edit,) = client.edits[0].changes[uri]
    line = path.read_text().split("\n")[2]
    new = line[:edit.range.start.character] + edit.new_text + line[edit.range.end.character:]
    assert json.loads(new) == {"prompt": "Two plus two?", "completion": 'Four, "4".'}
