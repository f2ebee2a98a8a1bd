"""The CPU loss on trained positions only (trainer/loss.py) is the model's own masked loss: same
value, same gradients, with and without LoRA, with a padded batch and with accumulation's
`num_items_in_batch`."""

import json

import pytest
import torch

from tests.trainer.conftest import QA, chat


def setup(tmp_path, lora: bool):
    from datasets import Dataset
    from transformers import Trainer
    from trl import SFTConfig, SFTTrainer

    from tunelint.trainer import tiny
    from tunelint.trainer.data import TrainingExample as Example
    from tunelint.trainer.data import encode
    from tunelint.trainer.loss import selective_trainer_class

    rows = [chat(q, a + " " * (i % 3) + "And that is all." * (i % 4)) for i, (q, a) in enumerate(QA[:12])]
    texts = [m["content"] for r in rows for m in r["messages"]]
    model, tok = tiny.build(texts, tmp_path / "base", max_length=256, seed=3)
    enc = [encode(tok, Example(line=i + 1, messages=r["messages"], tools=None), 256) for i, r in enumerate(rows)]
    ds = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in enc])
    peft_config = None
    if lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear",
                                 task_type="CAUSAL_LM")
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[], per_device_train_batch_size=6,
                     max_length=256, disable_tqdm=True)
    trainer = selective_trainer_class(SFTTrainer)(model=model, args=args, train_dataset=ds,
                                                  processing_class=tok, peft_config=peft_config)
    batch = trainer.data_collator([ds[i] for i in range(6)])
    return trainer, batch, Trainer


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
@pytest.mark.parametrize("num_items", [None, 200])
def test_selective_loss_equals_the_models_own_loss_and_gradients(tmp_path, lora, num_items):
    trainer, batch, Trainer = setup(tmp_path, lora)
    model = trainer.model
    model.train()
    assert (batch["labels"] == -100).any() and (batch["attention_mask"] == 0).any()  # masked and padded

    model.zero_grad()
    ours = trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items)
    ours.backward()
    ours_grads = grads(model)
    model.zero_grad()
    reference = Trainer.compute_loss(trainer, model, dict(batch), num_items_in_batch=num_items)
    reference.backward()
    ref_grads = grads(model)

    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    assert ours_grads.keys() == ref_grads.keys() and ours_grads
    for name in ref_grads:
        torch.testing.assert_close(ours_grads[name], ref_grads[name], rtol=1e-4, atol=1e-7, msg=name)
    assert trainer._metrics["train"]["mean_token_accuracy"], "token accuracy is still logged"
    assert trainer._metrics["train"]["num_tokens"] == [int(batch["attention_mask"].sum())]


def test_batch_without_trained_tokens_is_a_finite_zero(tmp_path):
    trainer, batch, _ = setup(tmp_path, False)
    batch = dict(batch, labels=torch.full_like(batch["labels"], -100))
    loss = trainer.compute_loss(trainer.model, batch)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    json.dumps(trainer._metrics["train"]["mean_token_accuracy"])  # plain floats
