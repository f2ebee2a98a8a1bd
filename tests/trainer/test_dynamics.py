"""Training dynamics (trainer/loss.py records, trainer/dynamics.py summarises): each record equals
a separate forward pass of that example alone on the weights of the step it was recorded at, with
examples of very different lengths, packed or grouped by length, with gradient accumulation; the
regions follow the run's quantiles; a real run writes train_dynamics.jsonl and data_map.png."""

import json
import subprocess
import sys

import pytest
import torch

from tests.trainer.conftest import QA, chat

pytestmark = pytest.mark.slow


def rows_of_very_different_lengths():
    out = []
    for i, (q, a) in enumerate(QA[:24]):
        long = a + "".join(f" Check {k * 37 + i}: {k + i} and {3 * k - i} differ." for k in range((i % 4) * 12))
        out.append(chat(q, a if i % 2 else long))  # from one sentence to 37
    return out


def reference(model, enc) -> tuple[float, float]:
    """The example alone: mean loss and mean gold-token probability over its trained tokens."""
    ids = torch.tensor([enc.input_ids])
    labels = torch.tensor([enc.labels])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits.float()
    logp = torch.log_softmax(logits[0, :-1], dim=-1)
    gold = labels[0, 1:]
    keep = gold != -100
    token_logp = logp[keep].gather(1, gold[keep][:, None])[:, 0]
    return float(-token_logp.mean()), float(token_logp.exp().mean())


def make_trainer(tmp_path, packing: bool):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tunelint.trainer import tiny
    from tunelint.trainer.data import TrainingExample, encode
    from tunelint.trainer.loss import EXAMPLE_COLUMN, selective_trainer_class

    rows = rows_of_very_different_lengths()
    texts = [m["content"] for r in rows for m in r["messages"]]
    model, tok = tiny.build(texts, tmp_path / "base", max_length=512, seed=5)
    lines = [3 * i + 2 for i in range(len(rows))]  # line numbers are not indexes
    enc = [encode(tok, TrainingExample(line=n, messages=r["messages"]), 512) for n, r in zip(lines, rows, strict=True)]
    lengths = sorted(len(e.input_ids) for e in enc)
    assert lengths[-1] > 5 * lengths[0]  # very different lengths
    ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels, EXAMPLE_COLUMN: [e.line] * len(e.input_ids)}
                            for e in enc])
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[],
                     per_device_train_batch_size=1 if packing else 4,
                     gradient_accumulation_steps=2, max_length=512 if not packing else 400, packing=packing,
                     num_train_epochs=2, learning_rate=3e-3, disable_tqdm=True, save_strategy="no",
                     logging_steps=100, seed=1, dataloader_num_workers=0,
                     train_sampling_strategy="group_by_length" if not packing else "random")
    checks: list = []

    class Checked(selective_trainer_class(SFTTrainer)):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            owners = inputs[EXAMPLE_COLUMN]
            if packing:  # several examples share a row, one after another
                assert (owners[0] >= 0).sum() and len(set(owners[0].tolist()) - {-1}) > 1
            present = sorted(set(owners.flatten().tolist()) - {-1})
            expected = {n: reference(model, by_line[n]) for n in present}  # the weights of this step
            before = len(self.dynamics)
            out = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            checks.append((expected, self.dynamics[before:], self.state.global_step + 1))
            return out

    by_line = {e.line: e for e in enc}
    trainer = Checked(model=model, args=args, train_dataset=ds, processing_class=tok)
    return trainer, checks, by_line


@pytest.mark.parametrize("packing", [False, True], ids=["grouped-by-length", "packed"])
def test_recorded_dynamics_equal_a_forward_pass_of_each_example_alone(tmp_path, packing):
    trainer, checks, by_line = make_trainer(tmp_path, packing)
    trainer.train()
    assert checks and trainer.state.global_step >= 4
    for expected, recorded, step in checks:
        assert sorted(r[0] for r in recorded) == sorted(expected)  # each example of the batch, its own line
        for line, rec_step, loss, prob, tokens in recorded:
            assert rec_step == step
            assert tokens == by_line[line].trained - (by_line[line].labels[0] != -100)
            want_loss, want_prob = expected[line]
            assert loss == pytest.approx(want_loss, rel=1e-3, abs=1e-5), (line, step)  # float32, padded vs alone
            assert prob == pytest.approx(want_prob, rel=2e-3, abs=1e-6), (line, step)
    from tunelint.trainer.dynamics import summarize

    rows, summary = summarize(trainer.dynamics)
    assert [r["line"] for r in rows] == sorted(by_line)  # every example, by its line
    assert all(len(r["prob"]) == 2 for r in rows) and summary["passes"] == 2  # two epochs
    # the weights moved between the two passes: the values are the step's, not one model's
    assert sum(r["loss"][1] < r["loss"][0] for r in rows) > len(rows) / 2


def test_regions_follow_the_runs_quantiles():
    from tunelint.trainer.dynamics import hardest, quantile, summarize

    # 20 lines, 3 passes each: confidence rises with the line; lines 1-3 swing
    records = []
    for line in range(1, 21):
        for step in (1, 2, 3):
            p = line / 25 + (0.3 * (step % 2) if line <= 3 else 0.0)
            records.append((line, step * 10 + line, 1.0, p, 5))
    rows, summary = summarize(records, {1: 2.5})
    assert summary["confidence_threshold"] == pytest.approx(quantile([r["confidence"] for r in rows], 0.25))
    regions = {r["line"]: r["region"] for r in rows}
    assert {n for n, reg in regions.items() if reg == "ambiguous"} >= {1, 2, 3}
    hard = [n for n, reg in regions.items() if reg == "hard-to-learn"]
    assert hard == [4, 5, 6, 7]  # the least confident of the steady lines: the bottom quarter
    assert all(reg == "easy" for n, reg in regions.items() if n > 7)
    assert [r["line"] for r in hardest(rows, 2)] == sorted(hard)[:2]
    assert rows[0]["loss_base"] == 2.5 and rows[1]["loss_base"] is None
    one, s1 = summarize([(n, 1, 1.0, n / 25, 5) for n in range(1, 9)])
    assert s1["variability_threshold"] is None and "confidence only" in s1["note"]
    assert {r["region"] for r in one} == {"easy", "hard-to-learn"} and all(r["variability"] is None for r in one)


def test_a_run_writes_its_training_dynamics_and_data_map(dataset, tmp_path):
    train, _ = dataset
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(train), "-o", str(run), "--model", "tiny",
                        "--max-length", "128", "--batch-size", "8", "--epochs", "2", "--method", "full"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(x) for x in (run / "train_dynamics.jsonl").read_text().splitlines()]
    assert [x["line"] for x in rows] == list(range(1, 49))
    assert all(len(x["prob"]) == len(x["loss"]) == len(x["steps"]) == 2 for x in rows)
    assert all(x["loss_base"] > x["loss"][-1] for x in rows)  # the base model knew nothing
    m = json.loads((run / "metrics.json").read_text())["dynamics"]
    assert m["examples"] == 48 and m["passes"] == 2 and m["base_loss"] == "computed"
    assert sum(m["regions"].values()) == 48
    assert (run / "data_map.png").stat().st_size > 1000
    kinds = [json.loads(x).get("kind") for x in (run / "events.jsonl").read_text().splitlines()]
    assert "dynamics" in kinds and "data_map" in kinds
    # `tunelint check --dynamics RUN`: the hardest-to-learn lines as TL950 findings, info by default
    check = [sys.executable, "-m", "tunelint", "check", str(train), "--dynamics", str(run), "--dynamics-top", "3",
             "--format", "json"]
    out = subprocess.run(check, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    found = [f for f in json.loads(out.stdout)["findings"] if f["code"] == "TL950"]
    hardest = sorted((x for x in rows if x["region"] == "hard-to-learn"), key=lambda x: (x["confidence"], x["line"]))
    assert sorted(f["line"] for f in found) == sorted(x["line"] for x in hardest[:3])
    assert all(f["severity"] == "info" and "over 2 epochs" in f["message"] and "stale" not in f["message"]
               for f in found)
    with open(train, "a") as f:  # the file changes after the run: the findings say they are stale
        f.write(train.read_text().splitlines()[0] + "\n")
    out = subprocess.run(check, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    found = [f for f in json.loads(out.stdout)["findings"] if f["code"] == "TL950"]
    assert len(found) == 3 and all("stale" in f["message"] for f in found) and "changed since the run" in out.stderr
    bad = subprocess.run(check[:6] + [str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bad.returncode == 2 and "not a training run folder" in bad.stderr
