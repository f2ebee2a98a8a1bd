"""The LSP benchmark's progressive open: a 200-line validation.jsonl opened in a workspace whose
train.jsonl (the 20,000-line benchmark file) is on disk but not open, as a new user opens one.

The server is started, `initialized` sent, and the validation file opened at once (no settle):
timed from didOpen to the first diagnostics of the file (its own findings), and to the first
diagnostics that carry its leakage (TL904: the cross-file findings, once train.jsonl is indexed),
and from the server's spawn to both. Once with an empty cache, then again with the cache the
first session filled (a second open of the same workspace). 10 of the 200 validation lines
repeat training lines, so the complete diagnostics have 10 TL904."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _lsp_client import CAPABILITIES, BenchClient, LspError  # noqa: E402
from _lsp_data import generate  # noqa: E402

LEAKED = 10
# the editor's capabilities, with work-done progress (the server reports its indexing)
PROGRESS_CAPABILITIES = types.ClientCapabilities(
    general=CAPABILITIES.general,
    text_document=CAPABILITIES.text_document,
    workspace=CAPABILITIES.workspace,
    window=types.WindowClientCapabilities(work_done_progress=True),
)


@dataclass
class OpenRun:
    label: str
    own_s: float | None = None  # didOpen → first diagnostics of the file
    complete_s: float | None = None  # didOpen → first diagnostics with its leakage
    spawn_own_s: float | None = None
    spawn_complete_s: float | None = None
    own_codes: int = 0
    marker: bool = False  # the first diagnostics had the pending marker
    leaks: int = 0
    progress_reports: int = 0
    last_progress: str | None = None
    error: str | None = None


def workspace(scratch: Path, data_dir: Path, train_path: str, seed: int) -> tuple[Path, Path]:
    """scratch/progressive: train.jsonl (the benchmark file) and validation.jsonl (190 new
    lines + LEAKED training lines)."""
    ws = scratch / "progressive"
    ws.mkdir(exist_ok=True)
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    shutil.copyfile(train_path, ws / "train.jsonl")
    train = (ws / "train.jsonl").read_text(encoding="utf-8").splitlines()
    other = Path(generate(200 - LEAKED, data_dir, seed + 7, False)["path"]).read_text(encoding="utf-8")
    step = len(train) // LEAKED
    leaked = [train[i * step + step // 2] for i in range(LEAKED)]
    (ws / "validation.jsonl").write_text(other + "".join(line + "\n" for line in leaked), encoding="utf-8")
    return ws, ws / "validation.jsonl"


async def _one(label: str, cmd: list[str], env: dict, ws: Path, path: Path, stderr: Path, timeout: float) -> OpenRun:
    run = OpenRun(label)
    client = BenchClient()
    t0 = time.perf_counter()
    try:
        await client.spawn(cmd, env, str(ws), stderr)
        await client.initialize(ws, timeout=120, capabilities=PROGRESS_CAPABILITIES)
        uri = path.as_uri()
        t_open = client.did_open(uri, path.read_text(encoding="utf-8"))
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and not client.exited:
            mine = [p for p in client.publishes if p[1] == uri]
            if mine and run.own_s is None:
                t, _, _, codes = mine[0]
                run.own_s, run.spawn_own_s = t - t_open, t - t0
                run.own_codes, run.marker = len(codes), "pending" in codes
            done = [p for p in mine if "TL904" in p[3]]
            if done:
                t, _, _, codes = done[0]
                run.complete_s, run.spawn_complete_s = t - t_open, t - t0
                run.leaks = codes.count("TL904")
                break
            await asyncio.sleep(0.005)
        if run.complete_s is None:
            why = " (the server exited)" if client.exited else f" within {timeout:.0f} s"
            run.error = "no leakage diagnostics" + why
        reports = [m for _, kind, m in client.progress if kind == "report"]
        run.progress_reports, run.last_progress = len(reports), (reports[-1] if reports else None)
    except (LspError, OSError) as e:
        run.error = str(e)
    finally:
        await client.close()
    return run


def measure(cmd: list[str], env: dict, ws: Path, path: Path, scratch: Path, timeout: float = 300) -> list[OpenRun]:
    """An empty-cache session, then a warm-cache one (the same TUNELINT_CACHE_DIR)."""
    return [asyncio.run(_one(label, cmd, env, ws, path, scratch / f"progressive-{label.split()[0]}.stderr", timeout))
            for label in ("empty cache", "warm cache")]


def table(runs: list[OpenRun], describe: str) -> str:
    def s(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    rows = [
        "| session | didOpen → own findings (s) | didOpen → with leakage (s) | spawn → own (s) | "
        "spawn → with leakage (s) | first diagnostics | progress reports |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        first = f"{r.own_codes}" + (" incl. the pending marker" if r.marker else "")
        rows.append(f"| {r.label} | {s(r.own_s)} | {s(r.complete_s)} | {s(r.spawn_own_s)} | {s(r.spawn_complete_s)} | "
                    f"{first}; then {r.leaks} TL904 | {r.progress_reports} (last: {r.last_progress or '–'}) |"
                    + (f" **error**: {r.error}" if r.error else ""))
    return (f"\n\n## Progressive open ({describe})\n\n"
            "A 200-line validation.jsonl opened right after `initialized`, with the benchmark's 20,000-line "
            f"file on disk as train.jsonl ({LEAKED} validation lines repeat training lines).\n\n" + "\n".join(rows))
