"""`tunelint check --engine ray`: the same findings as `Linter.lint_paths`, computed on a Ray
cluster.

1. One Ray task per shard (file) runs the per-line analysis (`Linter`, one per worker process:
   its analyzer and tokenizer are built once per worker and settings, not per task) and the
   file's own findings (lines, line endings, mixed formats, size). Its duplicate signatures do
   not come back: the task cuts them into `partitions` parts by key (exact keys, and LSH band
   hashes of the MinHash signatures).
2. The shuffle: one task per partition gets that part of every shard, groups the rows by key
   (an exact key; a band and its hash), forms the candidate pairs of each bucket and verifies
   them on the full signatures (the LSH index's own band hashes and threshold).
3. The driver gets each shard's findings and statistics, the groups of lines sharing an exact
   key and the verified near pairs (line ids), and builds the duplicate findings with the
   same code as the local run (`DuplicateIndex.from_parts`): never the texts, never all signatures.

A worker that dies is retried once by Ray (`max_retries=1`); the retry first analyses the lines
of the batch the dead attempt was in one at a time, reporting each to a tracker actor, so that a
second death names the line. Then the run fails (`RayRunError`): no partial result.

The line cache is not used: see the README ("Ray engine").
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .dedupe import NUM_PERM, SPLIT_ORDER, Entry
from .engine import BATCH, FileReport, Linter, _add_index_findings, file_lines, split_from_name
from .file_findings import FileFindings
from .indexes import FormatIndex, SizeIndex
from .parquet import check_parquet, is_parquet
from .results import Signature
from .settings import Settings
from .source import check_file

ID_BITS = 32  # a line's id: its shard's index << ID_BITS | its line number
FAULT_ENV = "TUNELINT_RAY_FAULT"  # tests: "NAME:LINE" kills the worker at that line of file NAME; ":once", once
LOCAL_OBJECT_STORE = 512 * 1024 * 1024  # bytes, for the local cluster started when no address is given
WHOLE, PROMPT = 0, 1


class RayRunError(ValueError):
    """The run cannot complete (a shard's worker died twice, a task failed): exit 2, no report."""


class RayUnavailable(ValueError):
    pass


@dataclass(frozen=True)
class ShardJob:
    index: int
    path: str  # as given and reported
    source: str  # the absolute path the worker reads (workers do not share the driver's folder)
    settings: Settings
    rank: int
    duplicates: bool  # any duplicate rule on in the run: signatures go into the shuffle
    prompt_sigs: bool  # near prompt pairs may be asked for (files of two ranked splits)
    threshold: float
    partitions: int
    line_hashes: bool


# -- in the workers --------------------------------------------------------------------------------

_linters: dict[bool, Linter] = {}


def _linter(line_hashes: bool) -> Linter:
    """This worker process's Linter: its analyzers (and tokenizers) live as long as the worker."""
    if line_hashes not in _linters:
        _linters[line_hashes] = Linter(use_cache=False, jobs=1, line_hashes=line_hashes)
    return _linters[line_hashes]


class _Signatures:
    """A dataset index that only collects a shard's duplicate signatures (into the shuffle)."""

    def __init__(self, shard: int):
        self.base = shard << ID_BITS
        self.ids: list[int] = []
        self.keys: list[tuple[int, int, int, int]] = []
        self.whole: list[bytes] = []
        self.prompt: list[bytes] = []

    def add(self, path: str, line: int, text: str, result) -> None:
        sig = getattr(result, "dedupe", None)
        if sig is None or not sig.whole_key:
            return
        self.ids.append(self.base | line)
        self.keys.append((sig.whole_key, sig.prompt_key, sig.answer_key, sig.media_key))
        self.whole.append(sig.whole_sig)
        self.prompt.append(sig.prompt_sig or b"")

    def remove(self, path: str, line: int) -> None:  # a file is read once: nothing is removed
        pass

    def findings(self) -> list:
        return []

    def parts(self, job: ShardJob) -> list[dict]:
        """The rows for each partition: exact keys (whole, prompt) and the band hashes of the
        signatures that near matching can pair, with those signatures (once per partition)."""
        from .lsh import LSHIndex
        from .minhash import EMPTY_16, from_16_bits

        P = job.partitions
        ids = np.array(self.ids, dtype=np.int64)
        keys = np.array(self.keys, dtype=np.uint64).reshape(-1, 4)
        exact = [(WHOLE, np.ones(len(ids), dtype=bool)), (PROMPT, keys[:, 1] != 0)]
        parts = [{"exact": [], "band": [], "sigs": []} for _ in range(P)]
        for kind, sel in exact:
            k = keys[sel, kind]
            where = (k % np.uint64(P)).astype(np.int64)
            for p in range(P):
                m = where == p
                parts[p]["exact"].append((kind, k[m], ids[sel][m], keys[sel][m]))
        lsh = LSHIndex(job.threshold, NUM_PERM)
        kinds = [(WHOLE, self.whole)] + ([(PROMPT, self.prompt)] if job.prompt_sigs else [])
        for kind, raw in kinds:
            have = np.array([len(b) > 0 for b in raw], dtype=bool)
            if not have.any():
                continue
            rows = np.flatnonzero(have)
            sigs = np.frombuffer(b"".join(raw[i] for i in rows.tolist()), dtype=np.uint16).reshape(len(rows), -1)
            on = (sigs != EMPTY_16).any(axis=1)  # the empty text's signature is never paired
            rows, sigs = rows[on], sigs[on]
            if not len(rows):
                continue
            bh = lsh.band_keys(from_16_bits(sigs))
            where = ((bh ^ np.arange(bh.shape[1], dtype=np.uint64)) % np.uint64(P)).astype(np.int64)
            for p in range(P):
                m = where == p
                in_part = np.flatnonzero(m.any(axis=1))
                if not len(in_part):
                    continue
                r, band = np.nonzero(m[in_part])
                parts[p]["band"].append((kind, band.astype(np.int64), bh[in_part][r, band], r))
                parts[p]["sigs"].append((kind, ids[rows[in_part]], keys[rows[in_part]], sigs[in_part]))
        return parts


def _fault(path: str) -> tuple[int, bool] | None:
    """The line the worker is to die at (tests), and whether only on the first attempt."""
    spec = os.environ.get(FAULT_ENV, "")
    parts = spec.split(":")
    if len(parts) >= 2 and parts[0] == os.path.basename(path):
        return int(parts[1]), parts[2:3] == ["once"]
    return None


def _watched(lines, job: ShardJob, tracker, attempt: int):
    """The shard's lines, the start of each batch reported to the tracker (where the worker was
    if it dies)."""
    import ray

    fault = _fault(job.path)
    for ln in lines:
        if (ln.number - 1) % BATCH == 0:  # acknowledged: a message sent right before a death can be lost
            ray.get(tracker.at.remote(job.index, ln.number, False))
        if fault and ln.number == fault[0] and (attempt == 1 or not fault[1]):
            os._exit(1)  # a test's stand-in for a worker killed mid-shard (OOM, a segfault in a library)
        yield ln


def _probe(job: ShardJob, tracker, first: int, attempt: int) -> None:
    """On a retry: the lines of the batch the dead attempt was in, analysed one at a time, each
    reported (and acknowledged) first, so that if this attempt dies too the tracker names its line.
    The results are thrown away: the shard is then analysed as usual."""
    import ray

    linter = _linter(False)
    collected = FileFindings(job.path, job.settings, rows=is_parquet(job.path))
    fault = _fault(job.path)
    limit = job.settings.max_line_bytes
    for ln in file_lines(job.source, collected):
        if ln.number < first:
            continue
        if ln.number >= first + BATCH:
            break
        ray.get(tracker.at.remote(job.index, ln.number, True))
        if fault and ln.number == fault[0] and (attempt == 1 or not fault[1]):
            os._exit(1)
        if ln.text is not None and ln.size <= limit:
            linter.analyzer(job.settings).analyze_many([ln.data if ln.data is not None else ln.text])


def run_shard(job: ShardJob, tracker) -> tuple:
    """A Ray task: (the shard's FileReport with its own findings, its number of duplicate
    entries, then one part of its signature rows per partition)."""
    import ray

    attempt, last = ray.get(tracker.begin.remote(job.index))
    if attempt > 1:
        _probe(job, tracker, last or 1, attempt)
    linter = _linter(job.line_hashes)
    rows = is_parquet(job.path)
    report = linter._new_report(job.path, job.settings, rows)
    problem = check_parquet(job.source) if rows else check_file(job.source)
    if problem is not None:
        report.collected.file_problem(problem)
    sigs = _Signatures(job.index)
    file_idx = [FormatIndex(), SizeIndex({job.path: job.settings})]
    if not report.collected.fatal:
        linter._lint_lines(report, _watched(file_lines(job.source, report.collected), job, tracker, attempt),
                           [*file_idx, sigs] if job.duplicates else file_idx)
    _add_index_findings([report], file_idx)
    parts = sigs.parts(job) if job.duplicates else [None] * job.partitions
    return (report, len(sigs.ids), *parts)


def _groups(kind_of: np.ndarray, key: np.ndarray, ids: np.ndarray, kind: int) -> list[list[int]]:
    sel = kind_of == kind
    k, i = key[sel], ids[sel]
    order = np.argsort(k, kind="stable")
    k, i = k[order], i[order]
    if len(k) < 2:
        return []
    new = np.ones(len(k), dtype=bool)
    new[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(k))
    big = (ends - starts) >= 2
    return [i[s:e].tolist() for s, e in zip(starts[big].tolist(), ends[big].tolist(), strict=True)]


def reduce_part(threshold: float, *parts: dict | None) -> dict:
    """A Ray task: one partition of the shuffle. The exact-key groups of two or more lines, the
    verified near pairs (line ids, equal positions) of each bucket, and the keys of every line
    involved (what the findings compare)."""
    from .lsh import LSHIndex

    parts = [p for p in parts if p is not None]
    min_equal = LSHIndex(threshold, NUM_PERM).min_equal
    info: dict[int, tuple] = {}
    out: dict = {"whole_groups": [], "prompt_groups": [], "whole_pairs": {}, "prompt_pairs": {}, "keys": info}
    ex = [e for p in parts for e in p["exact"] if len(e[1])]
    if ex:
        kind_of = np.concatenate([np.full(len(e[1]), e[0], dtype=np.int8) for e in ex])
        key = np.concatenate([e[1] for e in ex])
        ids = np.concatenate([e[2] for e in ex])
        keys = np.concatenate([e[3] for e in ex])
        key_of = dict(zip(ids.tolist(), map(tuple, keys.tolist()), strict=True))
        for kind, name in ((WHOLE, "whole_groups"), (PROMPT, "prompt_groups")):
            for g in _groups(kind_of, key, ids, kind):
                out[name].append(g)
                for i in g:
                    info[i] = key_of[i]
    for kind, name in ((WHOLE, "whole_pairs"), (PROMPT, "prompt_pairs")):
        bands, tables = [], []
        offset = 0
        for p in parts:
            tab = [t for t in p["sigs"] if t[0] == kind]
            brows = [b for b in p["band"] if b[0] == kind]
            # a part holds at most one table and one set of band rows of each kind
            for t, b in zip(tab, brows, strict=True):
                tables.append(t)
                bands.append((b[1], b[2], b[3] + offset))
                offset += len(t[1])
        if not bands:
            continue
        band = np.concatenate([b[0] for b in bands])
        h = np.concatenate([b[1] for b in bands])
        row = np.concatenate([b[2] for b in bands])
        ids = np.concatenate([t[1] for t in tables])
        keys = np.concatenate([t[2] for t in tables])
        sigs = np.concatenate([t[3] for t in tables])
        same = keys[:, WHOLE if kind == WHOLE else 1]  # the exact key: exact matches are the exact pass's
        media = keys[:, 3]
        order = np.lexsort((h, band))
        band, h, row = band[order], h[order], row[order]
        new = np.ones(len(h), dtype=bool)
        new[1:] = (h[1:] != h[:-1]) | (band[1:] != band[:-1])
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(h))
        pairs = out[name]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if e - s < 2:
                continue
            members = row[s:e]
            for x in range(len(members)):
                a = members[x]
                rest = members[x + 1:]
                rest = rest[(same[rest] != same[a]) & (media[rest] == media[a])]
                if not len(rest):
                    continue
                eq = np.count_nonzero(sigs[rest] == sigs[a], axis=1)
                for b, c in zip(rest[eq >= min_equal].tolist(), eq[eq >= min_equal].tolist(), strict=True):
                    ia, ib = int(ids[a]), int(ids[b])
                    pairs[(min(ia, ib), max(ia, ib))] = c
                    info[ia] = tuple(keys[a].tolist())
                    info[ib] = tuple(keys[b].tolist())
    return out


# -- on the driver --------------------------------------------------------------------------------

CLIENT_ATTEMPTS = 2  # tries of a ray:// connection whose server failed to start (`_connect`)
CLIENT_START_FAILED = "Starting Ray client server failed"  # Ray Client's proxy's words for it


def _connect(address: str | None, jobs: int | None):
    try:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray
    except ImportError:
        raise RayUnavailable("--engine ray needs Ray: pip install 'tunelint[ray]'") from None
    env = {FAULT_ENV: os.environ[FAULT_ENV]} if os.environ.get(FAULT_ENV) else {}
    kw: dict = {"logging_level": logging.ERROR, "log_to_driver": False,
                "runtime_env": {"env_vars": env} if env else None}
    if address:
        _reachable(address)
        for attempt in range(CLIENT_ATTEMPTS):
            try:
                ray.init(address=address, **kw)
                break
            except (ConnectionError, RuntimeError, ValueError) as e:
                # Ray Client's proxy starts a server process for each client; on a busy machine
                # that start can fail once and work the next time
                if attempt + 1 < CLIENT_ATTEMPTS and CLIENT_START_FAILED in str(e):
                    ray.shutdown()
                    time.sleep(1.0)
                    continue
                raise RayRunError(f"cannot connect to the Ray cluster at {address}: {e}") from None
    else:  # a cluster of this machine, for this run
        ray.init(address="local", num_cpus=jobs, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False,
                 **kw)
    return ray


def _reachable(address: str, timeout: float = 10.0) -> None:
    """A `host:port` (or `ray://host:port`) that nothing answers on fails now: Ray would wait
    minutes for it. `auto` is Ray's to find."""
    import socket

    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayRunError(f"cannot connect to the Ray cluster at {address}: {e.strerror or e}") from None


def _tracker_class(ray):
    @ray.remote(num_cpus=0)
    class Tracker:
        """Where each shard's task is: its attempts, and the line (or batch) it was at."""

        def __init__(self):
            self.attempts: dict[int, int] = {}
            self.last: dict[int, tuple[int, bool]] = {}

        def begin(self, shard: int) -> tuple[int, int]:
            self.attempts[shard] = self.attempts.get(shard, 0) + 1
            return self.attempts[shard], self.last.get(shard, (0, False))[0]

        def at(self, shard: int, line: int, exact: bool) -> None:
            self.last[shard] = (line, exact)

        def where(self, shard: int) -> tuple[int, int, bool]:
            line, exact = self.last.get(shard, (0, False))
            return self.attempts.get(shard, 0), line, exact

    return Tracker


def lint_paths_ray(paths: list[str], settings_for: Callable[[str], Settings],
                   split_of: Callable[[str], str | None] | None = None, *, address: str | None = None,
                   jobs: int | None = None, line_hashes: bool = True,
                   progress: Callable[[str], None] | None = None) -> list[FileReport]:
    """What `Linter(use_cache=False).lint_paths(paths, settings_for, split_of)` returns, computed
    on the Ray cluster at `address` (`auto`, `ray://host:port`, `host:port`), or on a local one
    started for the run (with `jobs` CPUs) when there is none. RayRunError when it cannot finish.
    Ray's own messages (a worker that died, a retry) go to standard error: standard output is
    the report's."""
    with contextlib.redirect_stdout(sys.stderr):
        return _lint_paths_ray(paths, settings_for, split_of, address, jobs, line_hashes, progress)


def _lint_paths_ray(paths, settings_for, split_of, address, jobs, line_hashes, progress) -> list[FileReport]:
    from .analyze import DUPLICATE_CODES

    say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
    paths = list(paths)
    settings = {p: settings_for(p) for p in paths}
    splits = {p: (split_of or split_from_name)(p) for p in paths}
    duplicates = any(s.enabled(c) for s in settings.values() for c in DUPLICATE_CODES)
    threshold = min(s.duplicate_threshold for s in settings.values()) if settings else 0.8
    ranked = {splits.get(p) for p in paths} & SPLIT_ORDER.keys()
    ray = _connect(address, jobs)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        P = max(1, min(cpus, 64))
        tracker = _tracker_class(ray).remote()
        shard = ray.remote(run_shard)
        jobs_ = [ShardJob(i, p, os.path.abspath(p), settings[p], SPLIT_ORDER.get(splits[p], 3), duplicates,
                          len(ranked) >= 2, threshold,
                          P, line_hashes) for i, p in enumerate(paths)]
        refs = [shard.options(num_returns=2 + P, max_retries=1, num_cpus=1,
                              name=f"tunelint shard {os.path.basename(j.path)}").remote(j, tracker) for j in jobs_]
        reports: list[FileReport | None] = [None] * len(paths)
        counts = [0] * len(paths)
        first = {r[0]: i for i, r in enumerate(refs)}
        pending = list(first)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            i = first[done[0]]
            try:
                reports[i] = ray.get(done[0])
                counts[i] = ray.get(refs[i][1])
            except ray.exceptions.RayError as e:
                raise _shard_failed(ray, e, jobs_[i], len(paths), tracker) from None
            say(f"tunelint: [ray] shard {sum(r is not None for r in reports)}/{len(paths)} analysed: "
                f"{paths[i]} ({reports[i].stats.lines:,} lines)")
        if duplicates:
            say(f"tunelint: [ray] grouping exact and LSH band keys in {P} partition{'s' * (P != 1)}")
            reduce = ray.remote(reduce_part).options(max_retries=1, num_cpus=1)
            outs = [reduce.remote(threshold, *[r[2 + j] for r in refs]) for j in range(P)]
            try:
                parts = ray.get(outs)
            except ray.exceptions.RayError as e:
                raise RayRunError(f"the Ray run failed while grouping keys (no result is reported): {_why(e)}") \
                    from None
            del outs
            _add_duplicates(reports, parts, counts, paths, settings, splits, threshold)
        ray.kill(tracker)
        return reports
    finally:
        ray.shutdown()


def _why(e: Exception) -> str:
    cause = getattr(e, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _shard_failed(ray, e: Exception, job: ShardJob, n: int, tracker) -> RayRunError:
    which = f"shard {job.index + 1} of {n} ({job.path})"
    if isinstance(e, ray.exceptions.RayTaskError) and not isinstance(e, ray.exceptions.WorkerCrashedError):
        return RayRunError(f"the Ray run failed (no result is reported): {which}: {_why(e)}")
    try:
        attempts, line, exact = ray.get(tracker.where.remote(job.index), timeout=30)
    except ray.exceptions.RayError:
        attempts, line, exact = 0, 0, False
    if not line:
        at = "before it read a line"
    elif exact:
        at = f"while analysing line {line}"
    else:
        at = f"while analysing lines {line}-{line + BATCH - 1}"
    tries = f" {attempts} times" if attempts > 1 else ""
    return RayRunError(f"the Ray run failed (no result is reported): {which}: its worker died{tries} "
                       f"(Ray retries it once), {at}: {_why(e)}")


def _add_duplicates(reports: list[FileReport], parts: list[dict], counts: list[int], paths: list[str],
                    settings: dict[str, Settings], splits: dict[str, str | None], threshold: float) -> None:
    """The duplicate findings from the shuffle's groups and pairs, added to each report."""
    from .dedupe import DuplicateIndex

    info: dict[int, tuple] = {}
    for p in parts:
        info.update(p["keys"])
    mask = (1 << ID_BITS) - 1

    def key(i: int) -> tuple:
        return paths[i >> ID_BITS], i & mask

    entries = {}
    for i, (wk, pk, ak, mk) in info.items():
        path, line = key(i)
        split = splits.get(path)
        entries[(path, line)] = Entry(path, line, split or path, SPLIT_ORDER.get(split, 3),
                                      Signature(wk, pk, ak, b"", b"", mk))
    ranks = {SPLIT_ORDER.get(splits.get(p), 3) for p, c in zip(paths, counts, strict=True) if c}
    prompts_indexed = len(ranks & {0, 1, 2}) >= 2
    P = NUM_PERM

    def pairs(name: str):
        merged: dict = {}
        for p in parts:
            merged.update(p[name])
        return [(key(a), key(b), c / P) for (a, b), c in merged.items()]

    idx = DuplicateIndex.from_parts(
        splits, threshold, paths, entries,
        [[key(i) for i in g] for p in parts for g in p["whole_groups"]],
        [[key(i) for i in g] for p in parts for g in p["prompt_groups"]],
        pairs("whole_pairs"), pairs("prompt_pairs") if prompts_indexed else [])
    by_path: dict[str, list] = {}
    for f in idx.findings():
        by_path.setdefault(f.path, []).append(f)
    for r in reports:
        extra = FileFindings(r.path, settings[r.path], rows=is_parquet(r.path)).from_index(by_path.get(r.path, ()))
        if extra:
            r.findings = sorted(r.findings + extra, key=lambda f: f.sort_key)
