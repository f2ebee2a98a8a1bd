"""Greedy generations for the per-example evaluation, many prompts at a time.

`generate_batched()` renders each example's prompt (the conversation before its last assistant
turn, with the generation prompt), sorts the prompts by length (less padding), and runs
transformers' `generate` on left-padded batches: with left padding every prompt ends where the
generated tokens begin, and `generate` derives the position ids from the attention mask, so a
padded prompt is continued exactly as it would be alone (greedy, tests/trainer/test_batch_eval.py
holds it to `scoring.generate`, one at a time). Each row is cut at its first end-of-turn token,
as a lone generation stops there.

With vLLM installed on a CUDA machine, `tunelint eval` generates with it instead
(`vllm_generate`): the same prompts, greedy (temperature 0), the same records.
"""

from __future__ import annotations

import importlib.util

from .data import TrainingExample


def prompt_text(tokenizer, ex: TrainingExample) -> str:
    """The conversation before its last assistant turn, ready for the answer."""
    last = max((i for i, m in enumerate(ex.messages) if m.get("role") == "assistant"), default=None)
    prompt_msgs = ex.messages[:last] if last is not None else ex.messages
    return tokenizer.apply_chat_template(prompt_msgs, tools=ex.tools, tokenize=False, add_generation_prompt=True)


def _stops(tokenizer) -> set[int]:
    eos = tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()


def generate_batched(model, tokenizer, examples: list[TrainingExample], device, max_new_tokens: int,
                     batch_size: int = 16) -> list[str]:
    """Each example's greedy answer, in the order of `examples`."""
    import torch

    prompts = [tokenizer(prompt_text(tokenizer, ex), add_special_tokens=False)["input_ids"] for ex in examples]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    stops = _stops(tokenizer)
    out: list[str] = [""] * len(prompts)
    model.eval()
    for start in range(0, len(order), batch_size):
        picked = order[start:start + batch_size]
        width = max(len(prompts[i]) for i in picked)
        ids = torch.full((len(picked), width), pad, dtype=torch.long)
        mask = torch.zeros((len(picked), width), dtype=torch.long)
        for row, i in enumerate(picked):
            n = len(prompts[i])
            ids[row, width - n:] = torch.tensor(prompts[i])
            mask[row, width - n:] = 1
        with torch.no_grad():
            gen = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None,
                                 top_k=None, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id)
        for row, i in enumerate(picked):
            new = gen[row, width:].tolist()
            cut = next((k for k, t in enumerate(new) if t in stops), None)
            out[i] = tokenizer.decode(new[:cut + 1] if cut is not None else new, skip_special_tokens=True).strip()
    return out


def vllm_available(device_kind: str) -> bool:
    """vLLM is installed and there is a CUDA device for it."""
    return device_kind == "cuda" and importlib.util.find_spec("vllm") is not None


def vllm_generate(model_path: str, adapter_path: str | None, tokenizer, examples: list[TrainingExample],
                  max_new_tokens: int) -> list[str]:
    """Each example's greedy answer from vLLM (the base model from `model_path`, with the LoRA
    adapter at `adapter_path` when given), in the order of `examples`."""
    from vllm import LLM, SamplingParams

    lora = None
    kwargs = {}
    if adapter_path is not None:
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("tunelint-run", 1, adapter_path)
        kwargs = {"enable_lora": True, "max_lora_rank": _adapter_rank(adapter_path)}
    llm = LLM(model=model_path, tokenizer=model_path if adapter_path is None else adapter_path, dtype="bfloat16",
              **kwargs)
    params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens, skip_special_tokens=True)
    prompts = [{"prompt_token_ids": tokenizer(prompt_text(tokenizer, ex), add_special_tokens=False)["input_ids"]}
               for ex in examples]
    results = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
    return [r.outputs[0].text.strip() for r in results]


def _adapter_rank(adapter_path: str) -> int:
    import json
    from pathlib import Path

    try:
        r = int(json.loads((Path(adapter_path) / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return 64
    return next(x for x in (8, 16, 32, 64, 128, 256, 320, 512) if x >= r) if r <= 512 else r
