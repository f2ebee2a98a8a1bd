"""Files that are not what they seem, through the real CLI (a subprocess) and the server's
project: FIFOs, sockets and devices are never read (TL001 says what they are), a one-line file
longer than the head is JSONL, a line over max_line_bytes is reported and not analysed, and a
bare CR ending the file is reported as what it is and fixed."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from server.project import Project

GOOD = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}'
BAD_ROLE = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello!"}]}'

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI; a hang fails the test (TimeoutExpired) instead of blocking the suite."""
    return subprocess.run([sys.executable, "-m", "tunelint", "check", "--no-stats", "--no-cache", "--profile", "hf",
                           "--tokenizer", "none", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def findings(*args: str, cwd: Path | None = None) -> list[dict]:
    r = cli("--format", "json", *args, cwd=cwd)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)["findings"]


# -- non-regular files ---------------------------------------------------------------------------


@needs_fifo
def test_a_fifo_given_to_the_cli_is_tl001_and_does_not_hang(tmp_path):
    fifo = tmp_path / "train.jsonl"
    os.mkfifo(fifo)
    r = cli(str(fifo), timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{fifo}:1:1: TL001" in r.stdout
    assert "FIFO" in r.stdout and "not a regular file" in r.stdout


@needs_fifo
def test_a_fifo_in_a_scanned_folder_is_reported_and_the_other_files_linted(tmp_path):
    os.mkfifo(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text(BAD_ROLE + "\n")
    got = findings(str(tmp_path))
    by_file = {(Path(f["path"]).name, f["code"]) for f in got}
    assert ("a.jsonl", "TL001") in by_file
    assert ("b.jsonl", "TL104") in by_file
    (fifo,) = [f for f in got if f["path"].endswith("a.jsonl")]
    assert "FIFO" in fifo["message"]


def test_a_socket_is_tl001_saying_so():
    folder = tempfile.mkdtemp(dir="/tmp")  # AF_UNIX paths are short
    path = os.path.join(folder, "s.jsonl")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(path)
        (f,) = findings(path)
        assert f["code"] == "TL001" and "a socket" in f["message"]
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(folder)


def test_a_device_is_not_read():
    (f,) = findings("/dev/zero")  # read, it would never end
    assert f["code"] == "TL001" and "character device" in f["message"]


@needs_fifo
def test_a_fifo_symlinked_as_a_split_file_is_not_read_by_the_server_project(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "train.jsonl").symlink_to(tmp_path / "pipe")
    (tmp_path / "validation.jsonl").write_text(GOOD + "\n")
    project = Project(str(tmp_path))
    # load_from_disk runs on the server's event loop: opening the FIFO would block it forever,
    # as the server did at start-up (then a writer that opens and closes it lets the test end)
    loaded = {}
    worker = threading.Thread(target=lambda: loaded.update((p, project.load_from_disk(p))
                                                            for p in project.workspace_files()), daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():
        os.close(os.open(tmp_path / "pipe", os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("load_from_disk blocked on the FIFO")
    assert loaded[str(tmp_path / "train.jsonl")] is None
    assert str(tmp_path / "train.jsonl") not in project.sources
    assert loaded[str(tmp_path / "validation.jsonl")].order == [1]


# -- the head of the file ------------------------------------------------------------------------


def test_a_one_line_file_longer_than_the_head_is_linted_as_jsonl(tmp_path):
    line = BAD_ROLE.replace("Hello!", "Hello! " * 2000)
    assert len(line) > 8192
    p = tmp_path / "train.jsonl"
    p.write_text(line + "\n")
    codes = {f["code"] for f in findings(str(p))}
    assert "TL013" not in codes
    assert "TL104" in codes  # its example was checked


def test_a_pretty_printed_object_is_still_tl013(tmp_path):
    p = tmp_path / "train.jsonl"
    p.write_text(json.dumps(json.loads(BAD_ROLE.replace("Hello!", "Hello! " * 2000)), indent=2) + "\n")
    assert [f["code"] for f in findings(str(p))] == ["TL013"]


# -- lines over max_line_bytes ---------------------------------------------------------------------


def test_a_line_over_max_line_bytes_is_tl014_and_not_analysed(tmp_path):
    long = BAD_ROLE.replace("Hello!", "x" * (5 << 20))  # over the default 4 MiB
    p = tmp_path / "train.jsonl"
    p.write_text(GOOD + "\n" + long + "\n" + BAD_ROLE + "\n")
    got = [(f["line"], f["code"]) for f in findings(str(p))]
    assert (2, "TL014") in got
    assert (3, "TL104") in got
    assert [c for n, c in got if n == 2] == ["TL014"]  # its bad role is not seen: the line is not checked
    msg = next(f["message"] for f in findings(str(p)) if f["code"] == "TL014")
    assert "not checked" in msg


def test_the_limit_is_the_configured_one_in_the_cli_and_the_server(tmp_path):
    (tmp_path / "tunelint.toml").write_text("max_line_bytes = 2000\n")
    long = BAD_ROLE.replace("Hello!", "x" * 3000)
    p = tmp_path / "train.jsonl"
    p.write_text(long + "\n" + BAD_ROLE + "\n")
    cli_got = [(f["line"], f["code"]) for f in findings(str(p), cwd=tmp_path)]
    assert cli_got == [(1, "TL014"), (2, "TL104")]
    project = Project(str(tmp_path))
    src = project.load_from_disk(str(p))
    project.analyse_now(src)
    server_got = [(f.line, f.code) for f in project.findings(src) if f.code in ("TL014", "TL104")]
    assert server_got == cli_got
    project.close_all()


# -- a bare CR ending the file ---------------------------------------------------------------------


@pytest.mark.parametrize("body, count", [(GOOD + "\n" + GOOD + "\r", 0), (GOOD + "\r\n" + GOOD + "\r", 1)])
def test_a_final_bare_cr_is_reported_as_such_and_fix_leaves_no_finding(tmp_path, body, count):
    p = tmp_path / "train.jsonl"
    p.write_bytes(body.replace("Hi", "Hi there", 1).encode())
    (f,) = [f for f in findings(str(p)) if f["code"] == "TL006"]
    assert "bare CR" in f["message"]
    if count:
        assert f["message"].startswith("1 line end with CRLF") and f["line"] == 1
    else:
        assert "CRLF" not in f["message"] and f["line"] == 2
    r = cli("--fix", str(p))
    assert r.returncode == 0, r.stdout + r.stderr
    data = p.read_bytes()
    assert b"\r" not in data and data.endswith(b"}\n") and data.count(b"\n") == 2
    assert findings(str(p)) == []
