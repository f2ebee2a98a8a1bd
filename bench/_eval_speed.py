"""The batched-evaluation row of train_speed.py: tunelint's per-example evaluation (each
validation example's loss on its trained tokens and a greedy generation, what `tunelint train`
does after training) in batches, against the one-at-a-time loop it replaced, on the same tiny
model, examples and settings, in the same run. Both produce the same records (checked here on
every run: the generations must be equal, the losses within 1e-5). The model is a copy of the
benchmark's tiny model trained for `TRAIN_STEPS` plain steps first (untimed), so that its answers
are text of varied lengths that stop at the end-of-turn token, as a fine-tuned model's do (the
untrained model emits special tokens only)."""

from __future__ import annotations

import copy
import random
import time

TRAIN_STEPS = 60


def trained_copy(model, encoded, batch_size: int = 8, lr: float = 3e-3):
    """A copy of `model` after TRAIN_STEPS plain AdamW steps on `encoded` (their masks)."""
    import torch

    model = copy.deepcopy(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    encoded = [e for e in encoded if e.trained]
    for step in range(TRAIN_STEPS):
        batch = random.Random(step).sample(encoded, min(batch_size, len(encoded)))
        width = max(len(e.input_ids) for e in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for j, e in enumerate(batch):
            ids[j, :len(e.input_ids)] = torch.tensor(e.input_ids)
            labels[j, :len(e.labels)] = torch.tensor(e.labels)
            mask[j, :len(e.input_ids)] = 1
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    return model


def run(model, tok, examples, max_length: int, max_new_tokens: int, batch_size: int) -> dict:
    import torch

    from tunelint.trainer import scoring
    from tunelint.trainer.batch_generate import generate_batched
    from tunelint.trainer.data import encode

    encoded = [encode(tok, ex, max_length) for ex in examples]
    keep = [i for i, e in enumerate(encoded) if e.trained]
    examples, encoded = [examples[i] for i in keep], [encoded[i] for i in keep]
    model.eval()
    with torch.no_grad():
        t = time.perf_counter()
        alone_losses = [scoring.example_losses(model, [e], "cpu", 1)[0] for e in encoded]
        alone_gen = [scoring.generate(model, tok, ex, "cpu", max_new_tokens) for ex in examples]
        one_s = time.perf_counter() - t
        t = time.perf_counter()
        losses = scoring.example_losses(model, encoded, "cpu", batch_size)
        gen = generate_batched(model, tok, examples, "cpu", max_new_tokens, batch_size)
        batched_s = time.perf_counter() - t
    same_gen = sum(a == b for a, b in zip(alone_gen, gen, strict=True))
    same_loss = sum(abs(a - b) <= 1e-5 * max(1.0, abs(a)) for a, b in zip(alone_losses, losses, strict=True))
    return {"examples": len(examples), "one_s": one_s, "batched_s": batched_s, "same_gen": same_gen,
            "same_loss": same_loss, "batch_size": batch_size, "max_new_tokens": max_new_tokens,
            "generated": sum(len(tok(g, add_special_tokens=False)["input_ids"]) for g in gen)}


def table(r: dict) -> str:
    ratio = r["one_s"] / r["batched_s"] if r["batched_s"] else float("inf")
    mark = "met" if ratio >= 4 else "**not met**"
    n = r["examples"]
    return "\n".join([
        "| per-example evaluation (losses + greedy generations) | examples | s | examples/s | same records |",
        "|---|---|---|---|---|",
        f"| one at a time (the loop before) | {n} | {r['one_s']:.2f} | {n / r['one_s']:.1f} | |",
        f"| batched (batch {r['batch_size']}, left-padded generation) | {n} | {r['batched_s']:.2f} | "
        f"{n / r['batched_s']:.1f} | generations {r['same_gen']}/{n}, losses {r['same_loss']}/{n} |",
        "",
        f"Batched ÷ one at a time: **{ratio:.2f}×** (target ≥ 4×: {mark}); max_new_tokens {r['max_new_tokens']}, "
        f"{r['generated']:,} tokens generated.",
    ])
