"""`tunelint check --engine ray` against the local engine, on the same sharded dataset.

bench/datagen.py's examples (N of them, ~2.5 KB each) cut into 16 shards: 14 train shards, one
validation and one test shard (so exact, near and prompt leakage are all looked for), written to
bench/data/ray-shards-N/. For each N, in the same run and on the same files:

* local: `tunelint check DIR --no-cache --format json` (the process pool on every core);
* ray: `tunelint check DIR --engine ray --format json`, on a local Ray cluster the run starts
  (no `--address`), or on `--address ADDRESS`.

Reported: wall seconds and their ratio (ray / local; on one machine Ray cannot be faster: the
target is at most 2x), whether the two JSON outputs are identical, and the driver's peak memory
(the `tunelint` process alone, VmHWM; and the whole process tree's peak RSS for the local run),
which must not grow with N: the driver holds findings and candidate ids, not lines or signatures.

    python bench/ray_speed.py                  # N = 50,000 and 200,000
    python bench/ray_speed.py --sizes 20000    # quicker
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _proc import LoadMeter, TreeMemorySampler, status_kb  # noqa: E402
from datagen import generate  # noqa: E402

SHARDS = 16
TARGET_RATIO = 2.0


def shard(n: int, data: Path) -> Path:
    """The N-example dataset in SHARDS files (made once; reused while the generator's output is)."""
    meta = generate(n, data)
    folder = data / f"ray-shards-{n}"
    src = Path(meta["paths"]["file"])
    stamp = folder / ".source"
    if stamp.exists() and stamp.read_text() == f"{src.stat().st_size}":
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"train-{i:02d}.jsonl" for i in range(SHARDS - 2)] + ["validation.jsonl", "test.jsonl"]
    per = -(-n // SHARDS)
    outs = [open(folder / name, "w", encoding="utf-8") for name in names]  # noqa: SIM115
    try:
        with open(src, encoding="utf-8") as f:
            for i, line in enumerate(f):
                outs[min(i // per, SHARDS - 1)].write(line)
    finally:
        for o in outs:
            o.close()
    stamp.write_text(f"{src.stat().st_size}")
    return folder


class DriverPeak(threading.Thread):
    """The largest VmHWM (peak resident set) seen of one process."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb = pid, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmHWM"))
            self.stop.wait(0.1)


def run(cmd: list[str], cwd: Path) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    driver, tree, load = DriverPeak(p.pid), TreeMemorySampler(p.pid), LoadMeter([p.pid])
    driver.start()
    tree.start()
    out, err = p.communicate()
    seconds = time.perf_counter() - t0
    driver.stop.set()
    tree.stop.set()
    driver.join()
    tree.join()
    return {"seconds": seconds, "rc": p.returncode, "stdout": out, "stderr": err,
            "driver_mb": driver.peak_kb / 1024, "tree_rss_mb": tree.peak_rss_kb / 1024, "load": load.percent()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50000,200000", help="comma-separated numbers of examples")
    ap.add_argument("--address", help="a Ray cluster to use (default: a local one per run)")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    a = ap.parse_args()
    tunelint = [sys.executable, "-m", "tunelint", "check", ".", "--no-cache", "--format", "json"]
    ray_args = ["--engine", "ray"] + (["--address", a.address] if a.address else [])
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        folder = shard(n, a.data)
        print(f"N={n:,}: {folder} ({sum(f.stat().st_size for f in folder.glob('*.jsonl')) / 1e6:.0f} MB)",
              file=sys.stderr, flush=True)
        local = run(tunelint, folder)
        print(f"  local {local['seconds']:.1f} s, driver {local['driver_mb']:.0f} MB", file=sys.stderr, flush=True)
        ray = run(tunelint + ray_args, folder)
        print(f"  ray   {ray['seconds']:.1f} s, driver {ray['driver_mb']:.0f} MB rc={ray['rc']}", file=sys.stderr,
              flush=True)
        if ray["rc"] not in (0, 1):
            print(ray["stderr"][-3000:], file=sys.stderr)
        rows.append((n, local, ray))
    print(f"\n{os.cpu_count()} CPUs; {SHARDS} shards; other load = % of all CPUs busy with other work\n")
    print("| examples | local s | ray s | ray / local | same JSON | exit codes | driver peak MB, local | "
          "driver peak MB, ray | tree peak RSS MB, local | tree peak RSS MB, ray (driver's tree) | other load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for n, lo, ra in rows:
        same = lo["stdout"] == ra["stdout"] and lo["rc"] == ra["rc"]
        ratio = ra["seconds"] / lo["seconds"]
        ok &= same and ratio <= TARGET_RATIO
        load = "/".join(f"{x['load']:.0f}%" if x["load"] is not None else "?" for x in (lo, ra))
        print(f"| {n:,} | {lo['seconds']:.1f} | {ra['seconds']:.1f} | {ratio:.2f}x | {'yes' if same else 'NO'} | "
              f"{lo['rc']}/{ra['rc']} | {lo['driver_mb']:.0f} | {ra['driver_mb']:.0f} | {lo['tree_rss_mb']:.0f} | "
              f"{ra['tree_rss_mb']:.0f} | {load} |")
    print(f"\ntarget: ray / local <= {TARGET_RATIO}x with identical output: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
