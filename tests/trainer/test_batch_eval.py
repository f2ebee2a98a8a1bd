"""The per-example evaluation in batches: left-padded greedy generation gives exactly what one
generation at a time gives, and batched losses equal one-example losses, on a tiny model trained
for real (so that answers stop at their end-of-turn token at different lengths)."""

import random

import pytest

from tests.trainer.conftest import QA, chat

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    from tunelint.trainer import tiny
    from tunelint.trainer.data import TrainingExample, encode

    examples = [TrainingExample(i + 1, chat(*qa)["messages"]) for i, qa in enumerate(QA)]
    texts = [m["content"] for ex in examples for m in ex.messages]
    torch.manual_seed(1)
    model, tok = tiny.build(texts, tmp_path_factory.mktemp("tiny"), max_length=128, seed=1)
    encoded = [encode(tok, ex, 128) for ex in examples]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(30):  # a plain loop: the model learns the answers' shape and to stop
        batch = random.Random(step).sample(encoded, 8)
        width = max(len(e.input_ids) for e in batch)
        ids = torch.zeros(8, width, dtype=torch.long)
        labels = torch.full((8, width), -100)
        mask = torch.zeros(8, width, dtype=torch.long)
        for j, e in enumerate(batch):
            ids[j, :len(e.input_ids)] = torch.tensor(e.input_ids)
            labels[j, :len(e.labels)] = torch.tensor(e.labels)
            mask[j, :len(e.input_ids)] = 1
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    return model, tok, examples, encoded


def test_left_padded_batched_generation_equals_one_at_a_time(trained):
    from tunelint.trainer import scoring
    from tunelint.trainer.batch_generate import generate_batched
    from tunelint.trainer.data import TrainingExample

    model, tok, examples, _ = trained
    # prompts of different lengths in one batch: the shorter rows are padded on the left
    longer = [TrainingExample(90, [{"role": "system", "content": "You add numbers, and you say so briefly."},
                                   {"role": "user", "content": "What is 10 plus 7? Say it as a sentence."},
                                   {"role": "assistant", "content": "10 plus 7 is 17."}]),
              TrainingExample(91, [{"role": "user", "content": "What is 4 plus 4?"},
                                   {"role": "assistant", "content": "4 plus 4 is 8."}])]
    picked = examples[:5] + longer
    one_by_one = [scoring.generate(model, tok, ex, "cpu", 24) for ex in picked]
    assert any(one_by_one)
    for batch_size in (1, 3, 16):
        assert generate_batched(model, tok, picked, "cpu", 24, batch_size) == one_by_one


def test_batched_losses_equal_one_example_at_a_time(trained):
    from tunelint.trainer import scoring

    model, tok, _, encoded = trained
    picked = encoded[:7]
    alone = [scoring.example_losses(model, [e], "cpu", 1)[0] for e in picked]
    batched = scoring.example_losses(model, picked, "cpu", 4)
    assert batched == pytest.approx(alone, rel=1e-5)
