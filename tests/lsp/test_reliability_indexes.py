"""A line edited in place keeps its id in the server (so its index entries move with it): when
the edit turns an example into something that is not one (invalid JSON), its old entries in
the dataset indexes must go. Found by the fuzz test (tests/lsp/test_fuzz.py, another seed):
a stale format made TL802 count a line that no longer parses, and a stale example kept
TL801's count."""

import json

import pytest

from tests.lsp.conftest import GOOD, diagnostics_for, edit, jsonl, open_doc
from tunelint.linter.engine import Linter
from tunelint.server.documents import Document
from tunelint.server.project import Project

PROMPT = json.dumps({"prompt": "a", "completion": "b"})


def fresh(project, path, text):
    with Linter(use_cache=False, jobs=1) as linter:
        return sorted((f.line, f.code, f.message) for f in linter.lint_text(text, path, project.settings_for(path))
                      .findings)


def live(project, src):
    project.analyse_now(src)
    return sorted((f.line, f.code, f.message) for f in project.findings(src))


def test_an_example_edited_into_invalid_json_leaves_the_indexes(tmp_path):
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\ntokenizer = "o200k_base"\n')
    path = str(tmp_path / "train.jsonl")
    project = Project(str(tmp_path))
    doc = Document.open("file://" + path, path, 1, jsonl([PROMPT] + GOOD))
    src = project.open(doc)
    assert any(code == "TL802" and "2 of 3" in message for _, code, message in live(project, src))
    project.changed(src, doc.apply((2, 10), (2, 11), "x{"))  # line 3 stops parsing; it keeps its id
    assert live(project, src) == fresh(project, path, doc.text)
    assert not any("2 of 3" in message for _, _, message in live(project, src))
    project.close_all()


@pytest.mark.parametrize("client", ["vscode-push"], indirect=True)
async def test_the_server_shows_the_fresh_lints_format_counts_after_an_in_place_edit(client):
    ws = client.workspace
    uri = open_doc(client, ws / "train.jsonl", jsonl([PROMPT] + GOOD))
    assert any("2 of 3 lines are chat" in d.message for d in await diagnostics_for(client, uri, 1))
    edit(client, uri, 2, 2, 0, 1, "x")  # line 3 no longer parses: 1 of 2 lines are chat
    diags = await diagnostics_for(client, uri, 2)
    assert not any("2 of 3" in d.message for d in diags), [d.message for d in diags]
