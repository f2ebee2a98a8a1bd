"""Progressive open (server/indexing.py): with a large train.jsonl on disk, an opened validation
file's own findings come before the workspace is indexed, with the pending marker; requests are
answered while indexing runs; once it ends, the leakage shows and the marker goes. Order, never
time: each step is an event the client records as it arrives."""

import asyncio
import random
import re
import time

import pytest
from lsprotocol import types

from tests.lsp.conftest import GOOD, diagnostics_for, jsonl, open_doc, pulls
from tunelint.server.indexing import BACKGROUND_BYTES, CHUNK_LINES, PENDING

TRAIN_LINES = 12_000
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "su", "ti", "vo", "ze", "bo", "da")
         for b in ("ran", "tel", "mos", "vik", "dul", "pra", "nes", "gor", "lim", "faz", "quo", "wes")]
LEAK = {"messages": [{"role": "user", "content": "Which fuse does the porch lamp take?"},
                     {"role": "assistant", "content": "A 5 A glass fuse, behind the cover."}]}
OWN_PROBLEM = {"messages": [{"role": "user", "content": "Is there a hub?"}, {"role": "bot", "content": "No hub."}]}


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(10)) + "."


@pytest.fixture
def workspace(tmp_path):
    """A train.jsonl over BACKGROUND_BYTES whose last line a validation example repeats."""
    rng = random.Random(25)
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\nmax_tokens = 4096\n')
    train = [{"messages": [{"role": "user", "content": _sentence(rng)},
                           {"role": "assistant", "content": _sentence(rng)}]} for _ in range(TRAIN_LINES - 1)]
    (tmp_path / "train.jsonl").write_text(jsonl(train + [LEAK]))
    assert (tmp_path / "train.jsonl").stat().st_size > BACKGROUND_BYTES and TRAIN_LINES > 2 * CHUNK_LINES
    (tmp_path / "validation.jsonl").write_text(jsonl([GOOD[0], OWN_PROBLEM, LEAK]))
    return tmp_path


def record(client) -> list:
    """The events as they arrive: ("progress", kind, message) and ("publish", uri, codes)."""
    events: list = []
    features = client.protocol.fm.features
    inner_progress = features[types.PROGRESS]
    inner_publish = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def progress(*args):
        value = args[-1].value or {}
        events.append(("progress", value.get("kind"), value.get("message")))
        return inner_progress(*args)

    def publish(*args):
        params = args[-1]
        events.append(("publish", params.uri, [d.code for d in params.diagnostics]))
        return inner_publish(*args)

    features[types.PROGRESS] = progress
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    return events


async def until(check, what: str, at_most_s: float = 120.0):
    deadline = time.monotonic() + at_most_s  # a bound on waiting, not a timing assertion
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {what}")


def ended(events) -> bool:
    return any(e[:2] == ("progress", "end") for e in events)


@pytest.mark.slow
@pytest.mark.parametrize("client", ["vscode-push", "vscode-pull"], indirect=True)
async def test_own_findings_first_then_leakage_once_indexed(client):
    events = record(client)
    ws = client.workspace
    # indexing starts with the server (the workspace's split files): open once it is under way
    await until(lambda: any(e[:2] == ("progress", "begin") for e in events), "indexing begin")
    uri = open_doc(client, ws / "validation.jsonl")
    first = await diagnostics_for(client, uri, 1)
    codes = [d.code for d in first]
    assert "TL104" in codes and "TL904" not in codes, codes  # its own finding, no leakage yet
    marker = [d for d in first if d.code == "pending"]
    assert len(marker) == 1 and marker[0].message.startswith(f"{PENDING}: indexing train.jsonl")
    assert marker[0].severity == types.DiagnosticSeverity.Information and marker[0].range.start.line == 0

    # requests are answered while indexing runs
    pos = types.Position(line=1, character=40)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=types.Range(start=pos, end=pos),
        context=types.CodeActionContext(diagnostics=[])))
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert hover is not None and "Tokens" in hover.contents.value
    assert any("baseline" in a.title for a in actions)
    assert any(PENDING in lens.command.title for lens in lenses)
    assert not ended(events), "the open's diagnostics and the requests came before indexing ended"

    reports = [e[2] for e in events if e[:2] == ("progress", "report") and e[2] and "/" in e[2]]
    await until(lambda: ended(events), "indexing end")
    assert reports and all(re.fullmatch(r"indexing train\.jsonl: [\d,]+ / 12,000", m) for m in reports), reports

    # then the leakage, and the marker goes
    def settled():
        return diagnostics_for(client, uri, 1)

    async def leak_shown():
        diags = await settled()
        return diags if any(d.code == "TL904" for d in diags) else None

    deadline = time.monotonic() + 60
    after = None
    while after is None and time.monotonic() < deadline:
        after = await leak_shown()
        await asyncio.sleep(0.05)
    assert after is not None, "no leakage after indexing"
    assert not [d for d in after if d.code == "pending"]
    leak = [d for d in after if d.code == "TL904"]
    assert leak[0].range.start.line == 2 and f"train.jsonl:{TRAIN_LINES}" in leak[0].message
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert not any(PENDING in lens.command.title for lens in lenses)
    if not pulls(client):  # pushed: the marked version, then the complete one, in that order
        published = [e[2] for e in events if e[0] == "publish" and e[1] == uri]
        assert "pending" in published[0] and "TL904" not in published[0]
        assert "pending" not in published[-1] and "TL904" in published[-1]
