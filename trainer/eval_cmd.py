"""`tunelint eval RUN_DIR|MODEL --data FILE`: per-example evaluation of a trained run (its
adapter or model) or of any model, without training."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .data import encode, load_examples
from .device import detect
from .events import Events
from .settings import TrainError


def evaluate_run(target: str, data: str, output: str | None, max_length: int = 1024, max_new_tokens: int = 128,
                 events_stdout: bool = False) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from . import evaluate as ev

    path = Path(target)
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else None
    device = detect()
    adapter = None
    if config is not None:
        base = config["base_model"]
        adapter = path / "adapter" if (path / "adapter").is_dir() else None
        model_dir = path / "model" if (path / "model").is_dir() else None
        load_from = str(model_dir) if model_dir else base
        tok_from = str(adapter or model_dir or base)
        max_length = config.get("settings", {}).get("max_length", max_length)
    else:
        load_from = tok_from = target
    try:
        tok = AutoTokenizer.from_pretrained(tok_from)
        model = AutoModelForCausalLM.from_pretrained(load_from, dtype=torch.float32 if device.kind != "cuda" else torch.bfloat16)
    except OSError as e:
        raise TrainError(f"cannot load {target!r}: not a tunelint run folder or a model folder/name ({str(e).splitlines()[0]})") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    dev = torch.device("cuda" if device.kind == "cuda" else "cpu")
    model.to(dev)
    examples = load_examples(data)
    encoded = [encode(tok, ex, max_length) for ex in examples]
    losses = ev.example_losses(model, encoded, dev)
    if adapter is not None:
        with model.disable_adapter():
            base_losses = ev.example_losses(model, encoded, dev)
    else:
        base_losses = [None] * len(encoded)
    out_dir = Path(output) if output else (path if config else Path.cwd()) / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    events = Events(str(out_dir / "events.jsonl"), events_stdout)
    events.emit("start", model=target, data=str(Path(data).resolve()), eval_examples=len(examples))
    with open(out_dir / "eval_results.jsonl", "w", encoding="utf-8") as f:
        for ex, loss, base in zip(examples, losses, base_losses):
            rec = ev.record(ex, loss, base, ev.generate(model, tok, ex, dev, max_new_tokens))
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            events.emit("example", **rec)
    events.emit("artifact", kind="eval_results", path=str(out_dir / "eval_results.jsonl"))
    events.emit("end", status="completed")
    events.close()
    return out_dir
