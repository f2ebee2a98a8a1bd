"""workspace/didChangeWatchedFiles: editors' lock, backup, swap and temporary files, and what is
not a regular file, change nothing; a split file changed on disk re-publishes only the open
documents whose (cross-file) findings it changes."""

import asyncio
import json
import os
import time

import pytest
from lsprotocol import types

from tests.lsp.conftest import diagnostics_for, open_doc, pulls
from tunelint.server.main import is_scratch_file

OTHER = {"messages": [{"role": "user", "content": "Where is the reset switch?"},
                      {"role": "assistant", "content": "Under the base."}]}


@pytest.mark.parametrize("name", [".#train.jsonl", "#train.jsonl#", "train.jsonl~", ".train.jsonl.swp",
                                  ".train.jsonl.swo", "train.jsonl.tmp", "4913", "sub/.#validation.jsonl"])
def test_scratch_files_are_recognised(name):
    assert is_scratch_file(name)


@pytest.mark.parametrize("name", ["train.jsonl", "validation.jsonl", "dev-set.jsonl", "sub/test.jsonl"])
def test_split_files_are_not_scratch_files(name):
    assert not is_scratch_file(name)


def count_publishes(client) -> dict:
    """uri → how many publishDiagnostics arrived since (on top of conftest's own record)."""
    counts: dict[str, int] = {}
    features = client.protocol.fm.features
    inner = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def counting(*args):
        counts[args[-1].uri] = counts.get(args[-1].uri, 0) + 1
        return inner(*args)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = counting
    return counts


async def quiet(counts: dict, for_s: float = 1.0, at_most_s: float = 20.0) -> None:
    """Wait until no diagnostics were published for `for_s` seconds."""
    deadline = time.monotonic() + at_most_s
    seen, since = sum(counts.values()), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now = sum(counts.values())
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= for_s:
            return


def changes(client, *events):
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(client.workspace / name).as_uri(), type=kind) for name, kind in events]))


async def opened(client) -> tuple[dict, str, str]:
    ws = client.workspace
    (ws / "test.jsonl").write_text(json.dumps(OTHER) + "\n")
    counts = count_publishes(client)
    train = open_doc(client, ws / "train.jsonl")
    test = open_doc(client, ws / "test.jsonl")
    await diagnostics_for(client, train, 1)
    await diagnostics_for(client, test, 1)
    await quiet(counts)  # the workspace's first round (load_workspace) is over
    counts.clear()
    return counts, train, test


async def test_editor_lock_backup_and_swap_files_trigger_no_lint(client):
    counts, train, test = await opened(client)
    ws = client.workspace
    C, D = types.FileChangeType.Created, types.FileChangeType.Deleted
    os.symlink("user@host.1234:1700000000", ws / ".#train.jsonl")  # Emacs's lock: a dangling symlink
    (ws / "#validation.jsonl#").write_text(json.dumps(OTHER) + "\n")  # auto-save
    (ws / "validation.jsonl~").write_text(json.dumps(OTHER) + "\n")  # backup
    (ws / "test.jsonl.tmp").write_text(json.dumps(OTHER) + "\n")  # a temporary file
    os.mkfifo(ws / "pipe_validation.jsonl")  # not a regular file (reading it would block)
    os.mkdir(ws / "dir_test.jsonl")
    names = [".#train.jsonl", "#validation.jsonl#", "validation.jsonl~", "test.jsonl.tmp", "pipe_validation.jsonl",
             "dir_test.jsonl"]
    changes(client, *[(n, C) for n in names])
    await asyncio.sleep(1.5)
    for n in names:
        p = ws / n
        p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
    changes(client, *[(n, D) for n in names])
    await asyncio.sleep(1.5)
    assert counts == {}
    # the server still answers, and nothing of those files shows
    diags = await diagnostics_for(client, test)
    assert not [d for d in diags if d.code == "TL904"]


async def test_a_split_file_changed_on_disk_republishes_only_what_it_affects(client):
    counts, train, test = await opened(client)
    before_train = await diagnostics_for(client, train)
    assert not [d for d in await diagnostics_for(client, test) if d.code == "TL904"]
    (client.workspace / "validation.jsonl").write_text(json.dumps(OTHER) + "\n")  # test.jsonl now leaks it
    changes(client, ("validation.jsonl", types.FileChangeType.Changed))
    leak = []
    for _ in range(200):
        diags = await diagnostics_for(client, test)
        leak = [d for d in diags if d.code == "TL904"]
        if leak:
            break
        await asyncio.sleep(0.05)
    assert len(leak) == 1 and "validation.jsonl:1" in leak[0].message
    await quiet(counts)
    if not pulls(client):
        assert counts == {test: 1}  # train.jsonl's findings did not change: not published again
    assert await diagnostics_for(client, train) == before_train
    # and deleting it takes its leakage away again, again from test.jsonl only
    counts.clear()
    (client.workspace / "validation.jsonl").unlink()
    changes(client, ("validation.jsonl", types.FileChangeType.Deleted))
    for _ in range(200):
        if not [d for d in await diagnostics_for(client, test) if d.code == "TL904"]:
            break
        await asyncio.sleep(0.05)
    assert not [d for d in await diagnostics_for(client, test) if d.code == "TL904"]
    await quiet(counts)
    if not pulls(client):
        assert counts == {test: 1}
