"""`tunelint export` on a real tiny LoRA run (trained once for the module): the merged model is
base + adapter, loads without peft, the adapter-only export points at its base, the model card,
and the refusals (existing output, not a run, hub offline, no llama.cpp)."""

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tunelint.cli import main

TINY = ["--model", "tiny", "--max-length", "128", "--batch-size", "8", "--seed", "1"]


def tunelint(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "tunelint", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def cli(*args):
    """`tunelint` in this process (no interpreter start-up): (exit code, stderr)."""
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stderr


def chat(q: str, a: str) -> dict:
    return {"messages": [{"role": "system", "content": "You add numbers."}, {"role": "user", "content": q},
                         {"role": "assistant", "content": a}]}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A tiny LoRA run, trained for real (a few steps), with a validation file."""
    root = tmp_path_factory.mktemp("export")
    qa = [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a in range(2, 12) for b in range(3, 9)]
    (root / "train.jsonl").write_text("".join(json.dumps(chat(*x)) + "\n" for x in qa[:40]))
    (root / "validation.jsonl").write_text("".join(json.dumps(chat(*x)) + "\n" for x in qa[40:44]))
    (root / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    run = root / "run"
    r = tunelint("train", str(root / "train.jsonl"), "--validation", str(root / "validation.jsonl"), "-o", str(run),
                 "--max-steps", "3", *TINY)
    assert r.returncode == 0, r.stderr
    return run


@pytest.fixture(scope="module")
def merged(lora_run):
    out = lora_run.parent / "merged"
    code, err = cli("export", str(lora_run), "-o", str(out))
    assert code == 0, err
    return out


def prompts(run: Path) -> list[list[dict]]:
    """The validation examples' prompts: each conversation before its last assistant turn."""
    cfg = json.loads((run / "config.json").read_text())
    rows = [json.loads(x) for x in Path(cfg["validation"]).read_text().splitlines() if x.strip()]
    return [row["messages"][:-1] for row in rows]


def logits(model, tok, conversation):
    import torch

    ids = tok.apply_chat_template(conversation, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        return model(input_ids=ids["input_ids"]).logits


@pytest.mark.slow
def test_merged_model_is_base_plus_adapter_on_the_validation_prompts(lora_run, merged):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunelint.trainer.merge import load_base, load_tuned, run_info

    info = run_info(lora_run)
    tuned, tok = load_tuned(info, device="cpu", dtype=torch.float32)
    base, _ = load_base(info, device="cpu", dtype=torch.float32)
    out = AutoModelForCausalLM.from_pretrained(str(merged), dtype=torch.float32).eval()
    out_tok = AutoTokenizer.from_pretrained(str(merged))
    convs = prompts(lora_run)
    assert len(convs) == 4
    for conv in convs:
        expected = logits(tuned, tok, conv)
        got = logits(out, out_tok, conv)
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
        assert (logits(base, tok, conv) - expected).abs().max() > 1e-2  # the adapter changed the model


@pytest.mark.slow
def test_merged_folder_loads_without_peft(merged):
    names = {p.name for p in merged.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "chat_template.jinja",
            "README.md"} <= names
    assert not any(n.startswith("adapter") for n in names) and not any(n.startswith(".") for n in names)
    config = json.loads((merged / "config.json").read_text())
    assert "peft" not in json.dumps(config).lower() and config["architectures"] == ["LlamaForCausalLM"]
    gen = json.loads((merged / "generation_config.json").read_text())
    assert gen["eos_token_id"] is not None
    code = ("import sys; sys.modules['peft'] = None; sys.modules['tunelint'] = None\n"
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
            f"m = AutoModelForCausalLM.from_pretrained({str(merged)!r})\n"
            f"t = AutoTokenizer.from_pretrained({str(merged)!r})\n"
            "ids = t.apply_chat_template([{'role': 'user', 'content': 'What is 2 plus 3?'}],"
            " add_generation_prompt=True, return_tensors='pt', return_dict=True)['input_ids']\n"
            "print(type(m).__name__, m.generate(ids, max_new_tokens=3, do_sample=False).shape[1] > ids.shape[1])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=merged.parent)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["LlamaForCausalLM", "True"]


@pytest.mark.slow
def test_adapter_only_points_at_the_base(lora_run):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    from tunelint.trainer.merge import load_tuned, run_info

    out = lora_run.parent / "adapter-only"
    code, err = cli("export", str(lora_run), "-o", str(out), "--adapter-only")
    assert code == 0, err
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(lora_run.resolve() / "base-model")
    assert os.path.isabs(cfg["base_model_name_or_path"])
    assert (out / "adapter_model.safetensors").is_file() and not (out / "training_args.bin").exists()
    card = (out / "README.md").read_text()
    assert "library_name: peft" in card
    model = AutoPeftModelForCausalLM.from_pretrained(str(out), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(out))
    tuned, _ = load_tuned(run_info(lora_run), device="cpu", dtype=torch.float32)
    conv = prompts(lora_run)[0]
    torch.testing.assert_close(logits(model, tok, conv), logits(tuned, tok, conv))


def test_model_card_has_base_method_data_lint_and_losses(lora_run, merged):
    from huggingface_hub import ModelCard

    card = ModelCard.load(merged / "README.md")
    assert {"tunelint", "lora", "dry-run"} <= set(card.data.tags)
    assert card.data.library_name == "transformers" and card.data.base_model is None  # a local tiny model
    text = card.text
    assert "DRY RUN" in text
    assert str(lora_run.resolve() / "base-model") in text and "Method: lora" in text and "`lora_r` | 16" in text
    cfg = json.loads((lora_run / "config.json").read_text())
    for path, lines in ((cfg["data"], 40), (cfg["validation"], 4)):
        sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert f"| `{Path(path).name}` | {'train' if lines == 40 else 'validation'} | {lines} | `{sha}` |" in text
        assert cfg["lint"][path]["sha256"] == sha  # recorded at training time
    assert "### Linter summary at training time" in text and "| `train.jsonl` | 40 | 0 | 0 |" in text
    metrics = json.loads((lora_run / "metrics.json").read_text())
    before, after = (f"{metrics[k]:.4f}".rstrip("0").rstrip(".") for k in ("eval_loss_before", "eval_loss_after"))
    assert f"| eval loss | {before} | {after} |" in text


def test_existing_output_is_refused_and_left_as_it_was(lora_run, merged):
    out = lora_run.parent / "taken"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    code, err = cli("export", str(lora_run), "-o", str(out))
    assert code == 2 and "exists" in err and "--overwrite" in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and (out / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []  # no staging folder left


@pytest.mark.slow
def test_overwrite_replaces_the_output_whole(lora_run):
    out = lora_run.parent / "replaced"
    out.mkdir()
    (out / "old.txt").write_text("old")
    code, err = cli("export", str(lora_run), "-o", str(out), "--overwrite")
    assert code == 0, err
    assert not (out / "old.txt").exists() and (out / "model.safetensors").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_a_folder_that_is_not_a_run_is_exit_2(tmp_path, lora_run):
    code, err = cli("export", str(tmp_path), "-o", str(tmp_path / "out"))
    assert code == 2 and str(tmp_path) in err and "config.json" in err and "not a tunelint run" in err
    code, err = cli("export", str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert code == 2 and "no such run folder" in err
    code, err = cli("export", str(lora_run), "-o", str(lora_run))
    assert code == 2 and "run folder" in err
    assert not (tmp_path / "out").exists()


class _Recorder(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def _any(self):
        type(self).requests.append((self.command, self.path))
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PUT = do_HEAD = _any

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_push_to_hub_offline_is_a_clear_error_and_nothing_is_written(lora_run, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        out = tmp_path / "pushed"
        r = tunelint("export", str(lora_run), "-o", str(out), "--push-to-hub", "someone/tiny",
                     env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_unused"})
        assert r.returncode == 2, r.stderr
        assert "cannot push to 'someone/tiny'" in r.stderr and "offline" in r.stderr
        assert not out.exists() and _Recorder.requests == []  # nothing asked of the hub, nothing written here
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        r = tunelint("export", str(lora_run), "-o", str(out), "--push-to-hub", "someone/tiny",
                     env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{closed}", "HF_TOKEN": "hf_unused"})
        assert r.returncode == 2 and "unreachable" in r.stderr, r.stderr
        assert not out.exists()
    finally:
        server.shutdown()


def test_gguf_without_llama_cpp_names_what_to_install(lora_run, tmp_path, monkeypatch):
    monkeypatch.delenv("LLAMA_CPP_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "gguf"
    code, err = cli("export", str(lora_run), "-o", str(out), "--gguf")
    assert code == 2 and "llama.cpp" in err and "LLAMA_CPP_DIR" in err and "convert_hf_to_gguf.py" in err
    assert not out.exists()
    help_text = CliRunner().invoke(main, ["export", "--help"]).output
    assert "llama.cpp" in " ".join(help_text.split())


@pytest.mark.slow
def test_gguf_runs_llama_cpp_s_converter_on_the_merged_folder(lora_run, tmp_path, monkeypatch):
    llama = tmp_path / "llama.cpp"
    (llama / "gguf-py" / "gguf").mkdir(parents=True)
    (llama / "convert_hf_to_gguf.py").write_text(  # a stand-in: checks its input is the merged model folder
        "import sys, pathlib\n"
        "src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[sys.argv.index('--outfile') + 1])\n"
        "assert (src / 'model.safetensors').is_file() and (src / 'tokenizer.json').is_file()\n"
        "out.write_bytes(b'GGUF' + b'\\0' * 8)\n")
    monkeypatch.setenv("LLAMA_CPP_DIR", str(llama))
    out = tmp_path / "with-gguf"
    code, err = cli("export", str(lora_run), "-o", str(out), "--gguf")
    assert code == 0, err
    assert (out / "model.gguf").read_bytes().startswith(b"GGUF") and (out / "model.safetensors").is_file()
    (llama / "convert_hf_to_gguf.py").write_text("import sys; print('unsupported tokenizer', file=sys.stderr); "
                                                 "sys.exit(1)\n")
    code, err = cli("export", str(lora_run), "-o", str(tmp_path / "failed"), "--gguf")
    assert code == 2 and "GGUF conversion failed" in err and "unsupported tokenizer" in err
    assert not (tmp_path / "failed").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_full_run_exports_its_model(tmp_path, lora_run):
    import torch
    from transformers import AutoModelForCausalLM

    run = tmp_path / "full"
    train = json.loads((lora_run / "config.json").read_text())["data"]
    r = tunelint("train", train, "-o", str(run), "--method", "full", "--max-steps", "1", *TINY)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    code, err = cli("export", str(run), "-o", str(out))
    assert code == 0, err
    a = AutoModelForCausalLM.from_pretrained(str(run / "model"), dtype=torch.float32)
    b = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(p, q), name
    assert "Method: full" in (out / "README.md").read_text()
    code, err = cli("export", str(run), "-o", str(tmp_path / "adapter"), "--adapter-only")
    assert code == 2 and "full fine-tune" in err
