"""Padding-free batches (what the trainer uses on CUDA: TRL's `padding_free`), checked on CPU
tensors: where each example starts (position ids), that no label crosses an example's start,
that no example attends to another (the packed row's per-example losses are each example's loss
alone: transformers' SDPA attention builds the block-diagonal mask from the position ids), and
that the trained-positions loss (trainer/loss.py) is the same number on a padding-free batch as
on a padded one."""

import pytest

from tests.trainer.conftest import QA, chat

IGNORE = -100


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from tunelint.trainer import tiny
    from tunelint.trainer.data import TrainingExample, encode

    examples = [TrainingExample(i + 1, chat(*qa)["messages"]) for i, qa in enumerate(QA[:6])]
    examples[2].messages[1]["content"] += " Please answer in a sentence, with the sum."  # lengths differ
    torch.manual_seed(0)
    model, tok = tiny.build([m["content"] for ex in examples for m in ex.messages],
                            tmp_path_factory.mktemp("tiny"), max_length=128, seed=0)
    model.eval()
    return model, tok, [encode(tok, ex, 128) for ex in examples]


def _collate(tok, encoded, padding_free):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(pad_token_id=tok.pad_token_id, padding_free=padding_free)
    return collator([{"input_ids": e.input_ids, "labels": e.labels} for e in encoded])


def test_a_padding_free_batch_marks_each_example_start_and_no_label_crosses_it(tiny_model):
    _, tok, encoded = tiny_model
    batch = _collate(tok, encoded, padding_free=True)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1  # one row, no padding
    lengths = [len(e.input_ids) for e in encoded]
    assert batch["input_ids"].shape[1] == sum(lengths)
    positions = batch["position_ids"][0].tolist()
    labels = batch["labels"][0].tolist()
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    assert [i for i, p in enumerate(positions) if p == 0] == starts
    example_of = [i for i, n in enumerate(lengths) for _ in range(n)]
    for s, e in zip(starts, encoded, strict=True):
        assert positions[s:s + len(e.input_ids)] == list(range(len(e.input_ids)))
        assert labels[s] == IGNORE  # nothing predicts an example's first token from the one before
        assert labels[s + 1:s + len(e.labels)] == e.labels[1:]  # the mask is kept
    # the loss at position t is on the label at t + 1: never from one example into the next
    for t in range(len(labels) - 1):
        if labels[t + 1] != IGNORE:
            assert example_of[t] == example_of[t + 1]


def test_no_example_attends_to_another_in_a_packed_row(tiny_model):
    import torch

    from tunelint.trainer import scoring

    model, tok, encoded = tiny_model
    batch = _collate(tok, encoded, padding_free=True)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
    alone = scoring.example_losses(model, encoded, "cpu", 1)
    at = 0
    for e, expected in zip(encoded, alone, strict=True):
        n = len(e.input_ids)
        part, targets = logits[at:at + n - 1], torch.tensor(e.labels[1:])
        loss = torch.nn.functional.cross_entropy(part, targets, ignore_index=IGNORE)
        assert float(loss) == pytest.approx(expected, rel=1e-5)
        at += n


def test_the_trained_positions_loss_is_the_same_padding_free_and_padded(tiny_model, tmp_path):
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tunelint.trainer.loss import selective_trainer_class

    model, tok, encoded = tiny_model
    rows = [{"input_ids": e.input_ids, "labels": e.labels} for e in encoded]
    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to=[], padding_free=True,
                     max_length=None, per_device_train_batch_size=len(rows), disable_tqdm=True)
    trainer = selective_trainer_class(SFTTrainer)(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                                  processing_class=tok)
    with torch.no_grad():
        packed = trainer.compute_loss(model, _collate(tok, encoded, padding_free=True))
        padded = trainer.compute_loss(model, _collate(tok, encoded, padding_free=False))
    trained = sum(e.trained - (e.labels[0] != IGNORE) for e in encoded)
    assert trained > 0 and float(packed) == pytest.approx(float(padded), rel=1e-5)
