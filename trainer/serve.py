"""`tunelint serve RUN_OR_MODEL`: an OpenAI-compatible endpoint (`/v1/chat/completions` with
streaming, `/v1/models`) for a run's fine-tuned model, under the run's name, and its base model,
under the base's own name.

Built on an existing serving engine, not an HTTP server of ours:

* `transformers serve` (FastAPI + uvicorn; the `serve` extra) on CPU and GPU. It loads a model by
  the request's `model`, and a name that is an existing path (relative to its working directory)
  is loaded from that path. So it runs in a folder of symlinks named by the model names
  (`<run name>` → the merged model, `<base name>` → the base), with `--model-timeout -1` (never
  unloaded), and both are loaded (`POST /load_model`) before the endpoint is announced: then
  `/v1/models` lists both. A LoRA run's adapter is merged into its base once (trainer/merge.py)
  into `RUN/merged/`, reused while it is newer than the adapter.
* vLLM, when it is installed and CUDA is available (`--engine auto`), for LoRA runs: `vllm serve
  BASE --enable-lora --lora-modules NAME=ADAPTER`: no merge, the adapter applied per request.

tunelint only prepares and supervises the engine process: requests go to the engine directly, so
the throughput is the engine's (bench/serve_speed.py measures it). Ctrl-C (or SIGTERM) stops the
engine and its children; the engine dies with this process (Linux: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tunelint.children import die_with_parent

from .contract import RunLayout
from .merge import RunError, RunInfo, merge, run_info

ENGINES = ("auto", "transformers", "vllm")
LOOPBACK_NAMES = ("localhost",)


class ServeError(RunError):
    """A usage or setup problem of `tunelint serve` (exit code 2)."""


@dataclass
class Served:
    name: str  # what a request's `model` says
    source: str  # a local folder (or, for vLLM, a hub id)
    role: str  # "tuned" | "base" | "model"


@dataclass
class Plan:
    """What to start: the engine's command line, where, and the models it must answer for."""

    engine: str
    argv: list[str]
    models: list[Served]
    cwd: str | None = None
    preload: list[str] = field(default_factory=list)  # names to POST /load_model before announcing
    cleanup: list[str] = field(default_factory=list)  # folders to remove when stopped

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]


# -- checks -------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> str | None:
    """None for a loopback host; a warning for another with `allow_remote`; else ServeError."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise ServeError(f"--host {host} is not a loopback address: the endpoint would be reachable from other "
                         "machines, with no authentication. Pass --allow-remote to do that on purpose")
    return (f"warning: serving on {host}: anyone who can reach this machine's port can use the models "
            "(no authentication)")


def check_port(host: str, port: int) -> None:
    """ServeError if `port` cannot be listened on at `host` (in use, or not allowed)."""
    if not 0 < port < 65536:
        raise ServeError(f"--port {port}: a port is 1-65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ServeError(f"--host {host}: cannot resolve it ({e})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is free
        try:
            s.bind(addr)
        except OSError as e:
            raise ServeError(f"port {port} on {host} is in use ({e.strerror}); stop what listens there or pick "
                             "another with --port") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# -- what is served -----------------------------------------------------------------------------

def base_name(info: RunInfo) -> str:
    """The base model's name: its hub id, the folder name of a local base, `tiny-base` for a tiny
    run; `<run>-base` if that is the run's own name."""
    if info.dry_run:
        name = "tiny-base"
    elif os.path.isdir(info.base):
        name = Path(info.base).name
    else:
        name = info.base
    return f"{info.name}-base" if name == info.name else name


def merged_model(info: RunInfo, *, log=None) -> Path:
    """The run's fine-tuned model as a plain transformers folder: `model/` for a full run; for
    LoRA, `RUN/merged/`, merged now unless it is newer than every file of the adapter."""
    if info.method == "full":
        return info.tuned_path
    out = info.run.merged
    if _up_to_date(out, info.tuned_path):
        return out
    if log:
        log(f"merging the adapter into {info.base} (once; cached in {out})")
    return merge(info, out, overwrite=True)


def _up_to_date(out: Path, adapter: Path) -> bool:
    marker = out / "config.json"
    try:
        made = marker.stat().st_mtime
        newest = max((p.stat().st_mtime for p in adapter.rglob("*") if p.is_file()), default=0.0)
    except OSError:
        return False
    return made >= newest and (out / "tokenizer_config.json").is_file()


def _local(source: str, what: str) -> str:
    """A local folder for `source` (a folder, or a hub id in the local hub cache); ServeError if none."""
    if os.path.isdir(source):
        return str(Path(source).resolve())
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(source, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - not cached, a bad id: one message
        raise ServeError(
            f"cannot load the {what} {source!r}: it is not a local folder, and it is not in the local Hugging Face "
            f"cache (the hub is not asked: offline, or unreachable). Download it while online, or give a local "
            f"path. ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _is_run(target: Path) -> bool:
    return (target / RunLayout.CONFIG).is_file() and (
        (target / RunLayout.ADAPTER).is_dir() or (target / RunLayout.MODEL).is_dir()
        or (target / RunLayout.EVENTS).is_file())


def resolve(target: str, *, log=None) -> tuple[RunInfo | None, list[Served]]:
    """The models to serve for `target`: a run folder (fine-tuned, then base) or a model (a model
    folder with config.json, or a hub id in the local cache). ServeError / RunError otherwise."""
    path = Path(target)
    if path.is_dir() and (path / RunLayout.CONFIG).is_file() and _is_run(path):
        info = run_info(path)
        tuned = merged_model(info, log=log)
        base = _local(info.base, "base model")
        return info, [Served(info.name, str(Path(tuned).resolve()), "tuned"), Served(base_name(info), base, "base")]
    if path.is_dir():
        if (path / "config.json").is_file() and (any(path.glob("*.safetensors")) or any(path.glob("*.bin"))):
            return None, [Served(path.resolve().name, str(path.resolve()), "model")]
        raise ServeError(f"{target} is neither a tunelint run folder (config.json and adapter/ or model/, written "
                         "by `tunelint train`) nor a model folder (config.json and weights)")
    if path.exists():
        raise ServeError(f"{target} is a file: give a run folder, a model folder or a model name")
    if "/" in target and not target.startswith((".", "/")) and target.count("/") == 1:
        return None, [Served(target, _local(target, "model"), "model")]
    raise ServeError(f"{target}: no such run folder or model folder (nor a hub model id like org/name)")


# -- engines ------------------------------------------------------------------------------------

def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def vllm_executable() -> str:
    beside = Path(sys.executable).with_name("vllm")
    return str(beside) if beside.exists() else (shutil.which("vllm") or "vllm")


def lora_rank(adapter: Path) -> int:
    try:
        cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
        return int(cfg.get("r") or 16)
    except (OSError, ValueError, TypeError):
        return 16


def vllm_command(*, base: str, base_name: str, name: str, adapter: str, host: str, port: int,
                 rank: int = 16) -> list[str]:
    """`vllm serve` of the base with the run's adapter as a LoRA module under the run's name."""
    argv = [vllm_executable(), "serve", base, "--host", host, "--port", str(port), "--served-model-name", base_name,
            "--enable-lora", "--lora-modules", f"{name}={adapter}"]
    if rank > 16:  # vLLM's default --max-lora-rank is 16
        argv += ["--max-lora-rank", str(rank)]
    return argv


def transformers_command(*, host: str, port: int, log_level: str = "warning") -> list[str]:
    """`transformers serve` (same interpreter), models never unloaded (`--model-timeout -1`)."""
    return [sys.executable, "-m", "transformers.cli.transformers", "serve", "--host", host, "--port", str(port),
            "--model-timeout", "-1", "--log-level", log_level]


def name_folder(models: list[Served]) -> str:
    """A new folder of symlinks `<name>` → the model's folder: `transformers serve`'s working
    directory, so a request's `model` (a relative path there) loads that folder."""
    folder = tempfile.mkdtemp(prefix="tunelint-serve-")
    for m in models:
        link = Path(folder, m.name)
        link.parent.mkdir(parents=True, exist_ok=True)  # a hub id org/name: a folder org/
        link.symlink_to(m.source, target_is_directory=True)
    return folder


def plan(target: str, *, host: str = "127.0.0.1", port: int = 8000, engine: str = "auto", log=None) -> Plan:
    """What `tunelint serve` starts (checks included, nothing started)."""
    if engine not in ENGINES:
        raise ServeError(f"--engine {engine}: one of {', '.join(ENGINES)}")
    path = Path(target)
    if engine == "vllm" and not vllm_available():
        raise ServeError("--engine vllm needs vLLM installed (pip install vllm) and a CUDA GPU")
    if engine != "transformers" and path.is_dir() and _is_run(path) and vllm_available():
        info = run_info(path)
        if info.method == "lora":
            base = info.base if not os.path.isdir(info.base) else str(Path(info.base).resolve())
            models = [Served(info.name, str(info.tuned_path), "tuned"), Served(base_name(info), base, "base")]
            argv = vllm_command(base=base, base_name=models[1].name, name=info.name, adapter=str(info.tuned_path),
                                host=host, port=port, rank=lora_rank(info.tuned_path))
            return Plan("vllm", argv, models)
        if engine == "vllm":
            raise ServeError(f"--engine vllm serves LoRA runs (the adapter on its base); {target} is a full "
                             "fine-tune: use --engine transformers")
    _check_engine_installed()
    _, models = resolve(target, log=log)
    folder = name_folder(models)
    return Plan("transformers", transformers_command(host=host, port=port), models, cwd=folder,
                preload=[m.name for m in models], cleanup=[folder])


def _check_engine_installed() -> None:
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ServeError(f"serving needs the `serve` extra ({', '.join(missing)} missing): "
                         "pip install 'tunelint[serve]'")


# -- running ------------------------------------------------------------------------------------

def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def listed_models(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """The ids `GET /v1/models` lists, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"{base_url}/v1/models", timeout=timeout) as r:
            return [m.get("id") for m in json.loads(r.read()).get("data", [])]
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _load(base_url: str, name: str) -> None:
    """`POST /load_model` and follow its progress events; ServeError on an error event."""
    req = urllib.request.Request(f"{base_url}/load_model", data=json.dumps({"model": name}).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=3600) as r:
        for raw in r:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            if ev.get("status") == "error":
                raise ServeError(f"the engine could not load {name}: {ev.get('message')}")


def _wait_ready(proc: subprocess.Popen, base_url: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"the serving engine exited with code {proc.returncode} before it was ready "
                             "(its messages are above)")
        got = listed_models(base_url, timeout=1.0)
        if got is not None and (not names or set(names) <= set(got)):
            return
        time.sleep(0.2)
    raise ServeError(f"the serving engine did not answer on {base_url} within {int(timeout)}s")


def stop(proc: subprocess.Popen, grace: float = 10.0) -> int:
    """Stop the engine (SIGTERM: uvicorn / vLLM shut down cleanly), SIGKILL after `grace` s."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    return proc.returncode


def serve(target: str, *, host: str = "127.0.0.1", port: int = 8000, allow_remote: bool = False,
          engine: str = "auto", ready_json: bool = False, echo=None) -> int:
    """Serve until Ctrl-C / SIGTERM (exit 0) or the engine stops (its code). ServeError/RunError
    (exit 2) for a bad host, a port in use, a target that is not a run or a model."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr, flush=True))
    warning = check_host(host, allow_remote)
    if warning:
        echo(f"tunelint: {warning}")
    check_port(host, port)
    p = plan(target, host=host, port=port, engine=engine, log=lambda m: echo(f"tunelint: {m}"))
    base_url = _url(host, port)

    def terminated(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, terminated) for sig in (signal.SIGTERM, signal.SIGINT)}
    proc = None
    try:
        proc = subprocess.Popen(p.argv, cwd=p.cwd, stdin=subprocess.DEVNULL, stdout=sys.stderr,  # stdout: ours
                                preexec_fn=die_with_parent)
        _wait_ready(proc, base_url, [] if p.preload else p.names, timeout=1800)
        for name in p.preload:
            _load(base_url, name)
        _wait_ready(proc, base_url, p.names, timeout=60)
        roles = {"tuned": "fine-tuned", "base": "base", "model": "model"}
        echo(f"tunelint: serving {', '.join(f'{m.name} ({roles[m.role]})' for m in p.models)} with {p.engine} "
             f"at {base_url}/v1 (OpenAI API; Ctrl-C stops)")
        if ready_json:
            print(json.dumps({"url": f"{base_url}/v1", "models": p.names, "pid": os.getpid(), "engine": p.engine}),
                  flush=True)
        code = proc.wait()
        echo(f"tunelint: the serving engine stopped (exit {code})")
        return code if code else 0
    except KeyboardInterrupt:
        echo("tunelint: stopping")
        return 0
    finally:
        if proc is not None:
            stop(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for folder in p.cleanup:
            shutil.rmtree(folder, ignore_errors=True)
