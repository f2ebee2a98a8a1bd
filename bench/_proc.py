"""What the benchmarks read from /proc: a process's descendants, their memory and CPU time, and
the machine's busy CPU time (to flag runs that other work slowed down)."""

from __future__ import annotations

import os
import threading
import time


def children(pid: int) -> list[int]:
    """Direct children of `pid` (every thread's)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                continue
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def pss_kb(pid: int) -> int:
    """Proportional set size of one process, in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def busy_s() -> float | None:
    """Machine-wide CPU seconds not idle (nor iowait), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:8]]
        return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def status_kb(pid: int, key: str) -> int:
    """A `/proc/PID/status` figure in KiB (VmHWM, VmRSS, ...), 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process tree (reaped children of the root included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for n, p in enumerate(tree(pid)):
        try:
            with open(f"/proc/{p}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            total += int(v[11]) + int(v[12]) + (int(v[13]) + int(v[14]) if n == 0 else 0)
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def own_cpu_s() -> float:
    """User + system CPU seconds of this process."""
    t = os.times()
    return t.user + t.system


class TreeMemorySampler(threading.Thread):
    """Peak of the summed RSS and PSS of a process tree, every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss_kb = self.peak_pss_kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pids = tree(self.pid)
            self.peak_rss_kb = max(self.peak_rss_kb, sum(status_kb(p, "VmRSS") for p in pids))
            self.peak_pss_kb = max(self.peak_pss_kb, sum(pss_kb(p) for p in pids))
            self.stop.wait(self.interval)


class LoadMeter:
    """Share of all CPUs that other processes used over a span: machine busy time minus the
    CPU time of the given process trees and of this process, over wall time x CPUs."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.t0, self.b0, self.m0 = time.perf_counter(), busy_s(), own_cpu_s()
        self.s0 = sum(tree_cpu_s(p) for p in pids)

    def percent(self) -> float | None:
        b1 = busy_s()
        if self.b0 is None or b1 is None:
            return None
        wall = time.perf_counter() - self.t0
        ours = sum(tree_cpu_s(p) for p in self.pids) - self.s0 + own_cpu_s() - self.m0
        return max(0.0, 100.0 * ((b1 - self.b0) - ours) / (wall * (os.cpu_count() or 1)))
