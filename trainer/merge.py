"""An existing run's models: validate a run folder, load its base and fine-tuned models, and merge
a LoRA adapter into its base (`tunelint export`, `tunelint eval`, compare, serve).

The one loader of a run's models: every command that uses a trained run goes through `run_info`
and `load_base` / `load_tuned` / `merge`, so a run is read one way. Torch-side (imports torch,
transformers and peft inside the functions); the language server never imports it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .contract import RunConfig, RunLayout
from .settings import TrainError


class RunError(TrainError):
    """A run folder or its models cannot be used; the message says which and why (exit code 2)."""


@dataclass
class RunInfo:
    """A validated training run folder."""

    run: RunLayout
    name: str  # the run folder's name
    method: str  # lora | full
    base: str  # the base model: its name or local path (tiny runs: RUN/base-model, absolute)
    tuned_path: Path  # adapter/ (LoRA) or model/ (full)
    config: RunConfig = field(default_factory=dict)  # type: ignore[assignment]  # config.json
    dry_run: bool = False  # the tiny model: the numbers mean nothing


def run_info(run: str | Path) -> RunInfo:
    """The run folder `run`, checked: RunError naming the folder and what is missing if it is not
    a finished training run."""
    layout = RunLayout(Path(run).resolve())
    what = "a training run folder has config.json and adapter/ or model/, written by `tunelint train`"
    if not layout.path.is_dir():
        raise RunError(f"{run}: no such run folder ({what})")
    if not layout.config.is_file():
        raise RunError(f"{run} is not a tunelint run folder: it has no {RunLayout.CONFIG} ({what})")
    config = layout.read_config()
    if config is None or not isinstance(config.get("base_model"), str):
        raise RunError(f"{layout.config}: not a run's config (unreadable JSON, or no \"base_model\")")
    settings = config.get("settings") if isinstance(config.get("settings"), dict) else {}
    method = settings.get("method")
    if method not in ("lora", "full"):
        method = "lora" if layout.adapter.is_dir() else "full"
    tuned = layout.weights(method)
    if not tuned.is_dir():
        raise RunError(f"{run}: the run has no {tuned.name}/ (its {'adapter' if method == 'lora' else 'model'}); "
                       "was it cancelled or did it fail before saving? Train it again, or `--resume` it")
    dry_run = bool(config.get("dry_run")) or settings.get("model") == "tiny"
    base = str(layout.base_model) if dry_run and layout.base_model.is_dir() else config["base_model"]
    if dry_run and not layout.base_model.is_dir():
        raise RunError(f"{run}: a tiny-model run without its {RunLayout.BASE_MODEL}/ folder")
    return RunInfo(run=layout, name=layout.path.name, method=method, base=base, tuned_path=tuned,
                   config=config, dry_run=dry_run)


def _device_and_dtype(device, dtype):
    import torch

    if device is None:
        from .device import detect

        device = "cuda" if detect().kind == "cuda" else "cpu"
    device = torch.device(device)
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    return device, dtype


def _tokenizer(info: RunInfo):
    """The tokenizer the run trained with (saved beside its adapter or model), else the base's."""
    from transformers import AutoTokenizer

    for source in (info.tuned_path, info.base):
        try:
            tok = AutoTokenizer.from_pretrained(str(source))
            break
        except (OSError, ValueError) as e:
            error = e
    else:
        raise _unloadable(info, info.base, error)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _unloadable(info: RunInfo, source: str | Path, e: Exception) -> RunError:
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    if os.path.isdir(source):
        why = "the folder is not a loadable model"
    else:
        why = ("it is not a local folder, and the Hugging Face hub could not provide it (offline, or the hub "
               "is unreachable; a typo; or a gated model: `huggingface-cli login`). Download it while online, "
               "or set \"base_model\" in the run's config.json to a local path")
    return RunError(f"run {info.name}: cannot load the model {str(source)!r}: {why}. ({first})")


def _load_model(info: RunInfo, source: str | Path, dtype):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(str(source), dtype=dtype)
    except (OSError, ValueError) as e:
        raise _unloadable(info, source, e) from None


def load_base(info: RunInfo, *, device=None, dtype=None):
    """(model, tokenizer): the run's base model, in eval mode on `device` (default: cuda if there
    is one, else cpu; dtype: bf16 on cuda, else fp32)."""
    device, dtype = _device_and_dtype(device, dtype)
    tok = _tokenizer(info)
    model = _load_model(info, info.base, dtype)
    return model.to(device).eval(), tok


def load_tuned(info: RunInfo, *, device=None, dtype=None):
    """(model, tokenizer): the fine-tuned model, in eval mode. LoRA: the base with the adapter
    (a peft `PeftModel`: `disable_adapter()` gives the base); full: the saved model."""
    device, dtype = _device_and_dtype(device, dtype)
    tok = _tokenizer(info)
    if info.method == "full":
        model = _load_model(info, info.tuned_path, dtype)
    else:
        from peft import PeftModel

        base = _load_model(info, info.base, dtype)
        try:
            model = PeftModel.from_pretrained(base, str(info.tuned_path))
        except (OSError, ValueError) as e:
            raise RunError(f"run {info.name}: cannot load the adapter {info.tuned_path}: {e}") from None
    return model.to(device).eval(), tok


def write_merged(info: RunInfo, folder: Path, *, dtype="auto") -> None:
    """The fine-tuned model as a plain transformers model into the (existing, empty) `folder`:
    LoRA merged into the base (`merge_and_unload`), full copied; safetensors, the tokenizer with its
    chat template, generation_config.json."""
    import torch
    from transformers import GenerationConfig

    if dtype == "auto":  # the checkpoint's own dtype (fp32 when it says none)
        dtype = _checkpoint_dtype(info) or torch.float32
    model, tok = load_tuned(info, device="cpu", dtype=dtype)
    if info.method == "lora":
        model = model.merge_and_unload()
    gen = getattr(model, "generation_config", None) or GenerationConfig.from_model_config(model.config)
    if gen.eos_token_id is None and tok.eos_token_id is not None:
        gen.eos_token_id = tok.eos_token_id
    if gen.pad_token_id is None and tok.pad_token_id is not None:
        gen.pad_token_id = tok.pad_token_id
    model.generation_config = gen
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    if not (folder / "generation_config.json").is_file():
        gen.save_pretrained(str(folder))


def _checkpoint_dtype(info: RunInfo):
    import torch
    from transformers import AutoConfig

    try:
        source = info.tuned_path if info.method == "full" else info.base
        cfg = AutoConfig.from_pretrained(str(source))
    except (OSError, ValueError):
        return None
    d = getattr(cfg, "dtype", None) or getattr(cfg, "torch_dtype", None)
    if isinstance(d, str):
        d = getattr(torch, d, None)
    return d if isinstance(d, torch.dtype) else None


def staging_folder(out: Path) -> Path:
    """A new empty folder beside `out`, to write into before it becomes `out` (`replace_folder`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staged.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the export private to its writer
    return staged


def check_out(out: Path, overwrite: bool) -> None:
    """RunError for an `out` that exists (without `overwrite`) or is not a folder to replace."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise RunError(f"{out} exists and is not a folder; remove it or choose another output")
    if out.exists() and not overwrite:
        raise RunError(f"{out} exists; pass --overwrite to replace it")


def replace_folder(staged: Path, out: Path, overwrite: bool) -> None:
    """`staged` becomes `out` by rename: `out` is either the old folder or the complete new one."""
    check_out(out, overwrite)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        try:
            os.replace(staged, out)
        except OSError:
            os.replace(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, out)


def merge(info: RunInfo, out: Path, *, overwrite: bool = False) -> Path:
    """The fine-tuned model saved as a plain transformers model folder `out` (see `write_merged`):
    `AutoModelForCausalLM.from_pretrained(out)` works without peft or tunelint. Written beside
    `out`, then renamed: never a partial `out`. RunError if `out` exists without `overwrite`."""
    out = Path(out)
    check_out(out, overwrite)
    staged = staging_folder(out)
    try:
        write_merged(info, staged)
        replace_folder(staged, out, overwrite)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return out
