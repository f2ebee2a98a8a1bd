"""The CUDA-only options off CUDA (this machine has none): `--method qlora` and `--liger` stop
with a clear message before anything is loaded; without bitsandbytes / liger-kernel they say
which package to install; and the peak-FLOPs table gives MFU only for GPUs it knows."""

import importlib.util
import subprocess
import sys

import pytest

from tunelint.trainer import cuda_features, gpus
from tunelint.trainer.settings import TrainError, TrainSettings

CUDA = importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available()


@pytest.mark.skipif(CUDA, reason="the refusal is off CUDA; this machine has a CUDA GPU")
@pytest.mark.parametrize("option", [["--method", "qlora"], ["--liger"]])
def test_cuda_only_options_are_refused_off_cuda_before_anything_loads(dataset, tmp_path, option):
    train, _ = dataset
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "tunelint", "train", str(train), "-o", str(run), "--model", "tiny",
                        *option], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "needs a CUDA GPU" in r.stderr and option[-1] in r.stderr
    assert not (run / "base-model").exists()  # nothing was built or loaded
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed")
def test_qlora_without_bitsandbytes_names_the_package():
    with pytest.raises(TrainError, match="needs the bitsandbytes package") as e:
        cuda_features.check(TrainSettings(method="qlora"), "cuda")
    assert e.value.code == 2


@pytest.mark.skipif(importlib.util.find_spec("liger_kernel") is not None, reason="liger-kernel is installed")
def test_liger_without_the_package_names_it():
    with pytest.raises(TrainError, match="needs the liger-kernel package"):
        cuda_features.check(TrainSettings(liger=True), "cuda")


def test_padding_free_is_for_cuda_only_and_gives_way_to_packing():
    assert cuda_features.padding_free(TrainSettings(), "cuda")
    assert not cuda_features.padding_free(TrainSettings(), "cpu")
    assert not cuda_features.padding_free(TrainSettings(padding_free=False), "cuda")
    assert not cuda_features.padding_free(TrainSettings(packing=True), "cuda")  # TRL's BFD packing is padding-free
    assert cuda_features.attention_implementation("cpu") is None
    assert cuda_features.attention_implementation("cuda") in ("sdpa", "flash_attention_2")


@pytest.mark.parametrize(("name", "tflops"), [
    ("NVIDIA H100 80GB HBM3", 989), ("NVIDIA H100 PCIe", 756), ("NVIDIA H100 NVL", 835), ("NVIDIA H200", 989),
    ("NVIDIA A100-SXM4-80GB", 312), ("NVIDIA A10", 125), ("NVIDIA L4", 121), ("NVIDIA L40S", 362),
    ("NVIDIA GeForce RTX 4090", 165), ("NVIDIA A10G", None), ("Some Future GPU", None),
])
def test_the_peak_flops_table_matches_device_names(name, tflops):
    peak = gpus.peak_flops(name)
    assert (peak / 1e12 if peak else None) == tflops


def test_mfu_is_six_flops_per_parameter_and_token():
    assert gpus.mfu(1_000_000_000, 10_000, 1.0, 600e12) == pytest.approx(0.1)
    assert gpus.mfu(1, 1, 1.0, None) is None


@pytest.mark.skipif(CUDA, reason="this machine has a CUDA GPU: bench/gpu_check.py would run")
def test_the_gpu_check_skips_with_a_reason_without_a_gpu():
    from tests.conftest import REPO

    r = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gpu_check: skipped: no CUDA GPU")
