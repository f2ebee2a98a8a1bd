"""`tunelint check --engine ray` on a real Ray cluster: a head node and a second worker node on
this machine (loopback addresses, one CPU and a small object store each), started and stopped
by the fixture; and on the local cluster a run starts when no address is given. The output must
be the local engine's, byte for byte, in every format; a worker that dies is retried once, and a
second death fails the run naming the shard and the line."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sharded_data import CROSS_FILE_CODES, write_sharded

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'tunelint[ray]')")
pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'tunelint[parquet]')")

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
NODE_MEMORY = ["--num-cpus", "1", "--object-store-memory", str(80 * 1024 * 1024)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray (2.59 on) authenticates with a token: the cluster's own, given to its nodes and clients
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}


def _alive_nodes(address: str) -> int:
    code = (f"import ray; ray.init(address={address!r}, logging_level='ERROR'); "
            "print(sum(1 for n in ray.nodes() if n['Alive']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **AUTH})
    return int(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else 0


def _stop(proc: subprocess.Popen) -> None:
    """`ray start --block` stops the node's processes when it gets SIGTERM."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def cluster():
    """The addresses (GCS, Ray Client) of a two-node Ray cluster on 127.0.0.1."""
    if not Path(RAY).exists():
        pytest.skip("the `ray` command is not installed beside this Python")
    temp = tempfile.mkdtemp(prefix="tlray")  # short: Ray's socket paths live under it
    port, client_port = _free_port(), _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, **AUTH}
    common = ["--block", "--node-ip-address", "127.0.0.1", "--temp-dir", temp, "--disable-usage-stats",
              *NODE_MEMORY]
    procs: list[subprocess.Popen] = []
    log = open(Path(temp) / "fixture.log", "w")  # noqa: SIM115 (closed below)
    try:
        procs.append(subprocess.Popen([RAY, "start", "--head", "--port", str(port), "--include-dashboard", "false",
                                       "--ray-client-server-port", str(client_port), *common],
                                      env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 120
        while _alive_nodes(address) < 1:
            assert procs[0].poll() is None and time.monotonic() < deadline, "the Ray head node did not start"
            time.sleep(1)
        procs.append(subprocess.Popen([RAY, "start", "--address", address, *common], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        while _alive_nodes(address) < 2:
            assert procs[1].poll() is None and time.monotonic() < deadline, "the Ray worker node did not start"
            time.sleep(1)
        yield {"gcs": address, "client": f"ray://127.0.0.1:{client_port}"}
    finally:
        for p in reversed(procs):
            _stop(p)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sharded")
    write_sharded(folder)
    return folder


def _check(folder: Path, *args: str, env: dict | None = None):
    return run_cli("check", ".", "--no-cache", *args, cwd=folder, env={**AUTH, **(env or {})})


@pytest.fixture(scope="module")
def local_outputs(dataset):
    out = {}
    for fmt in ("json", "text", "sarif", "github"):
        p = _check(dataset, "--format", fmt)
        out[fmt] = (p.returncode, p.stdout)
    return out


def test_ray_cluster_output_is_the_local_output(cluster, dataset, local_outputs):
    rc, local = local_outputs["json"]
    codes = {f["code"] for f in json.loads(local)["findings"]}
    assert CROSS_FILE_CODES <= codes  # the comparison covers every cross-file finding
    assert rc == 1
    p = _check(dataset, "--format", "json", "--engine", "ray", "--address", cluster["gcs"])
    assert p.returncode == rc, p.stderr
    assert p.stdout == local
    # progress per shard on standard error
    for name in ("train-0.jsonl", "train-1.jsonl", "validation.jsonl", "test.parquet"):
        assert f"analysed: {name}" in p.stderr
    assert "shard 4/4 analysed" in p.stderr


@pytest.mark.parametrize(("fmt", "via"), [("text", "client"), ("sarif", "gcs"), ("github", "gcs")])
def test_ray_cluster_every_format(cluster, dataset, local_outputs, fmt, via):
    if via == "client":
        pytest.importorskip("grpc", reason="ray:// needs Ray Client (pip install 'ray[client]')")
    p = _check(dataset, "--format", fmt, "--engine", "ray", "--address", cluster[via])
    assert (p.returncode, p.stdout) == local_outputs[fmt], p.stderr


def test_a_worker_that_dies_once_is_retried(cluster, dataset, local_outputs):
    p = _check(dataset, "--format", "json", "--engine", "ray", "--address", cluster["gcs"],
               env={"TUNELINT_RAY_FAULT": "train-1.jsonl:22:once"})
    assert (p.returncode, p.stdout) == local_outputs["json"], p.stderr
    assert "died" in p.stderr  # Ray said so (on standard error, not in the report)


def test_a_worker_that_dies_twice_fails_the_run_naming_shard_and_line(cluster, dataset):
    p = _check(dataset, "--format", "json", "--engine", "ray", "--address", cluster["gcs"],
               env={"TUNELINT_RAY_FAULT": "train-1.jsonl:22"})
    assert p.returncode == 2
    assert p.stdout == ""  # never a partial report
    err = p.stderr.splitlines()[-1]
    assert "train-1.jsonl" in err and "line 22" in err and "died 2 times" in err, p.stderr


def test_an_unreachable_cluster_is_a_clear_error(dataset):
    p = _check(dataset, "--engine", "ray", "--address", f"127.0.0.1:{_free_port()}")
    assert p.returncode == 2 and p.stdout == ""
    assert "cannot connect to the Ray cluster" in p.stderr


def test_local_cluster_when_no_address(dataset, local_outputs):
    p = _check(dataset, "--format", "json", "--engine", "ray", "--jobs", "1", env={"RAY_ADDRESS": ""})
    assert (p.returncode, p.stdout) == local_outputs["json"], p.stderr


def test_address_needs_the_ray_engine(dataset):
    p = _check(dataset, "--address", "auto")
    assert p.returncode == 2 and "--engine ray" in p.stderr


@pytest.mark.parametrize("failures, connected", [(1, True), (2, False)])
def test_a_ray_client_server_that_fails_to_start_once_is_tried_again(monkeypatch, failures, connected):
    """Ray Client's proxy starts a server process per client, which on a busy machine can fail
    to start: `_connect` tries once more, and a second failure is the clear error."""
    import types

    from tunelint.linter import ray_engine

    calls = []

    def init(address=None, **kw):
        calls.append(address)
        if calls.count(address) <= failures:
            raise RuntimeError("Starting Ray client server failed. See ray_client_server_23000.err for detailed logs.")

    fake = types.SimpleNamespace(init=init, shutdown=lambda: calls.append("shutdown"))
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(ray_engine.time, "sleep", lambda s: None)
    with socket.socket() as listener:  # what `_reachable` finds answering
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"ray://127.0.0.1:{listener.getsockname()[1]}"
        if connected:
            assert ray_engine._connect(address, None) is fake
            assert calls == [address, "shutdown", address]
        else:
            with pytest.raises(ray_engine.RayRunError, match="cannot connect to the Ray cluster.*client server failed"):
                ray_engine._connect(address, None)
            assert calls == [address, "shutdown", address]
