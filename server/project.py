"""The workspace as the linter sees it: configuration, open documents and the split files on
disk, their per-line results, and the dataset indexes (formats, sizes, duplicates, leakage)
that span them. Kept current line by line; editor-independent (no pygls here)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from tunelint.config import Config, ConfigError, load_config
from tunelint.linter.analyze import DUPLICATE_CODES, too_long
from tunelint.linter.atomic import is_inside
from tunelint.linter.content_index import ContentIndex
from tunelint.linter.discover import jsonl_files
from tunelint.linter.engine import Linter, line_hash
from tunelint.linter.file_findings import FileFindings, blank_text_problem, line_findings
from tunelint.linter.findings import Finding
from tunelint.linter.indexes import FormatIndex, SizeIndex
from tunelint.linter.results import LineResult
from tunelint.linter.settings import Settings
from tunelint.linter.source import SourceLine, editor_line, file_kind, not_regular_message, read_lines

from .documents import Change, Document

log = logging.getLogger("tunelint.server")

MAX_WORKSPACE_FILES = 64
MEMO_LIMIT = 300_000
LARGE_BATCH = 200  # lines: more go through the disk cache and worker processes


@dataclass
class Source:
    """One file the project knows: an open document, or a split file read from disk."""

    path: str
    doc: Document | None = None
    results: dict[int, LineResult] = field(default_factory=dict)  # line id → result
    texts: dict[int, str] = field(default_factory=dict)  # line id → text (disk files)
    order: list[int] = field(default_factory=list)  # line ids in order (disk files)
    pending: set[int] = field(default_factory=set)  # line ids to analyse
    flagged: set[int] = field(default_factory=set)  # line ids with findings of their own (or too long)
    # line id → (number, text, result, its SourceLine, its findings): a flagged line's findings,
    # made again only when the line, its number or its result changed (Project.findings)
    line_findings: dict[int, tuple] = field(default_factory=dict)
    line_findings_settings: Settings | None = None

    def line_ids(self) -> list[int]:
        return self.doc.ids if self.doc else self.order


class Project:
    def __init__(self, root: str | None, editor_settings: dict | None = None, jobs: int | None = None):
        self.root = Path(root).resolve() if root else None
        self.editor_settings = dict(editor_settings or {})
        self.jobs = jobs
        self._linter: Linter | None = None  # analyse_now's only
        self.sources: dict[str, Source] = {}
        self.memo: dict[tuple[Settings, str], LineResult] = {}
        self.config_error: str | None = None
        self.reload_config()

    # -- configuration ------------------------------------------------------------------------

    def reload_config(self) -> None:
        self._resolved: dict[tuple[str, int], tuple[Settings, dict]] = {}  # settings_for's
        self._split: dict[str, str | None] = {}  # split_of's
        try:
            self.config = load_config(start=self.root) if self.root else Config()
            self.config_error = None
        except ConfigError as e:
            self.config = Config(root=self.root or Path.cwd())
            self.config_error = str(e)
        self._reset_indexes()

    def settings_for(self, path: str) -> Settings:
        """The settings for a file (the config's, then the editor's): kept per path until
        the configuration or the editor's settings change (resolving them is ~0.2 ms)."""
        key = (path, id(self.editor_settings))
        got = self._resolved.get(key)
        if got is None:
            try:
                got = self.config.settings_for(path, self.editor_settings)
            except (ConfigError, ValueError) as e:
                self.config_error = str(e)
                got = self.config.settings_for(path)
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            self._resolved[key] = (got, self.editor_settings)
            return got
        return got[0]

    def split_of(self, path: str) -> str | None:
        got = self._split.get(path, self)
        if got is self:
            got = self._split[path] = self.config.split_of(path)
        return got

    def _reset_indexes(self) -> None:
        from tunelint.linter.dedupe import DuplicateIndex

        self._numbers: dict[str, dict[int, int]] = {}
        line_of = self.line_of
        self.formats = FormatIndex(line_of)
        self.sizes = SizeIndex(_SettingsView(self))
        self.content = ContentIndex(line_of)
        self.splits: dict[str, str | None] = {}
        thresholds = [self.settings_for(p).duplicate_threshold for p in self.sources] or [
            self.settings_for("x.jsonl").duplicate_threshold]
        self.duplicates = DuplicateIndex(self.splits, min(thresholds), (), line_of)
        for src in self.sources.values():
            self.splits[src.path] = self.split_of(src.path)
            src.results.clear()
            src.pending = set(src.line_ids())

    def line_of(self, path: str, line_id: int) -> int:
        numbers = self._numbers.get(path)
        if numbers is None:
            src = self.sources.get(path)
            ids = src.line_ids() if src else []
            numbers = self._numbers[path] = {i: n for n, i in enumerate(ids, 1)}
        return numbers.get(line_id, 1)

    # -- documents ----------------------------------------------------------------------------

    def open(self, doc: Document) -> Source:
        src = self.sources.get(doc.path)
        if src is not None:
            self._drop_lines(src, list(src.results))
        src = self.sources[doc.path] = Source(doc.path, doc)
        self.splits[doc.path] = self.split_of(doc.path)
        src.pending = set(doc.ids[: doc.content_lines])
        self._numbers.pop(doc.path, None)
        return src

    def changed(self, src: Source, change: Change) -> None:
        self._drop_lines(src, change.removed_ids)
        doc = src.doc
        for i in doc.ids[change.start : change.start + change.inserted]:
            src.pending.add(i)
        # a final empty line is not a line: make sure it is neither pending nor indexed
        if doc.lines and doc.lines[-1] == "":
            last = doc.ids[-1]
            src.pending.discard(last)
            if last in src.results:
                self._drop_lines(src, [last])
        if change.removed_ids or change.inserted != 1:  # lines moved: their numbers changed
            self._numbers.pop(src.path, None)

    def close(self, path: str, reload: bool = True) -> bool:
        """Forget an open document. A split file is read again from disk (`reload`), or, with
        reload=False, True says it should be (the server reads it in the background)."""
        src = self.sources.pop(path, None)
        if src is not None:
            self._drop_lines(src, list(src.results))
        self._numbers.pop(path, None)
        again = self._is_split_file(path) and os.path.isfile(path)
        if again and reload:
            self.load_from_disk(path)
        return again

    def _drop_lines(self, src: Source, ids: Iterable[int]) -> None:
        for i in ids:
            src.results.pop(i, None)
            src.texts.pop(i, None)
            src.pending.discard(i)
            src.flagged.discard(i)
            src.line_findings.pop(i, None)
            self.formats.remove(src.path, i)
            self.sizes.remove(src.path, i)
            self.content.remove(src.path, i)
            self.duplicates.remove(src.path, i)

    # -- split files from disk ----------------------------------------------------------------

    def workspace_files(self) -> list[str]:
        """The train/validation/test files of the workspace (from `splits`, else by name)."""
        if self.root is None:
            return []
        return jsonl_files(str(self.root), skip=lambda p: not self._is_split_file(p) or self.config.excluded(p)
                           or self._outside(p), limit=MAX_WORKSPACE_FILES)

    def _outside(self, path: str) -> bool:
        """Whether a file on disk leads out of the workspace (a symlink, or a symlinked folder,
        to elsewhere): such a file is never read (its content would be shown), and the log says
        so. Without a workspace folder, the files are the ones the editor opened."""
        if self.root is None or is_inside(path, self.root):
            return False
        log.warning("not reading %s: it leads outside the workspace %s (to %s)", path, self.root,
                    os.path.realpath(path))
        return True

    def _is_split_file(self, path: str) -> bool:
        return self.split_of(path) is not None

    def load_from_disk(self, path: str) -> Source | None:
        """Read a file that is not open, for cross-file findings (leakage)."""
        return self.install(path, self.read_split_file(path))

    def read_split_file(self, path: str) -> list[tuple[int, str]] | None:
        """A split file's lines as (number, text), or None when it is not to be read (outside
        the workspace, not a regular file). Changes nothing in the project: the server calls it
        on its analysis thread and gives the lines to `install` on the event loop."""
        if self._outside(path):
            return None
        try:  # only regular files are read: opening a FIFO blocks the event loop
            kind = file_kind(os.stat(path).st_mode)
        except OSError:
            kind = None  # missing or unreadable: read_lines says so below
        if kind is not None:
            log.warning("not reading %s: it %s", path, not_regular_message(kind))
            return None
        lines = []
        try:
            lines = [(ln.number, ln.text) for ln in read_lines(path) if ln.text is not None]
        except OSError as e:
            log.warning("cannot read %s: %s", path, e)
        return lines

    def install(self, path: str, lines: list[tuple[int, str]] | None) -> Source | None:
        """A split file's lines read by `read_split_file` become its source (its old lines
        leave the indexes), all pending; None: the file is forgotten. An open document's
        text is the editor's: it is left alone."""
        if path in self.sources and self.sources[path].doc is not None:
            return None
        if lines is None:
            self.forget(path)
            return None
        old = self.sources.pop(path, None)
        if old is not None:
            self._drop_lines(old, list(old.results))
        src = self.sources[path] = Source(path)
        self.splits[path] = self.split_of(path)
        self._numbers.pop(path, None)
        src.order = [n for n, _ in lines]
        src.texts = dict(lines)
        src.pending = set(src.order)
        return src

    def forget(self, path: str) -> None:
        src = self.sources.get(path)
        if src is not None and src.doc is None:
            self._drop_lines(src, list(src.results))
            del self.sources[path]

    # -- analysis -----------------------------------------------------------------------------

    def work(self, src: Source, limit: int | None = None) -> tuple[Settings, list[str]]:
        """What analysing the source's pending lines needs computed: texts not memoised yet.
        Cheap; runs on the event loop. The computing happens elsewhere (`Analysis.compute`).
        `limit`: at most that many of a file on disk's pending lines, the first in file order
        (the server indexes a large file a part at a time)."""
        settings = self.settings_for(src.path)
        texts = self._texts(src, limit)
        return settings, list(dict.fromkeys(t for t in texts.values() if (settings, t) not in self.memo))

    def store(self, src: Source, settings: Settings, texts: list[str], results: list[LineResult],
              limit: int | None = None) -> None:
        """Take computed results, then bring the source's pending lines and the indexes up to date
        (`limit`: the one given to `work`, so that only those lines are visited)."""
        if len(self.memo) > MEMO_LIMIT:
            self.memo.clear()
        self.memo.update(((settings, t), r) for t, r in zip(texts, results, strict=True))
        if self.settings_for(src.path) != settings:
            return  # settings changed meanwhile: the lines stay pending for the next round
        for i, text in self._texts(src, limit).items():
            r = self.memo.get((settings, text))
            if r is None:
                continue  # edited after the work was taken: the next round analyses it
            src.results[i] = r
            src.pending.discard(i)
            if r.findings or too_long(text, settings.max_line_bytes):
                src.flagged.add(i)
            else:
                src.flagged.discard(i)
            self.formats.add(src.path, i, text, r)
            self.sizes.add(src.path, i, text, r)
            self.content.add(src.path, i, text, r)
            if r.dedupe is not None and r.dedupe.whole_key:
                self.duplicates.put(src.path, i, r.dedupe)
            else:
                self.duplicates.remove(src.path, i)

    def analyse_now(self, src: Source) -> None:
        """work + compute + store in one go, with a Linter of the project's own (tests and
        scripts; the server splits the three and computes with its analysis thread's Linter)."""
        if self._linter is None:
            self._linter = Linter(jobs=self.jobs, start_method="forkserver")
        settings, texts = self.work(src)
        self.store(src, settings, texts, compute(self._linter, settings, texts))

    def _texts(self, src: Source, limit: int | None = None) -> dict[int, str]:
        if src.doc is None:
            if limit is not None and len(src.pending) > limit:
                ids = islice((i for i in src.order if i in src.pending), limit)
                return {i: src.texts[i] for i in ids}
            return {i: src.texts[i] for i in src.pending if i in src.texts}
        numbers = self._number_map(src)
        lines = src.doc.lines
        return {i: editor_line(numbers[i], lines[numbers[i] - 1]).text for i in src.pending if i in numbers}

    def _number_map(self, src: Source) -> dict[int, int]:
        """line id → line number, rebuilt only when lines move."""
        self.line_of(src.path, 0)
        return self._numbers[src.path]

    # -- findings -----------------------------------------------------------------------------

    def findings(self, src: Source, cross_file: bool = True) -> list[Finding]:
        """Every finding for one source, exactly as `tunelint check` reports it: the linter's
        `FileFindings` assembles them, as it does for the CLI. Visits only the lines that have
        findings of their own, so an edit costs the findings, not the file. `cross_file=False`:
        without the findings that name another file (duplicates across files, conflicts, leakage),
        while the workspace's files are still being indexed (server/indexing.py)."""
        settings = self.settings_for(src.path)
        collected = FileFindings(src.path, settings)
        doc = src.doc
        raw = islice(doc.lines, doc.content_lines) if doc else (src.texts[i] for i in src.order)
        problem = blank_text_problem(raw)
        if problem is not None:
            collected.file_problem(problem)
            return collected.finish()
        numbers = self._number_map(src)
        ids = set(src.flagged)
        if doc is not None:
            ids.add(doc.ids[0])  # a byte order mark is a finding of line 1
        if src.line_findings_settings != settings:
            src.line_findings.clear()
            src.line_findings_settings = settings
        kept = src.line_findings
        for i in ids:
            n = numbers.get(i)
            if n is None:
                continue
            text, r = (doc.lines[n - 1] if doc is not None else src.texts[i]), src.results.get(i)
            have = kept.get(i)
            if have is None or have[0] != n or have[1] is not text or have[2] is not r:
                ln = self._line(src, i, n)
                have = kept[i] = (n, text, r, ln, line_findings(src.path, ln, r, settings))
            collected.add_line_findings(have[3], have[4])
        crlf = (0, 0)
        if doc is not None and doc.crlf:
            # a CR ending the last line, with no "\n" after it, is a bare CR (as the CLI reads it)
            bare = doc.lines[-1].endswith("\r")
            count = len(doc.crlf) - bare
            first = doc.first_crlf() if count else 0
            crlf = (count, first)
            if bare:
                collected.bare_cr = len(doc.lines)
        dataset = (f for index in self._indexes(settings) for f in index.findings()  # finish keeps this file's
                   if cross_file or all(p == src.path for p, _, _ in f.related))
        lines = doc.content_lines if doc else len(src.order)
        findings = collected.finish(dataset, crlf=crlf, lines=lines, examples=self.sizes.count(src.path))
        return self._without_baselined(src, numbers, findings)

    def _indexes(self, settings: Settings) -> list:
        """The dataset indexes whose findings `settings` can show."""
        if any(settings.enabled(c) for c in DUPLICATE_CODES):
            return [self.formats, self.sizes, self.content, self.duplicates]
        return [self.formats, self.sizes, self.content]

    def _line(self, src: Source, line_id: int, number: int) -> SourceLine:
        if src.doc is None:
            text = src.texts[line_id]
            return SourceLine(number, text, 0, len(text.encode("utf-8", "surrogatepass")))
        return editor_line(number, src.doc.lines[number - 1])

    def _without_baselined(self, src: Source, numbers: dict[int, int], findings: list[Finding]) -> list[Finding]:
        baseline = self.config.baseline_to_read()
        if not baseline or not findings or not os.path.isfile(baseline):
            return findings
        from tunelint.linter.baseline import BaselineError, filter_matching

        by_number = {n: i for i, n in numbers.items()}

        def hash_of(f: Finding) -> str:
            i = by_number.get(f.line)
            return f"{line_hash(self._line(src, i, f.line).text):016x}" if i is not None else ""

        try:
            return filter_matching(findings, hash_of, baseline)[0]
        except BaselineError as e:
            self.config_error = str(e)
            return findings

    def summary(self, src: Source, findings: list[Finding]) -> dict:
        results = list(src.results.values())
        examples = sum(1 for r in results if r.is_example)
        tokens = sum(r.tokens for r in results if r.tokens > 0)
        trainable = sum(r.trainable for r in results if r.trainable > 0)
        counts = {"error": 0, "warning": 0, "info": 0}
        for f in findings:
            counts[f.severity.value] += 1
        return {"examples": examples, "tokens": tokens, "trainable": trainable, **counts,
                "counted": any(r.tokens >= 0 for r in results)}

    def close_all(self) -> None:
        if self._linter is not None:
            self._linter.close()


def compute(linter: Linter, settings: Settings, texts: list[str], release: bool = True) -> list[LineResult]:
    """Analyse texts: in-process for a few, through the disk cache and worker processes for many.
    The worker processes stop after a large batch unless `release` is False (the server's
    indexing keeps them from one part of a file to the next, and stops them at the end)."""
    if not texts:
        return []
    if len(texts) > LARGE_BATCH:
        try:
            return linter.results(settings, texts)
        finally:
            if release:
                linter.release_workers()
    return linter.analyzer(settings).analyze_many(texts)


class _SettingsView(dict):
    """SizeIndex looks settings up by path; the project resolves them lazily."""

    def __init__(self, project: Project):
        super().__init__()
        self.project = project

    def __getitem__(self, path: str) -> Settings:
        return self.project.settings_for(path)

