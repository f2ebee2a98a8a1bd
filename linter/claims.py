"""Who analyses which part of a batch in the CLI's parallel run: a worker, or this process.

With fork, the CLI runs one worker fewer than it has cores and analyses lines itself beside
them: on two cores one worker and this process instead of two workers and this process, which
holds a third of the memory less at the run's peak (a worker's own pages) and sends a part of
the lines through no pipe. A batch is cut into chunks, and every chunk is sent to the workers as
a worker's task (one per worker, of consecutive chunks); a worker analyses its chunks from the
front, and this process, whenever it would otherwise wait for the workers, takes the last chunk
no worker has begun (`Batch.steal`). A chunk is claimed in a table shared with the workers
(`Claims`) before it is analysed, so each is analysed once: a worker stops at the first chunk
this process took (the ones after it are taken too). Neither side waits for the
other while a chunk is left, whatever each one's speed and this process's own work per batch
(the cache, the indexes, reading the next batch); the workers always have the next batch queued.
"""

from __future__ import annotations

import mmap
import multiprocessing
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

CLAIMS = 1 << 12  # entries in the table, used in turn: far more than the chunks ever in flight
FREE, WORKER, HERE = 0, 1, 2


class Claims:
    """A table of one byte per chunk, shared with the workers forked after it is made, and a
    lock: a chunk's entry says who analyses it. Entries are used in turn; one is used again only
    when the task that had it is done."""

    def __init__(self):
        self.table = mmap.mmap(-1, CLAIMS)  # anonymous, MAP_SHARED: the forked workers see it
        self.lock = multiprocessing.get_context("fork").Lock()
        self._next = 0
        self._tasks: deque[Future] = deque()  # the tasks of the entries in use, oldest first

    def new(self) -> int:
        """An entry for the next chunk, marked free (`used_by` says which task has it)."""
        while self._tasks and self._tasks[0].done():
            self._tasks.popleft()
        if len(self._tasks) >= CLAIMS:  # the entry's last task is still running (never seen)
            self._tasks.popleft().exception()
        entry = self._next
        self._next = (entry + 1) % CLAIMS
        self.table[entry] = FREE
        return entry

    def used_by(self, task: Future) -> None:
        """The task given the entry `new` returned last."""
        self._tasks.append(task)

    def take(self, entry: int, who: int) -> bool:
        """Claim the entry's chunk for `who` (WORKER, HERE); False when it is taken already."""
        with self.lock:
            if self.table[entry] != FREE:
                return False
            self.table[entry] = who
            return True

    def close(self) -> None:
        self.table.close()


class Batch:
    """One batch in the pool: its chunks' bounds in the batch's texts, their claim entries (none:
    the workers analyse every chunk, as the language server's pool does), the tasks (each a run
    of consecutive chunks, from its first chunk's index), and the chunks analysed here."""

    __slots__ = ("analyze", "bounds", "claims", "entries", "here", "open", "tasks")

    def __init__(self, bounds: list[tuple[int, int]], claims: Claims | None,
                 analyze: Callable[[int, int], list]):
        self.bounds = bounds
        self.claims = claims
        self.analyze = analyze  # (lo, hi) → the results of texts[lo:hi], analysed here
        self.entries = [claims.new() for _ in bounds] if claims is not None else []
        self.tasks: list[tuple[Future, int]] = []
        self.here: list[list | None] = [None] * len(bounds)
        self.open = list(range(len(bounds))) if claims is not None else []  # not known to be a worker's

    def steal(self) -> bool:
        """Analyse here the last chunk no worker has claimed; False when none is left."""
        while self.open:
            i = self.open.pop()
            if self.claims.take(self.entries[i], HERE):
                self.here[i] = self.analyze(*self.bounds[i])
                return True
        return False

    def results(self, meanwhile: Batch | None) -> list:
        """Every line's result in order: a result analysed here, or a worker's as bytes.
        Chunks no worker has claimed are analysed here first; while a worker's are still
        running, this process analyses chunks of `meanwhile` (the batch started after)."""
        while self.steal():
            pass
        parts = self.here
        for task, first in self.tasks:
            while meanwhile is not None and not task.done() and meanwhile.steal():
                pass
            for i, there in enumerate(task.result(), first):  # the chunks this task's worker claimed
                parts[i] = there
        out: list = []
        for part in parts:
            out.extend(part)
        return out
