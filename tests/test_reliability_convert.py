"""`tunelint convert` on hostile input: a clear error and exit 1, never a hang or a traceback."""

import json
import os
import subprocess
import sys


def convert(source, output, timeout=60):
    return subprocess.run([sys.executable, "-m", "tunelint", "convert", str(source), str(output)],
                          capture_output=True, text=True, timeout=timeout)


def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    r = convert(fifo, tmp_path / "out.jsonl")
    assert r.returncode == 1 and "FIFO" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_an_example_nested_too_deep_to_write_is_an_error_naming_it(tmp_path):
    deep = [1]
    for _ in range(300):
        deep = [deep]
    rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
            {"messages": [{"role": "user", "content": "Hi", "x": deep}, {"role": "assistant", "content": "Hello"}]}]
    source = tmp_path / "chat.json"
    source.write_text(json.dumps(rows))
    r = convert(source, tmp_path / "out.jsonl")
    assert r.returncode == 1 and "item 2" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out.jsonl").exists()
