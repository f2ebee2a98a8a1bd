"""The LSP benchmark's report: the table of tunelint's server against the baselines measured in
the same run (the naive server, the CLI's cold run), and the notes under it."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lsp_session import CliRun, Session, pct  # noqa: E402

TARGETS = {"p95_ms": 50.0, "open_vs_cli": 1.0, "memory_mb": 300.0}


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}×"


def _num(v: float | None, digits: int = 1) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.{digits}f}"


def _row(cells: list[str], bold: bool = False) -> str:
    if bold:  # the measurement, tunelint's value and the ratio
        cells = [
            f"**{c}**" if i in (0, 1, 4) and c not in ("", "–") else c for i, c in enumerate(cells)
        ]
    return "| " + " | ".join(cells) + " |"


def report(
    tl: Session, naive: Session | None, cli: CliRun | None, header: list[str], debounce: str
) -> str:
    def stats(sess: Session | None) -> tuple[float | None, float | None, float | None]:
        if sess is None or not sess.latencies_ms:
            return None, None, None
        lat = sorted(sess.latencies_ms)
        return pct(lat, 50), pct(lat, 95), lat[-1]

    def first(sess: Session | None) -> float | None:
        return sess.latencies_ms[0] if sess and sess.latencies_ms else None

    tp50, tp95, tmax = stats(tl)
    np50, np95, nmax = stats(naive)
    tl_mem = tl.hwm_server_mb + tl.hwm_children_mb
    nv_mem = (naive.hwm_server_mb + naive.hwm_children_mb) if naive else None
    nv_open = naive.open_s if naive else None
    nv_pss = naive.peak_tree_pss_mb if naive else None
    cli_s = cli.seconds if cli else None
    mem_detail = (
        f"{tl_mem:.0f} ({tl.hwm_server_mb:.0f} + {tl.hwm_children_mb:.0f} in "
        f"{tl.children} children)"
    )
    naive_is = "naive server"
    rows = [
        _row(
            [
                "measurement",
                "tunelint server",
                "baseline",
                "baseline is",
                "ratio (tunelint ÷ baseline)",
                "target",
            ]
        ),
        "|---|---:|---:|---|---:|---|",
        _row(
            [
                "edit → diagnostics p50 (ms)",
                _num(tp50),
                _num(np50),
                naive_is,
                fmt_ratio(tp50, np50),
                "",
            ]
        ),
        _row(
            [
                "edit → diagnostics p95 (ms)",
                _num(tp95),
                _num(np95),
                naive_is,
                fmt_ratio(tp95, np95),
                f"≤ {TARGETS['p95_ms']:.0f} ms",
            ],
            bold=True,
        ),
        _row(
            [
                "edit → diagnostics max (ms)",
                _num(tmax),
                _num(nmax),
                naive_is,
                fmt_ratio(tmax, nmax),
                "",
            ]
        ),
        _row(
            [
                "first edit after the open (ms)",
                _num(first(tl)),
                _num(first(naive)),
                naive_is,
                fmt_ratio(first(tl), first(naive)),
                "",
            ]
        ),
        _row(
            [
                "open → first diagnostics (s)",
                _num(tl.open_s, 2),
                _num(cli_s, 2),
                "`tunelint check` cold (whole process)",
                fmt_ratio(tl.open_s, cli_s),
                f"≤ {TARGETS['open_vs_cli']:.2f}× CLI",
            ],
            bold=True,
        ),
        _row(
            [
                "open → first diagnostics, vs the naive server (s)",
                _num(tl.open_s, 2),
                _num(nv_open, 2),
                naive_is,
                fmt_ratio(tl.open_s, nv_open),
                "",
            ]
        ),
        _row(
            [
                "server memory: VmHWM, server + workers (MB)",
                mem_detail,
                _num(nv_mem, 0),
                naive_is,
                fmt_ratio(tl_mem, nv_mem),
                f"≤ {TARGETS['memory_mb']:.0f} MB",
            ],
            bold=True,
        ),
        _row(
            [
                "server memory at the end: VmRSS, server + children (MB)",
                f"{tl.rss_server_mb + tl.rss_children_mb:.0f}",
                _num((naive.rss_server_mb + naive.rss_children_mb) if naive else None, 0),
                naive_is,
                fmt_ratio(
                    tl.rss_server_mb + tl.rss_children_mb,
                    (naive.rss_server_mb + naive.rss_children_mb) if naive else None,
                ),
                "",
            ]
        ),
        _row(
            [
                "server memory: sampled peak tree PSS (MB)",
                _num(tl.peak_tree_pss_mb, 0),
                _num(nv_pss, 0),
                naive_is,
                fmt_ratio(tl.peak_tree_pss_mb, nv_pss),
                "",
            ]
        ),
        _row(
            [
                "CLI cold run peak RSS, largest process (MB)",
                "",
                _num(cli.max_rss_mb if cli else None, 0),
                "`tunelint check`",
                "",
                "",
            ]
        ),
    ]
    notes = [
        "- Latency: from writing the didChange to reading the publishDiagnostics of that "
        f"version; nearest-rank percentiles over all {len(tl.latencies_ms)} edits. tunelint's "
        f"includes its debounce ({debounce}); the naive server has none."
    ]
    for sess in (tl, naive):
        if sess is None:
            continue
        busy = "?" if sess.other_load is None else f"{sess.other_load:.0f}%"
        n = len(sess.latencies_ms)
        notes.append(
            f"- {sess.name}: start-up (spawn → initialize answered) {sess.start_s:.2f} s; "
            f"{sess.open_diags} diagnostics at open, {sess.last_diags} after the last edit; "
            f"{n} edits ({sess.kinds.count('letter')} letter, {sess.breaks} break, "
            f"{sess.kinds.count('repair')} repair), an error shown on the broken line for "
            f"{sess.breaks_seen}/{sess.breaks} breaks; server CPU during the edits "
            f"{1000 * sess.edit_cpu_s / max(1, n):.1f} ms/edit; "
            f"other load during the edits {busy}; exit {sess.rc}"
            + (f"; **error**: {sess.error.splitlines()[0]}" if sess.error else "")
        )
    if cli:
        notes.append(
            f"- `tunelint check` cold: exit {cli.rc}, {cli.cpu_s:.1f} CPU s (workers included)"
        )
    return "\n".join(header + [""] + rows + [""] + notes)
