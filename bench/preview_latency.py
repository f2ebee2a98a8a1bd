"""Does the Preview panel slow typing? Edit -> diagnostics with and without a `tunelint/preview`
request after every edit, in one run.

    python bench/preview_latency.py --quick      # 30 edits (+ data generation once)
    python bench/preview_latency.py              # 100 edits

On the generated 20,000-line chat file of bench/lsp_latency.py (profile "hf", o200k_base
counts), two tunelint servers run at once, each with the file open: "typing" gets only the
edits; "typing + preview" gets each edit and, right after it, the `tunelint/preview` of the
edited line, as the VS Code panel asks it (the panel waits for no answer before the next
keystroke). The edits are interleaved between the servers, so other load hits both alike.
Reported: edit -> diagnostics p50/p90 of each and their ratio (the preview's cost to typing),
the preview's answer time, and the same line's hover (the token breakdown the server already
computed before this issue) as the preview's baseline. Never asserted: see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _lsp_client import BenchClient  # noqa: E402
from _lsp_data import generate, make_edits  # noqa: E402
from _lsp_session import pct, say  # noqa: E402
from lsprotocol import types  # noqa: E402


async def start(name: str, ws: Path, uri: str, text: str, env: dict, py: str, scratch: Path) -> BenchClient:
    client = BenchClient()
    await client.spawn([py, "-m", "tunelint", "server"], env, str(ws), scratch / f"{name}.stderr")
    await client.initialize(ws, timeout=120)
    await asyncio.sleep(1.0)
    t = client.did_open(uri, text)
    got, _ = await client.wait_diagnostics(uri, 1, 300)
    say(f"  {name}: open -> first diagnostics {got - t:.2f} s")
    return client


async def run(args) -> int:
    meta = generate(args.lines, args.data_dir, args.seed, False)
    scratch = Path(tempfile.mkdtemp(prefix="tunelint-preview-bench-"))
    ws = scratch / "workspace"
    ws.mkdir()
    (ws / "tunelint.toml").write_text('profile = "hf"\n')
    path = ws / "chat.jsonl"
    shutil.copyfile(meta["path"], path)
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    edits = make_edits(lines[:-1] if lines[-1] == "" else lines, args.edits, args.seed + 1)
    uri = path.as_uri()
    base_env = {k: v for k, v in os.environ.items() if k != "TUNELINT_CACHE_DIR"}
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    clients = {}
    try:
        for name in ("typing", "typing + preview"):
            cache = scratch / f"cache-{name.split()[-1]}"
            cache.mkdir()
            clients[name] = await start(name, ws, uri, text, {**base_env, "TUNELINT_CACHE_DIR": str(cache)},
                                        args.python, scratch)
        latency: dict[str, list[float]] = {n: [] for n in clients}
        previews: list[float] = []
        hovers: list[float] = []
        alone: list[float] = []
        for k, e in enumerate(edits):
            version = k + 2
            order = list(clients) if k % 2 == 0 else list(reversed(clients))
            for name in order:
                c = clients[name]
                t = c.did_change(uri, version, e.line, e.col16, e.new)
                ask = None
                if name != "typing":
                    ask = asyncio.ensure_future(c.protocol.send_request_async(
                        "tunelint/preview", {"uri": uri, "line": e.line}))
                got, _ = await c.wait_diagnostics(uri, version, 60)
                latency[name].append(1000 * (got - t))
                if ask is not None:
                    await ask
                    previews.append(1000 * (time.perf_counter() - t))
                    t0 = time.perf_counter()
                    await c.text_document_hover_async(types.HoverParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=types.Position(line=e.line, character=e.col16)))
                    hovers.append(1000 * (time.perf_counter() - t0))
                    t0 = time.perf_counter()
                    await c.protocol.send_request_async("tunelint/preview", {"uri": uri, "line": e.line})
                    alone.append(1000 * (time.perf_counter() - t0))
                await asyncio.sleep(args.gap)
    finally:
        for c in clients.values():
            await c.close()
        shutil.rmtree(scratch, ignore_errors=True)

    def row(label: str, values: list[float], base: list[float] | None = None) -> str:
        v = sorted(values)
        ratio = f"{pct(v, 50) / pct(sorted(base), 50):.2f}" if base else "1.00"
        return f"| {label} | {len(v)} | {pct(v, 50):.1f} | {pct(v, 90):.1f} | {ratio} |"

    print(f"# Preview latency: {meta['lines']} lines, {meta['bytes'] / 1e6:.1f} MB, {len(edits)} edits; "
          f"{os.cpu_count()} CPUs, load average before {load}")
    print()
    print("| what | n | p50 ms | p90 ms | ratio (p50) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(row("edit -> diagnostics, typing only (baseline)", latency["typing"]))
    print(row("edit -> diagnostics, typing + a preview per edit", latency["typing + preview"], latency["typing"]))
    print(row("edit -> preview answer (its diagnostics first)", previews, latency["typing"]))
    print(row("hover on the edited line (baseline for the preview)", hovers))
    print(row("preview of the edited line, alone", alone, hovers))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 edits instead of 100")
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--gap", type=float, default=0.05, help="pause after each edit's answers, seconds")
    ap.add_argument("--data-dir", type=Path, default=HERE / "data")
    ap.add_argument("--python", default=sys.executable, help="the Python whose tunelint is measured")
    args = ap.parse_args()
    args.edits = 30 if args.quick else 100
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
