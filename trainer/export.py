"""`tunelint export RUN -o OUT`: a training run as a model anyone can load.

* LoRA runs: the adapter merged into the base weights (peft's `merge_and_unload`); full runs: the
  model. Safetensors, the tokenizer with its chat template, `generation_config.json`:
  `AutoModelForCausalLM.from_pretrained(OUT)` needs neither tunelint nor peft (trainer/merge.py).
* `--adapter-only`: the adapter, its `adapter_config.json` pointing at the base (the model's name,
  or for a tiny-model run the absolute path of RUN/base-model).
* A Hugging Face model card, `OUT/README.md` (huggingface_hub's `ModelCard`): base model, method
  and settings, the data files (sha256, lines), the linter's summary at training time, eval loss
  before / after, the dry-run label.
* `--gguf`: `OUT/model.gguf` through llama.cpp's `convert_hf_to_gguf.py` (LLAMA_CPP_DIR or PATH).
* `--push-to-hub REPO`: OUT uploaded through huggingface_hub, once it is complete.

OUT is written into a folder beside it, then renamed: it is the complete export or it is not
there (an existing OUT is replaced only with `overwrite`, and stays as it was on any failure).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .merge import RunError, RunInfo, check_out, replace_folder, run_info, staging_folder, write_merged

GGUF_FILE = "model.gguf"
CONVERTER = "convert_hf_to_gguf.py"
GGUF_INSTALL = ("llama.cpp's converter: `git clone https://github.com/ggml-org/llama.cpp`, "
                "`pip install -r llama.cpp/requirements/requirements-convert_hf_to_gguf.txt`, then set "
                f"LLAMA_CPP_DIR to that folder (or put {CONVERTER} on PATH)")
# what --adapter-only copies of adapter/: not peft's generated README (the card replaces it), not
# the trainer's pickled training_args.bin
ADAPTER_SKIP = {"README.md", "training_args.bin"}


def export(run: str | Path, out: str | Path, *, adapter_only: bool = False, overwrite: bool = False,
           push_to_hub: str | None = None, gguf: bool = False, log=None) -> Path:
    """Export the run folder `run` into `out`; RunError for what the user can fix."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    info = run_info(run)
    out = Path(out).absolute()
    if gguf and adapter_only:
        raise RunError("--gguf converts the merged model: it cannot be combined with --adapter-only")
    if out.resolve() == info.run.path or info.run.path.is_relative_to(out.resolve()):
        raise RunError(f"{out} is the run folder or holds it: export into another folder")
    check_out(out, overwrite)
    converter = find_gguf_converter() if gguf else None
    if gguf and converter is None:
        raise RunError(f"--gguf needs {GGUF_INSTALL}; nothing was written")
    if push_to_hub:
        check_hub(push_to_hub)
    staged = staging_folder(out)
    try:
        if adapter_only:
            log(f"tunelint: copying the adapter of {info.name}")
            write_adapter(info, staged)
        else:
            log(f"tunelint: {'merging the adapter into' if info.method == 'lora' else 'copying'} {info.base}")
            write_merged(info, staged)
        if converter is not None:
            log(f"tunelint: converting to GGUF with {' '.join(converter)}")
            convert_gguf(converter, staged, staged / GGUF_FILE)
        model_card(info, adapter_only=adapter_only, gguf=converter is not None).save(staged / "README.md")
        replace_folder(staged, out, overwrite)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    log(f"tunelint: wrote {out}")
    if push_to_hub:
        push(out, push_to_hub, log)
    return out


# -- the adapter ----------------------------------------------------------------------------------

def write_adapter(info: RunInfo, folder: Path) -> None:
    """The run's adapter and tokenizer, `base_model_name_or_path` set to the base."""
    if info.method != "lora":
        raise RunError(f"run {info.name} is a full fine-tune: it has no adapter (export it without --adapter-only)")
    for item in info.tuned_path.iterdir():
        if item.name in ADAPTER_SKIP:
            continue
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        else:
            shutil.copy2(item, folder / item.name)
    cfg_path = folder / "adapter_config.json"
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunError(f"{info.tuned_path / 'adapter_config.json'}: not a readable adapter config ({e})") from None
    cfg["base_model_name_or_path"] = info.base
    cfg["inference_mode"] = True
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- GGUF -----------------------------------------------------------------------------------------

def find_gguf_converter() -> list[str] | None:
    """The command that runs llama.cpp's converter: LLAMA_CPP_DIR's convert_hf_to_gguf.py, else one
    on PATH; None when there is none (or the script's `gguf` package is missing)."""
    candidates = []
    if os.environ.get("LLAMA_CPP_DIR"):
        candidates.append(Path(os.environ["LLAMA_CPP_DIR"]) / CONVERTER)
    for name in (CONVERTER, "convert_hf_to_gguf", "convert-hf-to-gguf.py"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for script in candidates:
        if not script.is_file():
            continue
        if script.suffix != ".py":
            return [str(script)]
        # the script imports `gguf`: llama.cpp's own gguf-py beside it, or the installed package
        if (script.parent / "gguf-py" / "gguf").is_dir() or _has_module("gguf"):
            return [sys.executable, str(script)]
    return None


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def convert_gguf(converter: list[str], model_dir: Path, outfile: Path) -> None:
    r = subprocess.run([*converter, str(model_dir), "--outfile", str(outfile)], capture_output=True, text=True)
    if r.returncode != 0 or not outfile.is_file():
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-8:])
        raise RunError(f"the GGUF conversion failed (exit {r.returncode}); nothing was written:\n{tail}")


# -- the Hugging Face hub -------------------------------------------------------------------------

def _hub_error(repo: str, e: Exception, written: Path | None = None) -> RunError:
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError, OfflineModeIsEnabled

    local = (f" {written} is complete locally; push it later with `hf upload {repo} {written}`"
             if written else " Nothing was written.")
    if isinstance(e, OfflineModeIsEnabled):
        why = "huggingface_hub is offline (HF_HUB_OFFLINE is set)"
    elif isinstance(e, LocalTokenNotFoundError):
        why = "not logged in to the Hugging Face hub (`hf auth login`, or set HF_TOKEN)"
    elif isinstance(e, HfHubHTTPError) and e.response is not None and e.response.status_code in (401, 403):
        why = f"the hub refused the token (HTTP {e.response.status_code}): `hf auth login` with a write token"
    elif isinstance(e, HfHubHTTPError):
        why = f"the hub answered: {str(e).splitlines()[0]}"
    else:
        why = f"the Hugging Face hub is unreachable (offline, or no network): {type(e).__name__}"
    return RunError(f"cannot push to {repo!r}: {why}.{local}")


def check_hub(repo: str) -> None:
    """Before anything is written: the hub is reachable and we are logged in."""
    from huggingface_hub import HfApi

    if "/" not in repo.strip("/"):
        raise RunError(f"--push-to-hub {repo!r}: give the repository as OWNER/NAME")
    try:
        HfApi().whoami()
    except Exception as e:  # offline, unreachable, not logged in: one clear message, nothing written
        raise _hub_error(repo, e) from None


def push(out: Path, repo: str, log) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo, exist_ok=True)
        commit = api.upload_folder(repo_id=repo, folder_path=str(out), commit_message="tunelint export")
    except Exception as e:
        raise _hub_error(repo, e, written=out) from None
    log(f"tunelint: pushed {out} to {getattr(commit, 'commit_url', repo)}")


# -- the model card -------------------------------------------------------------------------------

def file_facts(path: str) -> dict:
    """sha256 and line count of a data file as it is now (None when it is gone)."""
    try:
        digest, lines = hashlib.sha256(), 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                lines += chunk.count(b"\n")
    except OSError:
        return {"sha256": None, "lines": None}
    return {"sha256": digest.hexdigest(), "lines": lines}


def card_facts(info: RunInfo) -> dict:
    """What the card says, as data (the tests read it too)."""
    config = info.config
    metrics = info.run.read_metrics() or {}
    lint = config.get("lint") if isinstance(config.get("lint"), dict) else None
    files = []
    for role, path in (("train", config.get("data")), ("validation", config.get("validation"))):
        if not path:
            continue
        now = file_facts(path)
        recorded = (lint or {}).get(path, {})
        then = recorded.get("sha256")
        # the sha256 the run recorded when it trained; a file that changed since is said to have
        files.append({"role": role, "path": path, "sha256": then or now["sha256"], "lines": now["lines"],
                      "sha256_now": now["sha256"], "lint": recorded or None,
                      "changed": bool(then and now["sha256"] and then != now["sha256"])})
    return {"name": info.name, "base": info.base, "base_name": config.get("settings", {}).get("model", info.base),
            "method": info.method, "settings": config.get("settings", {}), "learning_rate": config.get("learning_rate"),
            "dry_run": info.dry_run, "files": files, "lint_recorded": lint is not None, "metrics": metrics,
            "device": config.get("device", {}), "versions": config.get("versions", {})}


def _num(x) -> str:
    if isinstance(x, float):
        return f"{x:.4f}".rstrip("0").rstrip(".") or "0"
    return "–" if x is None else str(x)


def model_card(info: RunInfo, *, adapter_only: bool = False, gguf: bool = False):
    """The Hugging Face model card (README.md) of the export."""
    from huggingface_hub import ModelCard, ModelCardData

    f = card_facts(info)
    m = f["metrics"]
    hub_base = None if info.dry_run or os.path.isabs(info.base) or os.path.exists(info.base) else info.base
    tags = ["tunelint", "fine-tuned", info.method] + (["dry-run"] if info.dry_run else []) + (["gguf"] if gguf else [])
    data = ModelCardData(
        base_model=hub_base, library_name="peft" if adapter_only else "transformers",
        pipeline_tag="text-generation", tags=tags,
        model_name=info.name,
    )
    lines = [f"# {info.name}", ""]
    if info.dry_run:
        lines += ["> **DRY RUN.** Trained with `--model tiny`: a tiny model built from the data, to test the "
                  "pipeline. Its numbers and answers mean nothing.", ""]
    what = ("the LoRA adapter" if adapter_only else
            "the LoRA adapter merged into the base weights" if info.method == "lora" else "the fully fine-tuned model")
    lines += [f"Fine-tuned with tunelint (`tunelint train`: TRL + peft); this folder is {what}"
              + (f", with `{GGUF_FILE}` for llama.cpp / Ollama" if gguf else "") + ".", ""]
    base_text = ("a tiny model built from the data (`--model tiny`), at " f"`{info.base}`"
                 if info.dry_run else f"`{f['base_name']}`")
    lines += ["## Training", "", f"* Base model: {base_text}", f"* Method: {info.method}",
              f"* Learning rate: {_num(f['learning_rate'])}",
              f"* Device: {f['device'].get('name', '–')} ({f['device'].get('precision', '–')})", "",
              "| setting | value |", "| --- | --- |"]
    lines += [f"| `{k}` | {json.dumps(v)} |" for k, v in f["settings"].items()]
    lines += ["", "## Data", "", "| file | role | lines | sha256 |", "| --- | --- | --- | --- |"]
    for d in f["files"]:
        note = " (changed since training)" if d["changed"] else "" if d["sha256_now"] else " (missing now)"
        lines.append(f"| `{os.path.basename(d['path'])}`{note} | {d['role']} | {_num(d['lines'])} | "
                     f"`{d['sha256'] or '–'}` |")
    lines += ["", "sha256: the file the run trained on (recorded at training time; for older runs, the file at "
              "export time).", "", "### Linter summary at training time", ""]
    if not f["lint_recorded"]:
        lines.append("Not recorded (the run predates tunelint recording it).")
    else:
        lines += ["| file | examples | errors | warnings | info | findings by code "
                  "| tokens per example (mean / p95 / max) |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for d in f["files"]:
            lint = d["lint"] or {}
            sev, stats = lint.get("findings", {}), lint.get("stats", {})
            tokens = stats.get("tokens_per_example") or {}
            codes = ", ".join(f"{c} ×{n}" for c, n in (lint.get("by_code") or {}).items()) or "none"
            tok = " / ".join(_num(tokens.get(k)) for k in ("mean", "p95", "max")) if tokens else "–"
            lines.append(f"| `{os.path.basename(d['path'])}` | {_num(stats.get('examples'))} | "
                         f"{_num(sev.get('error'))} | {_num(sev.get('warning'))} | {_num(sev.get('info'))} | "
                         f"{codes} | {tok} |")
    lines += ["", "## Evaluation", ""]
    if "eval_loss_before" in m:
        lines += ["| | before | after |", "| --- | --- | --- |",
                  f"| eval loss | {_num(m.get('eval_loss_before'))} | {_num(m.get('eval_loss_after'))} |",
                  f"| perplexity | {_num(m.get('perplexity_before'))} | {_num(m.get('perplexity_after'))} |", ""]
        lines += [f"* Exact match: {_num(m.get('exact_match'))}, token F1: {_num(m.get('token_f1'))} "
                  f"({_num(m.get('eval_examples'))} validation examples)"]
    else:
        lines.append("No validation file: no evaluation loss.")
    lines += [f"* Training loss: {_num(m.get('train_loss'))}, {_num(m.get('steps'))} steps, "
              f"{_num(m.get('epochs'))} epochs, status {m.get('status', '–')}", ""]
    lines += ["## Use", "", "```python"]
    if adapter_only:
        lines += ["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer", "",
                  "# loads the base model named in adapter_config.json, then the adapter",
                  'model = AutoPeftModelForCausalLM.from_pretrained("PATH")',
                  'tokenizer = AutoTokenizer.from_pretrained("PATH")']
    else:
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  'model = AutoModelForCausalLM.from_pretrained("PATH")',
                  'tokenizer = AutoTokenizer.from_pretrained("PATH")']
    lines += ["```", "", "## Versions", ""]
    lines += [f"* {k} {v}" for k, v in f["versions"].items() if v]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
