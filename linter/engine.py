"""The lint run: lines → cached/parallel per-line analysis → findings, indexes, statistics."""

from __future__ import annotations

import gc
import hashlib
import io
import multiprocessing
import os
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from .analyze import DUPLICATE_CODES, NOT_ANALYSED, Analyzer
from .cache import LineCache, open_cache
from .claims import WORKER, Batch, Claims
from .file_findings import FileFindings, blank_text_problem
from .findings import Finding
from .handoff import Handoff, Placed
from .indexes import DatasetIndex, FormatIndex, SizeIndex
from .parquet import ParquetReadError, check_parquet, is_parquet, read_rows
from .results import LineResult, dump_result, load_result
from .rule import all_rules
from .settings import Settings
from .source import HEAD_BYTES, FileProblem, SourceLine, check_file, check_head, read_lines, split_lines, text_lines
from .tokens import join_prefetch

# Lines per batch. Batches are pipelined (two are in flight), so their size sets much of the
# run's memory: on 50k examples of 2.5 KB, 4096 gave a peak of 380 MB (all processes, PSS),
# 1024 290 MB, at the same speed within noise (bench/README.md).
BATCH = 1024
PARALLEL_MIN_MISSES = 800  # misses in a batch below which this process analyses them alone
CHUNKS_PER_WORKER = 2  # tasks per worker and batch: fewer cost less, more balance better
CHUNK_MAX = 256  # lines per task at most (one call may hand over a whole document)
STEAL_LINES = 256  # lines per chunk when this process takes chunks too (`claims`): 128 cost more in tasks
# A warm run's few misses go to one worker of their own (`Linter._side`), and the lines waiting
# for them are finished when their results are in, while this process reads on: at most this
# many lines wait at a time.
LATER_MAX = 4096


class _Later:
    """In place of a line's result that the side worker has not sent yet: where it will be
    among the batch's analysed results."""

    __slots__ = ("place",)

    def __init__(self, place: int):
        self.place = place


@dataclass
class FileStats:
    lines: int = 0
    examples: int = 0
    formats: Counter = field(default_factory=Counter)
    tokens: array = field(default_factory=lambda: array("q"))
    trainable: array = field(default_factory=lambda: array("q"))
    messages: array = field(default_factory=lambda: array("q"))
    analysed: int = 0  # lines analysed now (cache misses)
    cached: int = 0  # lines answered by the cache


@dataclass
class FileReport:
    path: str
    settings: Settings
    findings: list[Finding] = field(default_factory=list)
    stats: FileStats = field(default_factory=FileStats)
    # a 64-bit hash of each line's content (index: line - 1), so baselines can match findings by
    # content; 8 bytes a line keeps memory bounded on huge files
    line_hashes: array = field(default_factory=lambda: array("Q"))
    # the findings as they are collected, until the dataset's are added (`_add_index_findings`)
    collected: FileFindings | None = field(default=None, repr=False)
    crlf: list[int] = field(default_factory=lambda: [0, 0])  # lines ending with CRLF, the first of them

    def line_hash(self, line: int) -> str:
        i = line - 1
        return f"{self.line_hashes[i]:016x}" if 0 <= i < len(self.line_hashes) else ""


def line_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class _Workers:
    """A fork pool whose workers each hold an Analyzer (and so the tokenizer) for one Settings.
    `share`: with fork, the workers inherit the parent's analyzer (built in the parent first);
    without, each builds its own while the parent goes on. `local`: when they share it, this
    process is one of the `jobs` and analyses chunks of each batch itself whenever it would wait
    for the workers (`claims`), beside `jobs - 1` workers."""

    def __init__(self, jobs: int, start_method: str, analyzer_for: Callable[[Settings], Analyzer],
                 share: bool = True, local: bool = False):
        self.jobs = jobs
        self.workers = jobs  # processes in the pool
        self.start_method = start_method
        self.analyzer_for = analyzer_for
        self.share = share
        self.local = local
        self.claims: Claims | None = None  # with `local`: who analyses each chunk
        self._latest: Batch | None = None  # the batch started last, whose chunks this process may take
        self.pool = None
        self.settings: Settings | None = None
        self.handoff: Handoff | None = None  # with fork: the shared slots lines go through

    def start(self, settings: Settings, texts: list[str | bytes],
              prompts: bool = True) -> Callable[[], list]:
        """Start analysing `texts` (or their UTF-8 bytes); the returned function waits for and
        returns their results in order, each a result analysed here (`local`) or a worker's
        one as bytes (`_work`). `prompts`: `Analyzer.analyze_many`'s."""
        if self.pool is None or self.settings != settings:
            self.close()
            join_prefetch()  # no thread may run while the workers fork
            ctx = multiprocessing.get_context(self.start_method)
            initializer, initargs = _init_worker, (settings,)
            # Forked workers share the parent's pages until they write to them: the parent builds
            # the analyzer (tokenizer, schemas, character table) and the workers inherit it
            # instead of each building a copy, and a frozen heap keeps their garbage collector
            # from writing to every inherited object. Not with a Hugging Face tokenizer, whose
            # thread pool must not be forked once used.
            shared = self.share and self.start_method == "fork" and not (settings.tokenizer or "").startswith("hf:")
            # a Hugging Face tokenizer is not used here either, so that a later fork stays safe
            local = shared and self.local and self.jobs > 1
            self.workers = self.jobs - 1 if local else self.jobs
            if shared:
                global _worker_analyzer
                _worker_analyzer = self.analyzer_for(settings)
                _worker_analyzer.prepare()
                initializer, initargs = None, ()
                gc.freeze()
            if self.start_method == "fork":  # made before the workers fork: they inherit them
                global _worker_maps, _worker_claims
                self.handoff = Handoff()
                _worker_maps = self.handoff.maps
                self.claims = _worker_claims = Claims() if local else None
            try:
                # concurrent.futures rather than multiprocessing.Pool: Pool's worker-handler thread
                # wakes on every result waiting in the pipe and polls until another thread reads
                # it (0.2 CPU-s on 50k examples, a tenth of this process's own work)
                self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=initializer,
                                                initargs=initargs)
                _widen_pipes(self.pool)
                # Start every worker now: with fork, the first submission forks them all (in the
                # frozen heap); other start methods spawn a worker per submission that finds none
                # idle, so one each, without waiting for them to come up
                for _ in range(self.workers):
                    self.pool.submit(int)
            finally:
                if shared:
                    gc.unfreeze()
            self.settings = settings
        claims = self.claims
        if claims is not None:  # small chunks, two for each process at least: this one takes
            # them from the back as it can
            size = min(STEAL_LINES, max(16, -(-len(texts) // (2 * self.jobs))))
        else:
            size = min(max(64, -(-len(texts) // (self.workers * CHUNKS_PER_WORKER))), CHUNK_MAX)
        bounds = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
        analyzer = self.analyzer_for(settings) if claims is not None else None
        batch = Batch(bounds, claims, lambda lo, hi: analyzer.analyze_many(texts[lo:hi], prompts))
        placed = self.handoff.place(texts) if self.handoff is not None else None

        def lines(lo: int, hi: int) -> list | Placed:
            return texts[lo:hi] if placed is None else Placed(placed[0], placed[1][lo - 1] if lo else 0,
                                                              placed[1][lo:hi])

        # with claims, one task per worker (a run of chunks, each claimed as it is begun; the
        # runs differ by one chunk at most), else a task per chunk
        n = len(bounds)
        cuts = [n * k // self.workers for k in range(self.workers + 1)] if claims is not None else range(n + 1)
        for first, end in zip(cuts, cuts[1:], strict=False):
            if first == end:
                continue
            run = range(first, end)
            chunks = [(lines(*bounds[i]), batch.entries[i] if claims is not None else None) for i in run]
            task = self.pool.submit(_work, chunks, prompts)
            if claims is not None:
                for _ in run:
                    claims.used_by(task)
            batch.tasks.append((task, first))
        tasks = [task for task, _ in batch.tasks]
        if placed is not None:
            self.handoff.used_by(placed[0], tasks)
        self._latest = batch

        def wait() -> list:
            if self._latest is batch:  # no batch after it: nothing to take meanwhile
                self._latest = None
            return batch.results(self._latest)

        wait.done = lambda: all(task.done() for task in tasks)
        return wait

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
            if self.handoff is not None:
                self.handoff.close()
                self.handoff = None
            if self.claims is not None:
                self.claims.close()
                self.claims = None
            self._latest = None
            if self.start_method != "fork":
                _stop_helpers()


PIPE_BYTES = 1 << 20  # Linux's default limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Give the pool's pipes room for a batch's results (Linux: F_SETPIPE_SZ). In a 64 KB pipe a
    worker's results wait for this process's reader thread every 64 KB, and that thread waits
    for the interpreter lock while this process analyses its share: the worker stood idle for
    ~0.3 s of a 50k-line run. Private parts of concurrent.futures, so only where they exist."""
    import fcntl

    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    for name in ("_call_queue", "_result_queue"):
        reader = getattr(getattr(pool, name, None), "_reader", None)
        if setsize is None or reader is None:
            continue
        try:
            fcntl.fcntl(reader.fileno(), setsize, PIPE_BYTES)
        except (OSError, ValueError):  # a lower limit, another platform: the pipe stays as it is
            pass


def _utf8(text: str) -> bytes | None:
    """The text's UTF-8, or None for a text with a lone surrogate (which UTF-8 cannot hold)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _stop_helpers() -> None:
    """Stop the forkserver and resource-tracker processes multiprocessing keeps after a pool
    (~13 MB each, idle); the next pool starts them again. Private CPython hooks (3.9 to 3.13),
    so only where they exist."""
    from multiprocessing import forkserver, resource_tracker

    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except Exception:  # a helper that is already gone, or a changed private API
                pass


_worker_analyzer: Analyzer | None = None
_worker_maps: list = []  # the pool's shared slots (`handoff`), inherited when it forks
_worker_claims: Claims | None = None  # who analyses each chunk (`claims`), inherited when it forks


def _init_worker(settings: Settings) -> None:
    global _worker_analyzer
    _worker_analyzer = Analyzer(settings)


def _work(chunks: list[tuple[list[str | bytes] | Placed, int | None]], prompts: bool = True) -> list[list[bytes]]:
    """Each chunk's results, as bytes one by one (`dump_result`): the parent stores these in the
    cache as they are, and loads them for itself. A chunk's lines: texts, or the UTF-8 bytes
    they were decoded from, or where those bytes are in the shared slots (`handoff`); and its
    entry in the shared claims, or None. The chunks from the first one the parent claimed on
    are left to it (`claims`). `prompts`: `Analyzer.analyze_many`'s."""
    out = []
    analyze = _worker_analyzer.analyze_many
    for lines, claim in chunks:
        if claim is not None and not _worker_claims.take(claim, WORKER):
            break
        if type(lines) is Placed:
            lines = lines.lines(_worker_maps)
        out.append([dump_result(r) for r in analyze(lines, prompts)])
    return out


class Linter:
    """Lints files and documents. Holds analyzers, the cache and the worker pool across files."""

    def __init__(self, *, use_cache: bool = True, jobs: int | None = None,
                 progress: Callable[[int], None] | None = None, start_method: str = "fork",
                 line_hashes: bool = True):
        """`start_method`: how worker processes start; "fork" (fast, the CLI's) is unsafe in a
        process with threads, such as the language server, which passes "forkserver".
        `line_hashes`: keep each line's hash in the reports (what baselines match findings by);
        a run without a baseline can skip hashing every line."""
        self.use_cache = use_cache
        self.line_hashes = line_hashes
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self.progress = progress
        self._analyzers: dict[Settings, Analyzer] = {}
        # whether this run compares prompts (its files span two ranked splits, `default_indexes`):
        # a run that does not needs no prompt MinHash, and one that does cannot use a cached
        # result without it (`_new_run`, `_start`)
        self._prompts = True
        self._caches: dict[str, LineCache | None] = {}
        # With fork, this process analyses a share of each large batch itself, beside one worker
        # fewer (`balance`); with another start method (the language server's, which must stay
        # responsive) the workers do it all.
        self._workers = _Workers(self.jobs, start_method, self.analyzer, local=start_method == "fork") \
            if self.jobs > 1 else None
        # a warm run's misses (a few per batch) are analysed by one forked worker with its own
        # analyzer: it builds the tokenizer and analyses them while this process reads the cache
        # for the other lines (`_start`, `_finish_batch`); not in a process with threads (the
        # language server's start method is forkserver, whose workers start slowly)
        self._side = _Workers(1, "fork", self.analyzer, share=False) if self.jobs > 1 and start_method == "fork" \
            else None
        all_rules()

    def release_workers(self) -> None:
        """Stop the worker processes (they start again when a large batch needs them): a
        long-running process such as the language server should not hold their memory idle."""
        for w in (self._workers, self._side):
            if w:
                w.close()

    def close(self) -> None:
        self.release_workers()
        for c in self._caches.values():
            if c is not None:
                c.close()

    def __enter__(self) -> Linter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def analyzer(self, settings: Settings) -> Analyzer:
        a = self._analyzers.get(settings)
        if a is None:
            a = self._analyzers[settings] = Analyzer(settings)
        return a

    def _cache(self, settings: Settings) -> LineCache | None:
        if not self.use_cache:
            return None
        fp = settings.fingerprint()
        if fp not in self._caches:
            self._caches[fp] = open_cache(fp)
        return self._caches[fp]

    def _new_run(self, idx: list[DatasetIndex] | None = None) -> None:
        """`idx`: the run's dataset indexes (whether it compares prompts); none: it may."""
        self._prompts = idx is None or any(getattr(i, "prompt_sigs", False) for i in idx)
        for c in self._caches.values():
            if c is not None:
                c.new_run()

    # -- entry points ---------------------------------------------------------------------

    def lint_paths(self, paths: Iterable[str], settings_for: Callable[[str], Settings],
                   split_of: Callable[[str], str | None] | None = None) -> list[FileReport]:
        """Lint files together: cross-file findings (duplicates, leakage) use `split_of`
        (train / validation / test, default: from file names)."""
        paths = list(paths)
        settings = {p: settings_for(p) for p in paths}
        idx = default_indexes(settings, {p: (split_of or split_from_name)(p) for p in paths}, paths)
        self._new_run(idx)
        reports = [self._lint_file(p, settings[p], idx) for p in paths]
        self.release_workers()  # idle from here on: their memory should not add to the indexes' peak
        _add_index_findings(reports, idx)
        return reports

    def lint_text(self, text: str, path: str, settings: Settings) -> FileReport:
        """Lint an in-memory document (an editor buffer), exactly as the file would be."""
        idx = default_indexes({path: settings}, {path: split_from_name(path)}, [path])
        self._new_run(idx)
        report = self._new_report(path, settings)
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        problem = blank_text_problem(lines)
        if problem is not None:
            report.collected.file_problem(problem)
        else:
            self._lint_lines(report, text_lines(text), idx)
        _add_index_findings([report], idx)
        return report

    def lint_bytes(self, data: bytes, path: str, settings: Settings, split: str | None = None) -> FileReport:
        """Lint bytes that are not a file (standard input, `tunelint check -`) exactly as a file
        of those bytes would be, reported as `path`."""
        idx = default_indexes({path: settings}, {path: split}, [path])
        self._new_run(idx)
        report = self._new_report(path, settings)
        problem = check_head(data[:HEAD_BYTES], len(data), lambda: data)
        if problem is not None:
            report.collected.file_problem(problem)
        if not report.collected.fatal:
            self._lint_lines(report, split_lines(io.BytesIO(data)), idx)
        self.release_workers()
        _add_index_findings([report], idx)
        return report

    # -- the work ---------------------------------------------------------------------------

    @staticmethod
    def _new_report(path: str, settings: Settings, rows: bool = False) -> FileReport:
        report = FileReport(path, settings)
        report.collected = FileFindings(path, settings, rows=rows)
        return report

    def _lint_file(self, path: str, settings: Settings, idx: list[DatasetIndex]) -> FileReport:
        rows = is_parquet(path)
        report = self._new_report(path, settings, rows)
        problem = check_parquet(path) if rows else check_file(path)
        if problem is not None:
            report.collected.file_problem(problem)
        if not report.collected.fatal:
            self._lint_lines(report, file_lines(path, report.collected), idx)
        return report

    def _lint_lines(self, report: FileReport, lines: Iterator[SourceLine], idx: list[DatasetIndex]) -> None:
        """Batch by batch, pipelined (`_pipelined`); the lines that wait for the side worker are
        finished as its results come in, the last ones at the end."""
        later: list[tuple[SourceLine, _Work, int]] = []
        _pipelined(_batches(lines, report.crlf), lambda batch: self._submit(report, batch),
                   lambda pending: self._finish_batch(report, pending, idx, later))
        self._finish_later(report, later, idx)

    def _submit(self, report: FileReport, batch: list[SourceLine]) -> _Pending:
        # lines over max_line_bytes are not analysed (TL014): not looked up, sent or cached
        limit = report.settings.max_line_bytes
        lines = [ln for ln in batch if ln.text is not None and ln.size <= limit]
        return _Pending(batch, self._start(report.settings, [ln.text for ln in lines], report.stats,
                                           [ln.data for ln in lines], side=True))

    def _finish_batch(self, report: FileReport, pending: _Pending, idx: list[DatasetIndex],
                      later: list[tuple[SourceLine, _Work, int]]) -> None:
        """Take a batch's results. When its misses are still with the side worker, the cached
        lines are taken now and the missed ones join `later` (the findings, statistics and
        indexes do not depend on the order lines are added in)."""
        w = pending.work
        waiting = not w.ready()
        results = w.cached() if waiting else self._collect(w)
        it = iter(results)
        limit = report.settings.max_line_bytes
        for ln in pending.batch:
            report.stats.lines += 1
            r = None if ln.text is None else NOT_ANALYSED if ln.size > limit else next(it)
            report.line_hashes.append(line_hash(ln.text) if r is not None and self.line_hashes else 0)
            if type(r) is _Later:
                later.append((ln, w, r.place))
                continue
            self._take(report, ln, r, idx)
        if waiting:
            w.slim()
        if len(later) > LATER_MAX:
            self._finish_later(report, later, idx)

    def _finish_later(self, report: FileReport, later: list[tuple[SourceLine, _Work, int]],
                      idx: list[DatasetIndex]) -> None:
        for ln, w, place in later:
            self._take(report, ln, self._computed(w)[place], idx)
        later.clear()

    def _take(self, report: FileReport, ln: SourceLine, r: LineResult | None, idx: list[DatasetIndex]) -> None:
        """One line's result into the report: its findings, the statistics, the indexes."""
        report.collected.add_line(ln, r)
        if r is None:
            return
        stats = report.stats
        if r.is_example:
            stats.examples += 1
        if r.format:
            stats.formats[r.format] += 1
            if r.tokens >= 0:
                stats.tokens.append(r.tokens)
                stats.trainable.append(max(r.trainable, 0))
            stats.messages.append(r.messages)
        for index in idx:
            index.add(report.path, ln.number, ln.text, r)
        if self.progress:
            self.progress(ln.size + 1)

    def results(self, settings: Settings, texts: list[str], stats: FileStats | None = None) -> list[LineResult]:
        """Line results for `texts`, from the cache or analysed (in parallel when many), in
        pipelined batches as a file's lines are."""
        self._new_run()
        stats = stats if stats is not None else FileStats()
        out: list[LineResult] = []
        _pipelined((texts[i : i + BATCH] for i in range(0, len(texts), BATCH)),
                   lambda batch: self._start(settings, batch, stats), lambda work: out.extend(self._collect(work)))
        return out

    def _start(self, settings: Settings, texts: list[str], stats: FileStats,
               data: list[bytes | None] | None = None, side: bool = False) -> _Work:
        """Look `texts` up in the cache and start analysing the misses (in the worker pool when
        there are many: `_collect` waits for them). `data`: their UTF-8 bytes where known.
        `side`: a batch the cache mostly answers may send its misses to the side worker."""
        cache = self._cache(settings)
        # an editor's text (no bytes read): its UTF-8, for the keys and the workers alike
        data = [_utf8(t) if b is None else b for t, b in zip(texts, data or [None] * len(texts), strict=True)]
        keys = ([cache.key(t) if b is None else cache.key_of_bytes(b) for t, b in zip(texts, data, strict=True)]
                if cache else [])
        known = cache.get_many(keys) if cache else {}
        if self._prompts and known:  # a result made without a prompt MinHash is analysed again
            known = {k: r for k, r in known.items() if r.dedupe is None or r.dedupe.prompt_sig is not None}
        miss_pos = [i for i, k in enumerate(keys) if k not in known] if cache else list(range(len(texts)))
        # identical lines inside the batch are analysed once; known by their cache keys (16
        # bytes to hash, where the texts are kilobytes), else by their texts
        ident = keys if cache else texts
        unique: dict[bytes | str, int] = {}  # key or text → its place in todo
        first_pos: list[int] = []  # where each todo text first occurs
        for i in miss_pos:
            if ident[i] not in unique:
                unique[ident[i]] = len(unique)
                first_pos.append(i)
        stats.analysed += len(first_pos)
        stats.cached += len(texts) - len(miss_pos)
        # lines are analysed from their UTF-8 bytes: cheaper to send to a worker (pickling a
        # text encodes it again) and to parse (`Analyzer._analyze`)
        todo = [texts[i] if data[i] is None else data[i] for i in first_pos]
        to_pool = bool(self._workers) and len(todo) >= PARALLEL_MIN_MISSES
        to_side = not to_pool and bool(todo) and side and self._side is not None and len(known) >= len(todo)
        if to_pool:
            computed = self._workers.start(settings, todo, self._prompts)
        elif to_side:
            computed = self._side.start(settings, todo, self._prompts)
        elif todo:
            computed = self.analyzer(settings).analyze_many(todo, self._prompts)
        else:  # all cached: no analyzer (and so no tokenizer to load)
            computed = []
        return _Work(texts, cache, keys, known, miss_pos, unique, first_pos, computed, side=to_side)

    def _computed(self, w: _Work) -> list[LineResult]:
        """The batch's analysed results (one per distinct miss), waited for and stored in the
        cache the first time they are asked for."""
        if w.results is None:
            keys = w.keys
            if isinstance(w.computed, list):
                w.results = w.computed
                if w.cache:
                    w.cache.put_many((keys[i], r) for i, r in zip(w.first_pos, w.results, strict=True))
            else:
                parts = w.computed()  # each analysed here, or a worker's as bytes (`dump_result`)
                w.results = [load_result(x) if type(x) is bytes else x for x in parts]
                if w.cache:
                    w.cache.put_dumped((keys[i], x if type(x) is bytes else dump_result(x))
                                       for i, x in zip(w.first_pos, parts, strict=True))
            w.computed = w.results
        return w.results

    def _collect(self, w: _Work) -> list[LineResult]:
        texts, keys, unique = w.texts, w.keys, w.unique
        computed = self._computed(w)
        if w.cache:
            out = [w.known.get(k) for k in keys]
            for i in w.miss_pos:
                out[i] = computed[unique[keys[i]]]
        else:
            out = [computed[unique[t]] for t in texts]
        return out


@dataclass(slots=True)
class _Work:
    """One batch on its way through `Linter._start` / `Linter._collect`."""

    texts: list[str]
    cache: LineCache | None
    keys: list
    known: dict
    miss_pos: list[int]
    unique: dict[bytes | str, int]  # cache key (text without a cache) → place in computed
    first_pos: list[int]
    computed: list[LineResult] | Callable[[], list[bytes]]  # a callable: the pool's, to wait for
    side: bool = False  # the misses are with the side worker: the batch may finish without them
    results: list[LineResult] | None = None  # `computed`, once waited for (`Linter._computed`)

    def ready(self) -> bool:
        """Whether the batch can be finished without waiting: its misses' results are in, or
        it is not a side worker's batch (those of the pool are waited for)."""
        return not self.side or isinstance(self.computed, list) or self.computed.done()

    def cached(self) -> list:
        """The batch's results so far: the cache's, and a `_Later` for each miss."""
        unique, known = self.unique, self.known
        return [known[k] if k in known else _Later(unique[k]) for k in self.keys]

    def slim(self) -> None:
        """Drop what only the cached lines needed: the batch waits for its misses with little."""
        self.texts, self.known, self.miss_pos, self.unique = [], {}, [], {}


@dataclass(slots=True)
class _Pending:
    batch: list[SourceLine]
    work: _Work


def _pipelined(batches: Iterable, start: Callable, finish: Callable) -> None:
    """`start` each batch, then `finish` the one started before it: the workers analyse one
    batch while this process reads the next and stores the results of the previous one."""
    pending = None
    for batch in batches:
        started = start(batch)
        if pending is not None:
            finish(pending)
        pending = started
    if pending is not None:
        finish(pending)


def _batches(lines: Iterator[SourceLine], crlf: list[int]) -> Iterator[list[SourceLine]]:
    batch: list[SourceLine] = []
    for line in lines:
        if line.crlf:
            crlf[0] += 1
            crlf[1] = crlf[1] or line.number
        batch.append(line)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def file_lines(path: str, collected: FileFindings) -> Iterator[SourceLine]:
    """A file's lines: a JSONL file's, or a Parquet file's rows as JSON lines (a row group that
    cannot be decoded ends the file with a TL002 finding naming the row)."""
    if not is_parquet(path):
        yield from read_lines(path)
        return
    try:
        yield from read_rows(path)
    except ParquetReadError as e:
        collected.file_problem(FileProblem("TL002", f"cannot read row {e.row} of the Parquet file: {e.reason}",
                                           fatal=False))


def default_indexes(settings: dict[str, Settings], splits: dict[str, str | None],
                    order: list[str]) -> list[DatasetIndex]:
    idx: list[DatasetIndex] = [FormatIndex(), SizeIndex(settings)]
    if any(s.enabled("TLC201") or s.enabled("TLC402") for s in settings.values()):
        from .content_index import ContentIndex

        idx.append(ContentIndex())
    if any(s.enabled(c) for s in settings.values() for c in DUPLICATE_CODES):
        from .dedupe import SPLIT_ORDER, DuplicateIndex

        threshold = min(s.duplicate_threshold for s in settings.values())
        ranked = {splits.get(p) for p in order} & SPLIT_ORDER.keys()
        idx.append(DuplicateIndex(splits, threshold, order, prompt_sigs=len(ranked) >= 2))
    return idx


def split_from_name(path: str) -> str | None:
    """train / validation / test from a file name (`*train*`, `*val*`/`*valid*`/`*dev*`/`*eval*`,
    `*test*`), as DESIGN.md specifies; None when the name says nothing."""
    words = re.findall(r"[a-z]+", os.path.basename(path).lower().rsplit(".", 1)[0])
    if any(w.startswith("train") for w in words):
        return "train"
    if any(w in ("val", "valid", "validation", "dev", "eval", "evaluation") for w in words):
        return "validation"
    if any(w.startswith("test") for w in words):
        return "test"
    return None


def _add_index_findings(reports: list[FileReport], idx: list[DatasetIndex]) -> None:
    """Each report's findings, complete: the dataset indexes' added to the lines' (`FileFindings`)."""
    by_path: dict[str, list] = {r.path: [] for r in reports}
    for index in idx:
        for f in index.findings():
            if f.path in by_path:
                by_path[f.path].append(f)
    for r in reports:
        r.findings = r.collected.finish(by_path[r.path], crlf=tuple(r.crlf), lines=r.stats.lines,
                                        examples=r.stats.examples)
        r.collected = None
