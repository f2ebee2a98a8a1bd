"""A small sharded dataset with every cross-file finding: exact and near duplicates and
conflicting answers across train shards, exact, near and prompt-only leakage from train into
validation and test (one shard of them Parquet), and a per-line error."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega river stone cloud lantern meadow copper violet harbor").split()


def _sent(rng: random.Random, n: int = 30) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _ex(q: str, a: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def _with_answer(e: dict, answer: str) -> dict:
    e = copy.deepcopy(e)
    e["messages"][1]["content"] = answer
    return e


def write_sharded(folder: Path, *, parquet: bool = True, seed: int = 5) -> dict[str, list[dict]]:
    """Writes train-0.jsonl, train-1.jsonl, validation.jsonl and test.parquet (test.jsonl with
    `parquet=False`) into `folder`; returns the rows of each."""
    rng = random.Random(seed)
    base = [_ex(_sent(rng), _sent(rng)) for _ in range(80)]
    t0 = base[:40]
    t1 = base[40:60] + [
        base[3],  # exact duplicate of a train-0 line
        _with_answer(base[5], base[5]["messages"][1]["content"] + " omega"),  # near duplicate
        _with_answer(base[7], _sent(rng)),  # same prompt, other answer (TL903)
        {"messages": [{"role": "usr", "content": "hi"}]},  # a per-line error
    ]
    val = base[60:70] + [
        base[10],  # exact leak
        _with_answer(base[12], base[12]["messages"][1]["content"] + " alpha"),  # near leak
        _with_answer(base[14], _sent(rng)),  # prompt leak
    ]
    test = base[70:80] + [base[20], _with_answer(base[22], base[22]["messages"][1]["content"] + " beta")]
    shards = {"train-0.jsonl": t0, "train-1.jsonl": t1, "validation.jsonl": val}
    for name, rows in shards.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(test), folder / "test.parquet", row_group_size=5)
        shards["test.parquet"] = test
    else:
        (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
        shards["test.jsonl"] = test
    return shards


CROSS_FILE_CODES = {"TL901", "TL902", "TL903", "TL904", "TL905"}
