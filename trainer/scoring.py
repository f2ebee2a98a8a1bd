"""Scoring one example: its masked loss (after and base), a greedy generation from the prompt,
the reference, exact match and token F1. The recipes (train_recipe.py, eval_recipe.py) call it
per validation example; the result is the contract's `ExampleResult`."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

from .contract import Artifact, ExampleResult
from .data import Encoded, TrainingExample


def normalise(text: str) -> str:
    return " ".join(text.strip().split()).lower()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 over lower-cased whitespace tokens."""
    p, r = re.findall(r"\w+", prediction.lower()), re.findall(r"\w+", reference.lower())
    if not p or not r:
        return float(p == r)
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def example_losses(model, encoded: list[Encoded], device, batch_size: int = 16) -> list[float | None]:
    """Mean cross-entropy over each example's trained tokens (None when it has none), in batches
    of similar lengths (less padding), in the order of `encoded`."""
    import torch

    model.eval()
    out: list[float | None] = [None] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda k: len(encoded[k].input_ids))
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            picked = order[i : i + batch_size]
            batch = [encoded[k] for k in picked]
            width = max(len(e.input_ids) for e in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, e in enumerate(batch):
                n = len(e.input_ids)
                ids[j, :n] = torch.tensor(e.input_ids)
                labels[j, :n] = torch.tensor(e.labels)
                mask[j, :n] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            shift_logits, shift_labels = logits[:, :-1], labels[:, 1:].to(device)
            ce = torch.nn.functional.cross_entropy(shift_logits.transpose(1, 2), shift_labels,
                                                   ignore_index=-100, reduction="none")
            counts = (shift_labels != -100).sum(dim=1)
            for j, k in enumerate(picked):
                n = int(counts[j])
                out[k] = float(ce[j].sum() / n) if n else None
    return out


def generate(model, tokenizer, ex: TrainingExample, device, max_new_tokens: int) -> str:
    """Greedy continuation of the conversation before its last assistant turn, alone (the
    evaluation generates in batches, trainer/batch_generate.py; this is what they must equal)."""
    import torch

    from .batch_generate import prompt_text

    text = prompt_text(tokenizer, ex)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"].to(device)
    model.eval()
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()


def reference(ex: TrainingExample) -> str:
    last = [m for m in ex.messages if m.get("role") == "assistant"]
    content = last[-1].get("content") if last else ""
    return content if isinstance(content, str) else ""


def perplexity(loss: float | None) -> float | None:
    """exp(loss), or None (no loss, or one so large that exp would only say "huge")."""
    return math.exp(loss) if loss is not None and loss < 50 else None


def write_results(path, events, model, tokenizer, device, rows, max_new_tokens: int, batch_size: int = 16,
                  generations: list[str] | None = None) -> list[ExampleResult]:
    """Per example of `rows` ((example, loss, loss before), in order): a generation (greedy, in
    left-padded batches of `batch_size`: trainer/batch_generate.py; or `generations`, made
    elsewhere: vLLM) and its record, written to `path` (eval_results.jsonl) and as `example`
    events, then the artifact."""
    from .batch_generate import generate_batched

    rows = list(rows)
    if generations is None:
        generations = generate_batched(model, tokenizer, [ex for ex, _, _ in rows], device, max_new_tokens,
                                       batch_size)
    out = []
    with open(path, "w", encoding="utf-8") as f:
        for (ex, loss, base), generation in zip(rows, generations, strict=True):
            rec = record(ex, loss, base, generation)
            out.append(rec)
            f.write(json.dumps(rec.fields(), ensure_ascii=False) + "\n")
            events.emit(rec)
    events.emit(Artifact(kind="eval_results", path=str(path)))
    return out


def record(ex: TrainingExample, loss: float | None, loss_base: float | None, generation: str) -> ExampleResult:
    ref = reference(ex)
    return ExampleResult(
        line=ex.line,
        loss=loss,
        loss_base=loss_base,
        perplexity=perplexity(loss),
        generation=generation,
        reference=ref,
        exact_match=normalise(generation) == normalise(ref),
        token_f1=round(token_f1(generation, ref), 4),
    )
