import json
import random

import pytest

pytest.importorskip("torch", reason="the trainer tests need the `train` extra")
pytest.importorskip("trl", reason="the trainer tests need the `train` extra")

QA = [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a in range(2, 12) for b in range(3, 9)]


def chat(q: str, a: str) -> dict:
    return {"messages": [{"role": "system", "content": "You add numbers."}, {"role": "user", "content": q},
                         {"role": "assistant", "content": a}]}


@pytest.fixture
def dataset(tmp_path):
    """A small arithmetic chat dataset: train (48 lines), validation (6 lines, with a blank line
    so line numbers are not indexes)."""
    rnd = random.Random(0)
    qa = QA[:]
    rnd.shuffle(qa)
    train, val = qa[:48], qa[48:54]
    t = tmp_path / "train.jsonl"
    v = tmp_path / "validation.jsonl"
    t.write_text("".join(json.dumps(chat(*x)) + "\n" for x in train))
    lines = [json.dumps(chat(*x)) for x in val]
    lines.insert(2, "")
    v.write_text("\n".join(lines) + "\n")
    (tmp_path / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    return t, v
