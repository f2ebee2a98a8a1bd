"""The content rules live in the editor: a secret and an e-mail address on their exact ranges,
the secret masked in the message, and the file-level refusal share kept current as lines are
edited."""

import json

from tests.lsp.conftest import diagnostics_for, edit, open_doc

GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _line(answer: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": answer}]})


async def test_content_findings_show_live_on_exact_ranges_with_the_secret_masked(client):
    lines = [_line(f"Use {GH} and mail jane.doe@gmail.com")] + [_line("Paris.")] * 20
    uri = open_doc(client, client.workspace / "notes.jsonl", "\n".join(lines) + "\n")
    diags = await diagnostics_for(client, uri, 1)
    secret = [d for d in diags if d.code == "TLC106"]
    assert len(secret) == 1 and GH not in secret[0].message and "ghp_…q7R8" in secret[0].message
    start = lines[0].index(GH)
    assert (secret[0].range.start.line, secret[0].range.start.character, secret[0].range.end.character) == (
        0, start, start + len(GH))
    mail = [d for d in diags if d.code == "TLC101"]
    assert len(mail) == 1 and mail[0].range.start.character == lines[0].index("jane.doe@gmail.com")
    assert not [d for d in diags if d.code == "TLC402"]
    # two refusals in 21 examples: over the 2% share, reported on the first of them
    refusal = _line("I'm sorry, but I can't help with that.")
    for version, n in ((2, 5), (3, 7)):
        edit(client, uri, version, n, 0, len(lines[n]), refusal)
    diags = await diagnostics_for(client, uri, 3)
    share = [d for d in diags if d.code == "TLC402"]
    assert len(share) == 1 and share[0].range.start.line == 5 and "2 of 21" in share[0].message
