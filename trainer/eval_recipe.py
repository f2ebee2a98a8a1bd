"""`tunelint eval RUN_DIR|MODEL --data FILE`: per-example evaluation of a trained run (its
adapter or model) or of any model, without training.

The steps: `load` (the run's base model with its adapter, its full model, or a model by name),
`score` (each example's loss, and its loss with the adapter disabled: the base model, in batches),
`write` (the greedy generations, in left-padded batches, or with vLLM when it is installed on a
CUDA machine: trainer/batch_generate.py; `eval_results.jsonl` and the events, trainer/contract.py)."""

from __future__ import annotations

from pathlib import Path

from .contract import End, RunLayout, Start, eval_dir_name
from .data import encode, load_examples
from .device import detect
from .events import Events
from .settings import TrainError


def evaluate_run(target: str, data: str, output: str | None, max_length: int = 1024, max_new_tokens: int = 128,
                 events_stdout: bool = False) -> Path:
    """Evaluate `target` on `data`; the folder the results are in."""
    recipe = EvalRecipe(target, data, max_length, max_new_tokens)
    recipe.load()
    recipe.score()
    return recipe.write(output, events_stdout)


class EvalRecipe:
    def __init__(self, target: str, data: str, max_length: int, max_new_tokens: int, batch_size: int = 16):
        self.target, self.data, self.batch_size = target, data, batch_size
        self.max_length, self.max_new_tokens = max_length, max_new_tokens
        self.run = RunLayout(target)
        self.config = self.run.read_config()  # None without one (not a run folder)

    def load(self) -> None:
        """The model (with its adapter for a LoRA run) and tokenizer, on the device. A run folder is
        loaded by trainer/merge.py, the one loader of a run's models."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = detect()
        self.device_kind = device.kind
        self.dev = torch.device("cuda" if device.kind == "cuda" else "cpu")
        dtype = torch.float32 if device.kind != "cuda" else torch.bfloat16
        if self.config is not None:
            from .merge import load_tuned, run_info

            info = run_info(self.target)
            self.model, self.tok = load_tuned(info, device=self.dev, dtype=dtype)
            self.adapter = info.tuned_path if info.method == "lora" else None
            self.weights_path = info.base if info.method == "lora" else str(info.tuned_path)
            self.max_length = self.config.get("settings", {}).get("max_length", self.max_length)
            return
        try:
            tok = AutoTokenizer.from_pretrained(self.target)
            model = AutoModelForCausalLM.from_pretrained(self.target, dtype=dtype)
        except OSError as e:
            raise TrainError(f"cannot load {self.target!r}: not a tunelint run folder or a model folder/name "
                             f"({str(e).splitlines()[0]})") from None
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model.to(self.dev)
        self.model, self.tok, self.adapter, self.weights_path = model, tok, None, self.target

    def score(self) -> None:
        """Each example's loss on its trained tokens, and the base model's (LoRA runs)."""
        from . import scoring

        self.examples = load_examples(self.data)
        encoded = [encode(self.tok, ex, self.max_length) for ex in self.examples]
        self.losses = scoring.example_losses(self.model, encoded, self.dev, self.batch_size)
        if self.adapter is not None:
            with self.model.disable_adapter():
                self.base_losses = scoring.example_losses(self.model, encoded, self.dev, self.batch_size)
        else:
            self.base_losses = [None] * len(encoded)

    def _vllm_generations(self) -> list[str] | None:
        """The generations from vLLM when it is installed on a CUDA machine (the transformers model
        is released first: vLLM takes the GPU's memory), else None (batched transformers)."""
        from .batch_generate import vllm_available, vllm_generate

        if not vllm_available(self.device_kind):
            return None
        import gc

        import torch

        self.model = None
        gc.collect()
        torch.cuda.empty_cache()
        adapter = str(self.adapter) if self.adapter is not None else None
        return vllm_generate(self.weights_path, adapter, self.tok, self.examples, self.max_new_tokens)

    def write(self, output: str | None, events_stdout: bool) -> Path:
        """Generations, then `eval_results.jsonl` and the events, into `output` (default: a new
        eval-<time> folder in the run, or in the current folder for a model)."""
        from . import scoring

        out_dir = Path(output) if output else (self.run.path if self.config else Path.cwd()) / eval_dir_name()
        out_dir.mkdir(parents=True, exist_ok=True)
        out = RunLayout(out_dir)
        events = Events(out.events, events_stdout)
        events.emit(Start(model=self.target, data=str(Path(self.data).resolve()), eval_examples=len(self.examples)))
        rows = zip(self.examples, self.losses, self.base_losses, strict=False)
        scoring.write_results(out.eval_results, events, self.model, self.tok, self.dev, rows, self.max_new_tokens,
                              self.batch_size, self._vllm_generations())
        events.emit(End(status="completed"))
        events.close()
        return out_dir
