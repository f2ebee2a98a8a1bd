"""A real tunelint server process driven by pytest-lsp's client, with the capability profiles
of the editors we ship for."""

import json
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

GOOD = [
    {"messages": [{"role": "user", "content": "How do I pair a lamp?"},
                  {"role": "assistant", "content": "Hold its button for five seconds."}]},
    {"messages": [{"role": "user", "content": "Can I dim it?"},
                  {"role": "assistant", "content": "Yes, with the slider."}]},
]
BAD_ROLE = {"messages": [{"role": "user", "content": "Is there a hub?"}, {"role": "bot", "content": "No hub."}]}


def jsonl(items) -> str:
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


def pull_capabilities() -> types.ClientCapabilities:
    """VS Code's profile with pull diagnostics, as current VS Code sends it."""
    caps = client_capabilities("visual-studio-code")
    caps.text_document.diagnostic = types.DiagnosticClientCapabilities(dynamic_registration=True,
                                                                       related_document_support=False)
    return caps


def panel_capabilities() -> types.ClientCapabilities:
    """VS Code with the tunelint extension, which declares its compare panel."""
    caps = client_capabilities("visual-studio-code")
    caps.experimental = {"tunelintComparePanel": True}
    return caps


PROFILES = {
    "vscode-push": lambda: client_capabilities("visual-studio-code"),
    "vscode-pull": pull_capabilities,
    "neovim": lambda: client_capabilities("neovim"),
}
# profiles a test asks for by name (`indirect=True`), not run by every test
NAMED_PROFILES = {**PROFILES, "vscode-panel": panel_capabilities}


@pytest.fixture
def workspace(tmp_path) -> Path:
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n')
    (tmp_path / "train.jsonl").write_text(jsonl(GOOD + [BAD_ROLE]))
    (tmp_path / "validation.jsonl").write_text(jsonl([GOOD[0]]))
    return tmp_path


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "tunelint", "server"]),
    params=list(PROFILES),
)
async def client(request, lsp_client: LanguageClient, workspace: Path):
    lsp_client.set_configuration({"profile": "hf"}, section="tunelint")
    lsp_client.profile = request.param
    lsp_client.workspace = workspace
    lsp_client.published = {}
    lsp_client.registrations = []
    features = lsp_client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def remember(*args):  # pytest-lsp keeps the diagnostics; we also want their version
        params = args[-1]
        lsp_client.published[params.uri] = (params.version, params.diagnostics)
        return original(*args)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = remember
    features[types.CLIENT_REGISTER_CAPABILITY] = lambda params: lsp_client.registrations.append(params)
    lsp_client.refreshes = []  # the profiles claim refresh support: answer as the editors do
    features[types.WORKSPACE_INLAY_HINT_REFRESH] = lambda params: lsp_client.refreshes.append("inlayHint")
    features[types.WORKSPACE_CODE_LENS_REFRESH] = lambda params: lsp_client.refreshes.append("codeLens")
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=NAMED_PROFILES[request.param](),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
        initialization_options={"profile": "hf"},
    ))
    yield
    await lsp_client.shutdown_session()


def pulls(client: LanguageClient) -> bool:
    td = client.capabilities.text_document
    return td is not None and td.diagnostic is not None


async def diagnostics_for(client: LanguageClient, uri: str, version: int | None = None, timeout: float = 20.0):
    """The document's current diagnostics: pulled where the client pulls, else the latest
    published for `version`."""
    import asyncio
    import time

    if pulls(client):
        report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
        return list(report.items)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.published.get(uri)
        if got is not None and (version is None or got[0] == version):
            return list(got[1])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics published for {uri} version {version}: {client.published.get(uri)}")


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="jsonl", version=version, text=path.read_text() if text is None else text)))
    return uri


def edit(client: LanguageClient, uri: str, version: int, line: int, start: int, end: int, text: str) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=line, character=start),
                              end=types.Position(line=line, character=end)), text=text)]))
