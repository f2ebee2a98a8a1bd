"""Serve throughput: generated tokens/s of `tunelint serve RUN` against plain `transformers serve` of
the same merged model (no tunelint in between), measured in one run, the two servers up side by
side and measured in alternating rounds (one at a time), with the official `openai` client.
Prints the ratio (target >= 0.95); never fails on it.

    .venv/bin/python bench/serve_speed.py [--run RUN] [--requests 16] [--rounds 3] [--max-tokens 64]

Without --run it trains a tiny LoRA run first (`--model tiny`, CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_run(folder: Path) -> Path:
    qa = [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a in range(2, 12) for b in range(3, 9)]
    data = folder / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": q},
                                                     {"role": "assistant", "content": a}]}) + "\n" for q, a in qa))
    (folder / "tunelint.toml").write_text('profile = "hf"\n[severity]\nTL007 = "info"\n')
    run = folder / "bench-run"
    subprocess.run([sys.executable, "-m", "tunelint", "train", str(data), "-o", str(run), "--model", "tiny",
                    "--max-steps", "10", "--max-length", "128", "--batch-size", "8"], check=True,
                   capture_output=True)
    return run


def wait_models(url: str, names: list[str], proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if set(names) <= {m["id"] for m in json.loads(r.read())["data"]}:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready")


def load(url: str, model: str) -> None:
    req = urllib.request.Request(url.removesuffix("/v1") + "/load_model", data=json.dumps({"model": model}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        r.read()


def measure(client, model: str, n: int, max_tokens: int) -> tuple[int, float]:
    tokens, start = 0, time.perf_counter()
    for i in range(n):
        r = client.chat.completions.create(model=model, max_tokens=max_tokens, temperature=0,
                                           messages=[{"role": "user", "content": f"What is {i % 9 + 2} plus 4?"}])
        tokens += r.usage.completion_tokens
    return tokens, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path)
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    from openai import OpenAI

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    run = args.run or tiny_run(tmp)
    procs = []
    try:
        p1, p2 = free_port(), free_port()
        ours = subprocess.Popen([sys.executable, "-m", "tunelint", "serve", str(run), "--port", str(p1),
                                 "--ready-json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ours)
        ready = json.loads(ours.stdout.readline())  # after the merge (cached in RUN/merged) and the loads
        name = ready["models"][0]
        merged = (run / "merged") if (run / "merged").is_dir() else (run / "model")
        plain = subprocess.Popen([sys.executable, "-m", "transformers.cli.transformers", "serve", "--host",
                                  "127.0.0.1", "--port", str(p2), "--model-timeout", "-1"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        procs.append(plain)
        plain_url = f"http://127.0.0.1:{p2}/v1"
        wait_models(plain_url, [], plain)
        load(plain_url, str(merged.resolve()))
        a = OpenAI(base_url=ready["url"], api_key="unused")
        b = OpenAI(base_url=plain_url, api_key="unused")
        measure(a, name, 2, args.max_tokens)  # warm-up
        measure(b, str(merged.resolve()), 2, args.max_tokens)
        totals = {"tunelint serve": [0, 0.0], "transformers serve": [0, 0.0]}
        pair = [("tunelint serve", a, name), ("transformers serve", b, str(merged.resolve()))]
        for r in range(args.rounds):
            for key, client, model in (pair if r % 2 == 0 else pair[::-1]):  # alternating: no order effect
                t, s = measure(client, model, args.requests, args.max_tokens)
                totals[key][0] += t
                totals[key][1] += s
        rate = {k: t / s for k, (t, s) in totals.items()}
        for k, (t, s) in totals.items():
            print(f"{k:20s} {t:6d} tokens in {s:7.2f} s  {rate[k]:8.1f} tokens/s")
        ratio = rate["tunelint serve"] / rate["transformers serve"]
        print(f"ratio tunelint/transformers: {ratio:.3f} (target >= 0.95) "
              f"[{args.rounds} rounds x {args.requests} requests, max_tokens {args.max_tokens}, "
              f"{os.cpu_count()} CPUs]")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is procs[0] else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
