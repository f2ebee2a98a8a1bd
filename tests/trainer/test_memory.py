"""The memory preflight (trainer/memory.py): its estimate against the measured peak RSS of real
CPU runs (the same formula, fp32), and the refusal of a run that will not fit, with what would
fit, before any weight is loaded (`--force` goes on).

The tolerance held here: the measured peak within 0.65–1.6× the estimate, for a full fine-tune
and LoRA, each with and without gradient checkpointing, on a 9M-parameter Llama-style model
(hidden 384, 6 layers), batch 8 of ~100-token examples. The measured peak is the RSS above the
RSS before the weights were loaded. The runs fix glibc's mmap threshold
(`MALLOC_MMAP_THRESHOLD_`): by default glibc raises it as large blocks are freed, after which
freed tensors stay in its heap and the peak RSS measures what the allocator kept rather than what
the run held (LoRA with gradient checkpointing read 2.6–3.0× the estimate, a full fine-tune with
it 1.18× in one run and 1.41× in another); with it fixed, the four runs read 0.72–1.30× here, the
same to 1 MB run after run, and LoRA with checkpointing 1.43× in a clean-clone CI run
(bench/README.md, "Memory preflight"). The trainer itself keeps glibc's
default on a CPU: the fixed threshold halves its training speed there."""

import json
import os
import random
import subprocess
import sys

import pytest

from tunelint.trainer import memory
from tunelint.trainer.settings import TrainError

pytestmark = pytest.mark.slow

# measured 0.72x (LoRA) to 1.30x (LoRA, gradient checkpointing), which read 1.43x in a clean-clone
# CI run: its estimate is 88 MiB, so the ~50 MB that is not the model's moves its ratio most
LOW, HIGH = 0.65, 1.6
# large blocks from mmap and unmapped when freed, at any size: the peak RSS is the peak of what was held
FIXED_MMAP = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A 9M-parameter model folder (a hub-less stand-in for a real model), and ~100-token chats."""
    from tunelint.trainer import tiny

    d = tmp_path_factory.mktemp("mem")
    rnd = random.Random(0)
    lines = []
    for _ in range(32):
        a, b = rnd.randint(2, 99), rnd.randint(2, 99)
        answer = " ".join(f"Step {k}: {a} plus {b} is {a + b}." for k in range(8))
        lines.append({"messages": [{"role": "user", "content": f"What is {a} plus {b}? Explain in steps."},
                                   {"role": "assistant", "content": answer}]})
    data = d / "train.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in lines))
    (d / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    texts = [m["content"] for x in lines for m in x["messages"]]
    tiny.build(texts, d / "model", hidden=384, layers=6, max_length=256, seed=0)
    return d, data


@pytest.mark.parametrize(("method", "checkpointing"), [("full", False), ("full", True), ("lora", False),
                                                       ("lora", True)])
def test_the_estimate_is_near_the_measured_peak_of_a_cpu_run(small_model, method, checkpointing):
    d, data = small_model
    run = d / f"run-{method}-{checkpointing}"
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(data), "-o", str(run), "--model",
                        str(d / "model"), "--method", method, "--max-steps", "2", "--max-length", "256",
                        "--batch-size", "8", "--gradient-checkpointing" if checkpointing else
                        "--no-gradient-checkpointing"], capture_output=True, text=True, timeout=600, cwd=d,
                       env={**os.environ, **FIXED_MMAP})
    assert r.returncode == 0, r.stderr
    assert "tunelint: memory: about" in r.stderr
    m = json.loads((run / "metrics.json").read_text())["memory"]
    ratio = m["measured_peak_bytes"] / m["estimate_bytes"]
    print(f"{method} checkpointing={checkpointing}: estimate {m['estimate_bytes'] / 2**20:.0f} MiB, measured "
          f"{m['measured_peak_bytes'] / 2**20:.0f} MiB ({ratio:.2f}x), parts {m['parts']}")
    assert m["measured_by"].startswith("peak RSS")
    assert m["measured_over_estimate"] == pytest.approx(ratio, abs=1e-3)
    assert LOW <= ratio <= HIGH


def _recipe(d, data, **settings):
    from tunelint.config import load_config
    from tunelint.trainer.contract import RunLayout
    from tunelint.trainer.events import Events
    from tunelint.trainer.settings import resolve
    from tunelint.trainer.train_recipe import Cancel, TrainRecipe

    s = resolve({}, {"model": str(d / "model"), "max_length": 256, **settings})
    layout = RunLayout(d / "refused")
    layout.path.mkdir(exist_ok=True)
    return TrainRecipe(str(data), layout, s, config=load_config(None, d), validation=None, force=False,
                       resume=False, events=Events(layout.events, False), cancel=Cancel(), started=0.0)


def test_a_run_that_will_not_fit_stops_before_the_weights_load_and_says_what_would_fit(small_model, monkeypatch):
    d, data = small_model
    recipe = _recipe(d, data, method="full", batch_size=16)
    recipe.setup()
    recipe.preflight()
    recipe.preflight_memory()  # fits this machine: the estimate and the plan it was made for
    with_checkpointing = memory.estimate(recipe.shapes, **{**recipe.memory_plan, "gradient_checkpointing": True})
    assert with_checkpointing.total < recipe.memory_estimate.total
    # a device with just enough for the run with gradient checkpointing
    monkeypatch.setattr(memory, "free_bytes", lambda kind: int(with_checkpointing.total / memory.HEADROOM) + 1)
    with pytest.raises(TrainError) as e:
        recipe.preflight_memory()
    text = str(e.value)
    assert "this run needs about" in text and "free" in text and "--gradient-checkpointing" in text
    assert "--force" in text and e.value.code == 2
    assert recipe.model is None  # no weight was loaded
    recipe.force = True
    recipe.preflight_memory()  # --force: goes on
    recipe.events.close()


def test_the_suggestions_are_settings_whose_estimate_fits():
    # Llama-3-8B's shapes: 32 layers of q, o (4096²), k, v (4096 × 1024), gate, up, down (4096 × 14336),
    # embeddings and an untied LM head of 128,256 × 4096
    linear = ([(4096, 4096)] * 2 + [(4096, 1024)] * 2 + [(4096, 14336)] * 2 + [(14336, 4096)]) * 32
    linear_params = sum(i * o for i, o in linear)
    s = memory.Shapes(params=linear_params + 2 * 128256 * 4096, linear=linear, linear_params=linear_params,
                      head_params=128256 * 4096, hidden=4096, intermediate=14336, kv=1024, heads=32, layers=32,
                      vocab=128256)
    assert 7.9e9 < s.params < 8.1e9
    plan = dict(method="full", batch_size=8, max_length=2048, gradient_checkpointing=False, precision="bf16",
                lora_r=16, logit_positions=1.0)
    free = 24 * 2**30  # a 24 GB card and an 8B model
    full = memory.estimate(s, **plan)
    assert full.total > free
    fixes = memory.options_to_fit(s, free, cuda=True, **plan)
    assert fixes and all("--method qlora" in f or "--method lora" in f or "--gradient-checkpointing" in f
                         for f in fixes)
    qlora = memory.estimate(s, **{**plan, "method": "qlora", "gradient_checkpointing": True, "batch_size": 1})
    # 4-bit linear layers; peft's k-bit preparation makes the embeddings and the LM head fp32
    assert qlora.parts["weights"] == pytest.approx(linear_params * memory.NF4_BYTES + 2 * 128256 * 4096 * 4)
    assert qlora.parts["weights"] < 0.5 * full.parts["weights"]
    with pytest.raises(TrainError, match="What would fit"):
        memory.check(full, free, force=False, where="the GPU", suggestions=fixes)
    assert "Training anyway" in memory.check(full, free, force=True, where="the GPU", suggestions=fixes)


def test_the_peak_is_the_trainers_own_not_its_parents():
    """ru_maxrss survives exec on Linux: a trainer started from a large process (the test runner,
    the language server) measured the parent's size (1.5 GB in CI) until the peak came from VmHWM."""
    big = bytearray(400 * 2**20)
    big[::4096] = b"\1" * len(big[::4096])  # touch every page: they are resident
    code = "from tunelint.trainer.memory import peak_rss_bytes; print(peak_rss_bytes())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 300 * 2**20, int(out.stdout) / 2**20
    del big
