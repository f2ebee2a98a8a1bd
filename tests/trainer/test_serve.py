"""`tunelint serve` on a real tiny LoRA run, driven by the official `openai` client: /v1/models lists
the run and its base, plain and streamed chat completions answer under both names; the refusals
(a port in use, a non-loopback host without --allow-remote, not a run); the vLLM command line."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.trainer.conftest import QA, chat

pytest.importorskip("fastapi", reason="tunelint serve needs the `serve` extra")
openai = pytest.importorskip("openai", reason="the serve tests use the official openai client (dev extra)")

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1"]


def tunelint(*args, cwd=None, timeout=600, **kw):
    return subprocess.run([sys.executable, "-m", "tunelint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A tiny LoRA run, trained for real."""
    tmp = tmp_path_factory.mktemp("serve")
    data = tmp / "train.jsonl"
    data.write_text("".join(json.dumps(chat(*x)) + "\n" for x in QA[:48]))
    (tmp / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    run = tmp / "my-run"
    r = tunelint("train", str(data), "-o", str(run), "--max-steps", "10", *TINY)
    assert r.returncode == 0, r.stderr
    assert (run / "adapter").is_dir()
    return run


def start(target, port, *extra):
    return subprocess.Popen([sys.executable, "-m", "tunelint", "serve", str(target), "--port", str(port),
                             "--ready-json", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(proc, timeout=300):
    """The ready line ({url, models, pid}) tunelint serve prints once both models answer."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            if line.startswith("{"):
                return json.loads(line)
        if proc.poll() is not None:
            raise AssertionError(f"tunelint serve exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
    raise AssertionError("tunelint serve was not ready in time")


@pytest.fixture(scope="module")
def served(lora_run):
    port = free_port()
    proc = start(lora_run, port)
    try:
        ready = wait_ready(proc)
        yield proc, ready, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


MESSAGES = [{"role": "system", "content": "You add numbers."}, {"role": "user", "content": "What is 3 plus 4?"}]


@pytest.mark.slow
def test_openai_client_lists_both_models_and_gets_plain_and_streamed_answers(served, lora_run):
    proc, ready, port = served
    assert ready["url"] == f"http://127.0.0.1:{port}/v1"
    assert ready["models"] == ["my-run", "tiny-base"]
    client = openai.OpenAI(base_url=ready["url"], api_key="unused")
    ids = [m.id for m in client.models.list()]
    assert "my-run" in ids and "tiny-base" in ids
    r = client.chat.completions.create(model="my-run", messages=MESSAGES, max_tokens=12)
    assert r.choices[0].message.content and r.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="my-run", messages=MESSAGES, max_tokens=12, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 2 and streamed
    assert streamed == r.choices[0].message.content  # greedy by default: the same answer either way
    base = client.chat.completions.create(model="tiny-base", messages=MESSAGES, max_tokens=12)
    assert base.choices[0].message.content
    assert base.model == "tiny-base" and r.model == "my-run"
    assert (lora_run / "merged" / "config.json").is_file()  # the merge is cached in the run


@pytest.mark.slow
def test_ctrl_c_stops_the_engine_too(lora_run):
    merged = lora_run / "merged" / "config.json"
    stamp = merged.stat().st_mtime if merged.exists() else None
    port = free_port()
    proc = start(lora_run, port)
    ready = wait_ready(proc)
    if stamp is not None:
        assert merged.stat().st_mtime == stamp  # up to date: reused, not merged again
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    assert "stopping" in proc.stderr.read()
    with socket.socket() as s:  # the engine is gone: the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    assert ready["pid"] == proc.pid


@pytest.mark.slow
def test_a_port_in_use_is_a_clear_error(lora_run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = tunelint("serve", str(lora_run), "--port", str(port), timeout=120)
    assert r.returncode == 2
    assert f"port {port}" in r.stderr and "in use" in r.stderr and "Traceback" not in r.stderr


def test_a_non_loopback_host_needs_allow_remote(tmp_path):
    r = tunelint("serve", str(tmp_path), "--host", "0.0.0.0", "--port", str(free_port()), timeout=120)
    assert r.returncode == 2 and "--allow-remote" in r.stderr and "Traceback" not in r.stderr


def test_not_a_run_or_model_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    r = tunelint("serve", str(tmp_path), "--port", str(free_port()), timeout=120)
    assert r.returncode == 2 and "neither a tunelint run folder" in r.stderr and str(tmp_path) in r.stderr
    r = tunelint("serve", str(tmp_path / "missing"), "--port", str(free_port()), timeout=120)
    assert r.returncode == 2 and "no such run folder" in r.stderr


def test_an_unfinished_run_names_what_is_missing(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"base_model": "tiny", "settings": {"method": "lora"}}))
    (run / "events.jsonl").write_text("")
    r = tunelint("serve", str(run), "--port", str(free_port()), timeout=120)
    assert r.returncode == 2 and "adapter/" in r.stderr


def test_host_checks():
    from tunelint.trainer.serve import ServeError, check_host, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert check_host("127.0.0.1", False) is None
    with pytest.raises(ServeError, match="--allow-remote"):
        check_host("0.0.0.0", False)
    assert "warning" in check_host("0.0.0.0", True)


def test_the_vllm_command_serves_the_adapter_as_a_lora_module(tmp_path):
    from tunelint.trainer.serve import lora_rank, transformers_command, vllm_command

    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 64}))
    assert lora_rank(tmp_path) == 64
    argv = vllm_command(base="Qwen/Qwen2.5-0.5B-Instruct", base_name="Qwen/Qwen2.5-0.5B-Instruct", name="run1",
                        adapter="/runs/run1/adapter", host="127.0.0.1", port=8001, rank=64)
    assert os.path.basename(argv[0]) == "vllm" and argv[1:3] == ["serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    joined = " ".join(argv)
    assert "--enable-lora --lora-modules run1=/runs/run1/adapter" in joined
    assert "--served-model-name Qwen/Qwen2.5-0.5B-Instruct" in joined and "--max-lora-rank 64" in joined
    assert "--host 127.0.0.1 --port 8001" in joined
    assert "--max-lora-rank" not in vllm_command(base="b", base_name="b", name="r", adapter="a", host="h", port=1)
    t = transformers_command(host="127.0.0.1", port=8002)
    assert t[:4] == [sys.executable, "-m", "transformers.cli.transformers", "serve"]
    assert "--model-timeout" in t and t[t.index("--model-timeout") + 1] == "-1"


def test_offline_hub_base_is_a_clear_error(tmp_path, monkeypatch):
    from tunelint.trainer.serve import ServeError, _local

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ServeError, match="not in the local Hugging Face cache"):
        _local("some-org/not-a-model", "base model")
