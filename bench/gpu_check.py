"""The trainer on one CUDA GPU, in under 8 minutes: tokens/s, MFU, peak memory against the
preflight's estimate, and the evaluation's generation batched against one at a time.

Models are built locally from configs (no hub): a ~0.45B and a ~1.4B-parameter Llama-style
model with random weights (bf16), a byte-level BPE tokenizer trained on the data with
trainer/tiny.py's chat template, vocabulary padded to 32,000 rows. Each row is one
`tunelint train DATA --model FOLDER --method M --max-steps N` process on real data
(`../shared/data/real/gsm8k_train.jsonl`), for LoRA, QLoRA and full, padding-free (the CUDA
default) and padded (`--no-padding-free`, length-grouped batches); the figures are the run's own
metrics.json (`throughput`, `memory`).

    python bench/gpu_check.py                 # everything (~6-8 min on an H100/H200)
    python bench/gpu_check.py --sizes 0.5b --methods lora --steps 5   # a quick look

Exit 0 when every run completed (the targets are reported, not asserted: MFU >= 40% for LoRA
padding-free on the 1.5B model, the estimate within 15% of the measured peak); 1 when a run
failed; 0 with the reason when there is no CUDA GPU (nothing to check here).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "real" / "gsm8k_train.jsonl"
DEFAULT_EVAL = ROOT.parent / "shared" / "data" / "real" / "gsm8k_validation.jsonl"

# Llama-style shapes (Qwen2.5-0.5B/1.5B-like widths), vocabulary 32,000, untied LM head
SIZES = {
    "0.5b": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                 num_key_value_heads=8),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2),
}
VOCAB = 32000
TARGET_MFU = 0.40
TARGET_MEMORY = 0.15


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cuda_reason() -> str | None:
    """None when a CUDA GPU is there; else why this check cannot run."""
    try:
        import torch
    except ImportError:
        return "torch is not installed (pip install 'tunelint[train]')"
    if not torch.cuda.is_available():
        return f"no CUDA GPU (torch {torch.__version__}, CUDA available: False)"
    return None


def build_model(size: str, data: Path, folder: Path) -> int:
    """A random-weight model of `size` and a tokenizer for `data`, saved to `folder`; its parameters."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tunelint.trainer import tiny
    from tunelint.trainer.data import load_examples

    texts = [m.get("content") for ex in load_examples(str(data)) for m in ex.messages
             if isinstance(m.get("content"), str)]
    # the tokenizer and chat template of `--model tiny` (its tiny model is left in a folder of its own)
    _, tok = tiny.build(texts, folder.with_name(folder.name + "-tokenizer"), vocab_size=8000, max_length=2048, seed=0)
    tok.save_pretrained(folder)
    config = LlamaConfig(vocab_size=max(VOCAB, len(tok)), max_position_embeddings=4096, tie_word_embeddings=False,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
                         **SIZES[size])
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder)
    params = sum(p.numel() for p in model.parameters())
    del model
    torch.cuda.empty_cache()
    return params


def train_row(model: Path, data: Path, work: Path, method: str, padding_free: bool, a) -> dict:
    run = work / f"run-{model.name}-{method}-{'pf' if padding_free else 'padded'}"
    cmd = [sys.executable, "-m", "tunelint", "train", str(data), "-o", str(run), "--overwrite", "--force",
           "--model", str(model), "--method", method, "--max-steps", str(a.steps), "--batch-size", str(a.batch_size),
           "--max-length", str(a.max_length), "--logging-steps", str(a.steps), "--checkpoint-steps", "100000",
           "--padding-free" if padding_free else "--no-padding-free"]
    if a.gradient_checkpointing:
        cmd.append("--gradient-checkpointing")
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - t
    row = {"model": model.name, "method": method, "padding_free": padding_free, "wall": wall}
    if r.returncode != 0:
        tail = r.stderr.strip().splitlines()[-3:]
        return {**row, "error": f"exit {r.returncode}: " + " / ".join(tail)}
    m = json.loads((run / "metrics.json").read_text())
    return {**row, "throughput": m.get("throughput", {}), "memory": m.get("memory", {}),
            "train_s": m.get("train_runtime_s")}


def eval_row(model_dir: Path, eval_data: Path, a) -> dict:
    """Greedy generations of the per-example evaluation, batched and one at a time, bf16."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunelint.trainer import scoring
    from tunelint.trainer.batch_generate import generate_batched
    from tunelint.trainer.data import load_examples

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).to("cuda")
    examples = load_examples(str(eval_data))[: a.eval_examples]
    dev = torch.device("cuda")
    generate_batched(model, tok, examples[:2], dev, 4, 2)  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    alone = [scoring.generate(model, tok, ex, dev, a.eval_max_new_tokens) for ex in examples]
    torch.cuda.synchronize()
    one_s = time.perf_counter() - t
    t = time.perf_counter()
    batched = generate_batched(model, tok, examples, dev, a.eval_max_new_tokens, a.eval_batch_size)
    torch.cuda.synchronize()
    batched_s = time.perf_counter() - t
    same = sum(x == y for x, y in zip(alone, batched, strict=True))
    del model
    torch.cuda.empty_cache()
    return {"model": model_dir.name, "examples": len(examples), "one_s": one_s, "batched_s": batched_s,
            "same": same}


def fmt_bytes(n) -> str:
    return f"{n / 2**30:.2f}" if isinstance(n, (int, float)) else "?"


def report(rows: list[dict], evals: list[dict], header: str) -> str:
    lines = [header, "",
             "| model | method | batches | train s | trained tok/s | input tok/s | MFU | peak GiB (measured) | "
             "estimate GiB | measured ÷ estimate |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        batches = "padding-free" if r["padding_free"] else "padded"
        if r.get("error"):
            lines.append(f"| {r['model']} | {r['method']} | {batches} | failed: {r['error']} | | | | | | |")
            continue
        t, mem = r["throughput"], r["memory"]
        mfu = t.get("mfu")
        ratio = mem.get("measured_over_estimate")
        lines.append(f"| {r['model']} | {r['method']} | {batches} | {r['train_s']} | {t.get('tokens_per_second')} | "
                     f"{t.get('input_tokens_per_second')} | {f'{100 * mfu:.1f}%' if mfu is not None else '?'} | "
                     f"{fmt_bytes(mem.get('measured_peak_bytes'))} | {fmt_bytes(mem.get('estimate_bytes'))} | "
                     f"{ratio if ratio is not None else '?'} |")
    target = [r for r in rows if r["model"] == "1.5b" and r["method"] == "lora" and r["padding_free"]
              and not r.get("error")]
    if target and target[0]["throughput"].get("mfu") is not None:
        mfu = target[0]["throughput"]["mfu"]
        lines += ["", f"MFU of LoRA, padding-free, 1.5B: {100 * mfu:.1f}% (target ≥ {100 * TARGET_MFU:.0f}%: "
                      f"{'met' if mfu >= TARGET_MFU else '**not met**'})."]
    within = [r for r in rows if not r.get("error") and r["memory"].get("measured_over_estimate")]
    if within:
        ok = sum(abs(r["memory"]["measured_over_estimate"] - 1) <= TARGET_MEMORY for r in within)
        lines.append(f"Memory estimate within {100 * TARGET_MEMORY:.0f}% of the measured peak: {ok} of {len(within)} "
                     "runs.")
    if evals:
        lines += ["", "| model | eval generation | examples | one at a time s | batched s | batched ÷ one | "
                      "identical outputs |", "|---|---|---|---|---|---|---|"]
        for e in evals:
            lines.append(f"| {e['model']} | greedy, bf16 | {e['examples']} | {e['one_s']:.2f} | {e['batched_s']:.2f} | "
                         f"{e['one_s'] / e['batched_s']:.1f}× | {e['same']}/{e['examples']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--eval-data", default=str(DEFAULT_EVAL))
    p.add_argument("--sizes", default="0.5b,1.5b")
    p.add_argument("--methods", default="lora,qlora,full")
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--eval-examples", type=int, default=32)
    p.add_argument("--eval-max-new-tokens", type=int, default=64)
    p.add_argument("--eval-batch-size", type=int, default=16)
    p.add_argument("--results", default=str(HERE / "results" / "gpu_check.md"))
    p.add_argument("--work-dir")
    a = p.parse_args(argv)

    reason = cuda_reason()
    if reason:
        print(f"gpu_check: skipped: {reason}")
        return 0
    data = Path(a.data)
    if not data.is_file():
        print(f"gpu_check: {data}: no such file (the real datasets live in ../shared/data/real/)", file=sys.stderr)
        return 1
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="gpu-check-") if not a.work_dir else None
    work = Path(a.work_dir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    (work / "tunelint.toml").write_text('[severity]\nTL007 = "info"\n')
    rows, evals, failed = [], [], False
    for size in a.sizes.split(","):
        folder = work / size
        params = build_model(size, data, folder)
        say(f"== {size}: {params / 1e9:.2f}B parameters")
        for method in a.methods.split(","):
            for padding_free in (True, False):
                say(f"   {method}, {'padding-free' if padding_free else 'padded'} ...")
                row = train_row(folder, data, work, method, padding_free, a)
                failed |= bool(row.get("error"))
                say(f"   {row.get('error') or row['throughput']}")
                rows.append(row)
        if a.eval_examples > 0 and Path(a.eval_data).is_file():
            try:
                evals.append(eval_row(folder, Path(a.eval_data), a))
            except Exception as e:  # reported, and a failure
                failed = True
                say(f"   evaluation: {type(e).__name__}: {e}")
    header = (f"# GPU check (`bench/gpu_check.py {' '.join(sys.argv[1:])}`)\n\n"
              f"{time.strftime('%Y-%m-%d %H:%M')}, {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}. Data `{data}`, {a.steps} steps a row, batch {a.batch_size}, max_length "
              f"{a.max_length}, gradient checkpointing {'on' if a.gradient_checkpointing else 'off'}. "
              f"Total {time.perf_counter() - started:.0f} s.")
    body = report(rows, evals, header)
    print(body)
    out = Path(a.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body)
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
