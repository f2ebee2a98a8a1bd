"""The runs that have been: list the run folders, summarise one, detail one, compare two.

Read from the run folders alone (the run contract, trainer/contract.py), so it works for runs
started from the command line as much as for the editor's. It imports nothing heavy: the language
server and `tunelint runs` use it. Nothing here raises on a malformed folder: a run that is
partial, cancelled, truncated or not a run at all is summarised as such, with its problem stated.

A run without an `end` event may still be going: it is `running` while its `events.jsonl` was
written to in the last `RUNNING_WINDOW_S` seconds (training writes an event every step), and
`broken` ("interrupted") after that."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .contract import End, Error, Eval, Event, Log, RunLayout, Start, Step, StoppedEarly, runs_dir

RUNNING_WINDOW_S = 300.0  # no `end` and no event for longer than this: the run was interrupted
WORST_EXAMPLES = 10
STATUSES = ("running", "completed", "cancelled", "failed", "broken")
COMPARED_METRICS = ("eval_loss_before", "eval_loss_after", "train_loss", "exact_match", "token_f1", "steps",
                    "epochs", "train_tokens", "train_tokens_per_second", "duration_s")


class CompareRefused(ValueError):
    """Two runs that cannot be compared line by line (different validation files, no validation)."""


# -- reading one folder ---------------------------------------------------------------------------

class _Run:
    """What one folder holds, read once (every read tolerates a missing or malformed file)."""

    def __init__(self, path: str | Path):
        self.layout = RunLayout(Path(path).absolute())
        self.is_dir = self.layout.path.is_dir()
        self.events: list[Event] = self.layout.read_events() if self.is_dir else []
        self.config = (self.layout.read_config() or {}) if self.is_dir else {}
        self.metrics = (self.layout.read_metrics() or {}) if self.is_dir else {}
        self.notes = _json(self.layout.editor_notes) if self.is_dir else {}
        self.truncated = self.is_dir and _ends_mid_line(self.layout.events)
        try:
            self.events_mtime: float | None = self.layout.events.stat().st_mtime
        except OSError:
            self.events_mtime = None

    def first(self, cls):
        return next((ev for ev in self.events if isinstance(ev, cls)), None)

    def last(self, cls):
        return next((ev for ev in reversed(self.events) if isinstance(ev, cls)), None)

    def of(self, cls) -> list:
        return [ev for ev in self.events if isinstance(ev, cls)]


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ends_mid_line(path: Path) -> bool:
    """The file's last line is cut (no newline, not JSON): a writer stopped in the middle of it."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size == 0:
                return False
            f.seek(max(0, size - 65536))
            tail = f.read()
    except OSError:
        return False
    if tail.endswith(b"\n"):
        return False
    last = tail.rsplit(b"\n", 1)[-1]
    try:
        json.loads(last)
        return False
    except ValueError:
        return True


def _iso(t: float | None) -> str | None:
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
        return None
    try:
        return datetime.fromtimestamp(t, tz=timezone.utc).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


# -- summary --------------------------------------------------------------------------------------

def _status(run: _Run, now: float) -> tuple[str, str | None]:
    if not run.is_dir:
        return "broken", "not a folder" if run.layout.path.exists() else "no such folder"
    has_events = run.layout.events.is_file()
    if not has_events and not run.layout.config.is_file():
        return "broken", "not a run folder: it has no events.jsonl and no config.json"
    end = run.last(End)
    error = run.last(Error)
    if end is not None:
        status = end.status if end.status in ("completed", "cancelled", "failed") else "broken"
        problem = error.message if error is not None else None
        if status == "broken":
            problem = f"unknown end status {end.status!r}"
        return status, problem
    if not has_events:
        if run.metrics.get("status") in ("completed", "cancelled"):
            return run.metrics["status"], "no events.jsonl"
        return "broken", "no events.jsonl: the run never started or its events were removed"
    if not run.events:
        if run.events_mtime is not None and now - run.events_mtime < RUNNING_WINDOW_S:
            return "running", None
        return "broken", "events.jsonl holds no event"
    if run.events_mtime is not None and now - run.events_mtime < RUNNING_WINDOW_S:
        return "running", None
    step = run.last(Step)
    where = f" at step {step.step} of {step.total_steps}" if step is not None else ""
    ago = _ago(now - run.events_mtime) if run.events_mtime is not None else ""
    cut = "; its last line is cut off (truncated events.jsonl)" if run.truncated else ""
    if error is not None:
        return "failed", error.message
    return "broken", f"interrupted{where}: no end event, the last one {ago} ago{cut}"


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _kind(run: _Run) -> str:
    if run.notes.get("kind") in ("train", "eval"):
        return run.notes["kind"]
    start = run.first(Start)
    if start is not None and start.data is not None and start.method is None:
        return "eval"
    if not run.config and run.layout.eval_results.is_file() and run.layout.name.endswith("eval"):
        return "eval"
    return "train"


def _validation(run: _Run) -> str | None:
    value = run.notes.get("validation") or run.config.get("validation")
    if not value:
        start = run.first(Start)
        value = start.data if start is not None and _kind(run) == "eval" else None
    return value if isinstance(value, str) else None


def _summary(run: _Run, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    status, problem = _status(run, now)
    start, end = run.first(Start), run.last(End)
    m, settings = run.metrics, run.config.get("settings") if isinstance(run.config.get("settings"), dict) else {}
    before = next((ev for ev in run.of(Eval) if ev.phase == "before"), None)
    after = next((ev for ev in reversed(run.of(Eval)) if ev.phase == "after"), None)
    duration = _num(end.duration_s) if end is not None else None
    if duration is None:
        duration = _num(m.get("duration_s"))
    if duration is None and start is not None and _num(start.time) is not None:
        last_time = run.events[-1].time if run.events else None
        if status == "running":
            duration = round(now - start.time, 1)
        elif _num(last_time) is not None:
            duration = round(last_time - start.time, 1)
    return {
        "name": run.layout.name,
        "path": str(run.layout.path),
        "status": status,
        "problem": problem,
        "started": _iso(start.time) if start is not None else None,
        "model": (start.model if start is not None else None) or m.get("model") or settings.get("model"),
        "method": (start.method if start is not None else None) or m.get("method") or settings.get("method"),
        "duration_s": duration,
        "eval_loss_before": _num(m.get("eval_loss_before")) if m.get("eval_loss_before") is not None
        else (_num(before.eval_loss) if before is not None else None),
        "eval_loss_after": _num(m.get("eval_loss_after")) if m.get("eval_loss_after") is not None
        else (_num(after.eval_loss) if after is not None else None),
        "validation": _validation(run),
        "kind": _kind(run),
    }


def summarize(path: str | Path, now: float | None = None) -> dict:
    """One run folder's summary (see the module's docstring for `status`)."""
    return _summary(_Run(path), now)


def run_folders(folder: str | Path) -> list[Path]:
    """The run folders under `folder`, newest first: `folder` itself when it is one run (it has
    events.jsonl or config.json), else its subfolders (each one shown, a broken one as broken).
    `tunelint eval`'s folders inside a training run (`eval-<time>/`) are listed after it."""
    folder = Path(folder)
    if RunLayout(folder).events.is_file() or RunLayout(folder).config.is_file():
        return [folder, *_evals_inside(folder)]
    try:
        subs = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
    except OSError:
        return []
    out: list[Path] = []
    for sub in subs:
        out += [sub, *_evals_inside(sub)]
    return out


def _evals_inside(run: Path) -> list[Path]:
    try:
        return sorted((p for p in run.iterdir() if p.is_dir() and p.name.startswith("eval-")
                       and RunLayout(p).events.is_file()), reverse=True)
    except OSError:
        return []


def list_runs(folders: Iterable[str | Path] | None = None, workspace: str | Path = ".") -> list[dict]:
    """The summaries of every run under `folders` (default: the workspace's `.tunelint/runs`)."""
    folders = list(folders) if folders else [runs_dir(Path(workspace))]
    now = time.time()
    seen: set[str] = set()
    out = []
    for folder in folders:
        for path in run_folders(folder):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                out.append(summarize(path, now))
    return out


# -- details --------------------------------------------------------------------------------------

def _curves(run: _Run) -> dict:
    train, lr, tps, ev_points = [], [], [], {}
    prev_tokens, prev_time = None, None
    start = run.first(Start)
    if start is not None and _num(start.time) is not None:
        prev_tokens, prev_time = 0.0, start.time
    last_step = 0
    for ev in run.events:
        if isinstance(ev, Step) and isinstance(ev.step, int):
            last_step = max(last_step, ev.step)
        if isinstance(ev, Log) and isinstance(ev.step, int):
            v = ev.values
            last_step = max(last_step, ev.step)
            if _num(v.get("loss")) is not None:
                train.append([ev.step, v["loss"]])
            if _num(v.get("learning_rate")) is not None:
                lr.append([ev.step, v["learning_rate"]])
            tokens = _num(v.get("num_tokens"))
            if tokens is not None and _num(ev.time) is not None:
                if prev_time is not None and prev_tokens is not None and ev.time > prev_time and tokens >= prev_tokens:
                    tps.append([ev.step, round((tokens - prev_tokens) / (ev.time - prev_time), 1)])
                prev_tokens, prev_time = tokens, ev.time
        elif isinstance(ev, Eval) and _num(ev.eval_loss) is not None:
            step = 0 if ev.phase == "before" else ev.step if isinstance(ev.step, int) else last_step
            ev_points[step] = ev.eval_loss
    return {"train": train, "eval": [[s, v] for s, v in sorted(ev_points.items())], "learning_rate": lr,
            "tokens_per_s": tps}


def _progress(run: _Run) -> dict | None:
    step = run.last(Step)
    if step is None:
        return None
    return {"step": step.step, "total_steps": step.total_steps, "eta_s": step.eta_s}


def _settings(run: _Run) -> dict:
    settings = run.config.get("settings")
    if not isinstance(settings, dict):
        settings = _json(run.layout.settings)
    out = dict(settings)
    if _num(run.config.get("learning_rate")) is not None and out.get("learning_rate") is None:
        out["learning_rate"] = run.config["learning_rate"]
    return out


def details(path: str | Path, now: float | None = None) -> dict:
    """The summary of one run with its curves, progress, settings and worst validation examples."""
    run = _Run(path)
    out = _summary(run, now)
    validation = out["validation"]
    results = [r for r in run.layout.read_eval_results() if _num(r.loss) is not None] if run.is_dir else []
    results.sort(key=lambda r: -r.loss)
    stopped = run.last(StoppedEarly)
    out.update({
        "curves": _curves(run),
        "progress": _progress(run),
        "settings": _settings(run),
        "worst_examples": [{"line": r.line, "loss": r.loss, "loss_base": r.loss_base, "file": validation}
                           for r in results[:WORST_EXAMPLES]],
        "early_stopping": stopped.fields() if stopped is not None else run.metrics.get("early_stopping"),
        "data_map": _data_map(run),
    })
    return out


DATA_MAP_POINTS = 5000  # at most this many points of the training data map go to the run view


def _data_map(run: _Run) -> dict | None:
    """The training data map's points (the hardest first when there are more than the view takes):
    `[line, confidence, variability, region]`, with the training file and the thresholds."""
    rows = run.layout.read_train_dynamics() if run.is_dir else []
    if not rows:
        return None
    summary = run.metrics.get("dynamics") if isinstance(run.metrics.get("dynamics"), dict) else {}
    rows.sort(key=lambda r: (r.get("region") != "hard-to-learn", r["confidence"]))
    return {"file": run.config.get("data"), "lines": len(rows),
            "points": [[r["line"], r["confidence"], r.get("variability"), r.get("region")]
                       for r in rows[:DATA_MAP_POINTS]],
            "confidence_threshold": summary.get("confidence_threshold"),
            "variability_threshold": summary.get("variability_threshold"), "note": summary.get("note")}


# -- comparing two runs ---------------------------------------------------------------------------

def _digests(run: _Run, validation: str) -> dict[str, str]:
    """The validation file's digests the run recorded, by kind (the editor's, the linter's sha256)."""
    out = {}
    if isinstance(run.notes.get("validation_digest"), str):
        out["editor"] = run.notes["validation_digest"]
    lint = run.config.get("lint")
    if isinstance(lint, dict) and isinstance(lint.get(validation), dict):
        sha = lint[validation].get("sha256")
        if isinstance(sha, str):
            out["sha256"] = sha
    return out


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def compare(a: str | Path, b: str | Path) -> dict:
    """Two runs side by side: their metrics, the settings that differ and the loss of each per
    validation line (the lines where they differ most first). CompareRefused when they were not
    evaluated on the same validation file."""
    ra, rb = _Run(a), _Run(b)
    sa, sb = _summary(ra), _summary(rb)
    for run, s in ((ra, sa), (rb, sb)):
        if not run.is_dir or not (run.layout.events.is_file() or run.layout.config.is_file()):
            raise CompareRefused(f"{s['path']}: {s['problem']}")
    va, vb = sa["validation"], sb["validation"]
    if not va or not vb:
        which = " and ".join(s["name"] for s, v in ((sa, va), (sb, vb)) if not v)
        raise CompareRefused(f"cannot compare {sa['name']} and {sb['name']}: {which} had no validation file")
    if os.path.realpath(va) != os.path.realpath(vb):
        raise CompareRefused(f"{sa['name']} and {sb['name']} were evaluated on different validation files "
                             f"({va} and {vb}): their losses are not comparable")
    da, db = _digests(ra, va), _digests(rb, vb)
    for kind in set(da) & set(db):
        if da[kind] != db[kind]:
            raise CompareRefused(f"{sa['name']} and {sb['name']} were evaluated on different versions of {va} "
                                 "(the file changed between the runs): their losses are not comparable")
    metrics = [[name, _metric(ra, sa, name), _metric(rb, sb, name)] for name in COMPARED_METRICS]
    metrics = [row for row in metrics if row[1] is not None or row[2] is not None]
    fa = _flat({**_settings(ra), "base_model": ra.config.get("base_model")})
    fb = _flat({**_settings(rb), "base_model": rb.config.get("base_model")})
    fa["base_model"], fb["base_model"] = _base(fa["base_model"]), _base(fb["base_model"])
    differ = [[k, fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    la = {r.line: r.loss for r in ra.layout.read_eval_results()} if ra.is_dir else {}
    lb = {r.line: r.loss for r in rb.layout.read_eval_results()} if rb.is_dir else {}
    lines = []
    for line in sorted(set(la) | set(lb)):
        x, y = _num(la.get(line)), _num(lb.get(line))
        lines.append({"line": line, "loss_a": x, "loss_b": y, "diff": y - x if x is not None and y is not None
                      else None})
    lines.sort(key=lambda r: (r["diff"] is None, -abs(r["diff"] or 0.0), r["line"]))
    return {"a": sa, "b": sb, "validation": va, "metrics": metrics, "settings_differ": differ, "lines": lines}


def _base(value):
    """The base model as a name: the tiny model lives inside each run folder (`base-model/`)."""
    if isinstance(value, str) and Path(value).name == RunLayout.BASE_MODEL:
        return "tiny"
    return value


def _metric(run: _Run, summary: dict, name: str):
    value = run.metrics.get(name)
    if value is None and name in summary:
        value = summary[name]
    return value if _num(value) is not None else None


# -- text -----------------------------------------------------------------------------------------

def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _duration(s) -> str:
    if _num(s) is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def format_runs(summaries: list[dict]) -> str:
    if not summaries:
        return "no runs"
    rows = [("RUN", "STARTED", "KIND", "MODEL", "METHOD", "STATUS", "EVAL LOSS", "DURATION")]
    for s in summaries:
        before, after = s["eval_loss_before"], s["eval_loss_after"]
        loss = f"{_fmt(before)} -> {_fmt(after)}" if before is not None or after is not None else "-"
        started = (s["started"] or "-").replace("T", " ")[:19]
        rows.append((s["name"], started, s["kind"], _fmt(s["model"]), _fmt(s["method"]), s["status"], loss,
                     _duration(s["duration_s"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for s in summaries:
        if s["problem"]:
            out.append(f"{s['name']}: {s['problem']}")
    return "\n".join(out)


def format_comparison(c: dict, max_lines: int = 20) -> str:
    a, b = c["a"], c["b"]
    out = [f"A: {a['name']} ({a['path']}, {a['status']})", f"B: {b['name']} ({b['path']}, {b['status']})",
           f"validation: {c['validation']}", "", "metrics"]
    width = max([len(r[0]) for r in c["metrics"]] + [len(k) for k, _, _ in c["settings_differ"]] + [6])
    out += [f"  {name.ljust(width)}  {_fmt(x):>10}  {_fmt(y):>10}" for name, x, y in c["metrics"]]
    out += ["", "settings that differ"]
    out += [f"  {k.ljust(width)}  {_fmt(x):>10}  {_fmt(y):>10}" for k, x, y in c["settings_differ"]] or ["  none"]
    out += ["", "validation lines, largest difference first (loss A, loss B, B - A)"]
    for r in c["lines"][:max_lines]:
        diff = f"{r['diff']:+.4f}" if r["diff"] is not None else "-"
        out.append(f"  line {r['line']:<6} {_fmt(r['loss_a']):>10}  {_fmt(r['loss_b']):>10}  {diff:>10}")
    if len(c["lines"]) > max_lines:
        out.append(f"  ... {len(c['lines']) - max_lines} more (--format json for all)")
    if not c["lines"]:
        out.append("  none: no per-example results")
    return "\n".join(out)
