"""Lines handed to forked workers through shared memory instead of their pipes.

A batch's lines sent to a worker are pickled, written through a pipe 64 KB at a time (by a
thread of this process, which needs the interpreter lock for every piece while this process
analyses its own share) and unpickled on the other side. Instead they are copied once into one of
two anonymous shared mappings made before the workers fork (so every worker has them), and a
task says only where its lines are. Two slots are enough for a cold run: a batch is started
while the one before it is analysed, and a batch's results are taken before the batch after next
is started (`engine._pipelined`). A slot whose earlier tasks are not all done (a warm run's side
worker, whose batches finish later) is never waited for: that batch goes by pipe.
"""

from __future__ import annotations

import mmap
from array import array
from concurrent.futures import Future

SLOT_BYTES = 8 << 20  # a batch's lines of at most this many bytes go through a slot; larger ones by pipe
SLOTS = 2


class Handoff:
    """The shared slots of one worker pool: `place` copies a batch's lines into the next slot."""

    def __init__(self, slots: int = SLOTS, size: int | None = None):
        size = size or SLOT_BYTES
        # anonymous and MAP_SHARED (mmap's default): pages are made only where written, and
        # shared with every process forked after this
        self.maps = [mmap.mmap(-1, size) for _ in range(slots)]
        self.size = size
        self._next = 0
        self._users: list[list[Future]] = [[] for _ in range(slots)]

    def place(self, lines: list) -> tuple[int, array] | None:
        """Copy `lines` (bytes) one after the other into the next slot: (slot, where each line
        ends), or None when one is not bytes (an editor's text), they do not fit, or the slot's
        earlier tasks are not all done."""
        if not all(type(x) is bytes for x in lines) or sum(map(len, lines)) > self.size:
            return None
        slot = self._next
        if not all(task.done() for task in self._users[slot]):
            return None
        self._next = (slot + 1) % len(self.maps)
        m = self.maps[slot]
        ends = array("Q")
        pos = 0
        for x in lines:
            end = pos + len(x)
            m[pos:end] = x
            ends.append(end)
            pos = end
        return slot, ends

    def used_by(self, slot: int, tasks: list[Future]) -> None:
        self._users[slot] = tasks

    def close(self) -> None:
        for m in self.maps:
            m.close()
        self.maps = []


class Placed:
    """A task's lines in a slot, sent to the worker in their place: from byte `start`, each
    line ending where `ends` says."""

    __slots__ = ("ends", "slot", "start")

    def __init__(self, slot: int, start: int, ends: array):
        self.slot, self.start, self.ends = slot, start, ends

    def __reduce__(self):
        return Placed, (self.slot, self.start, self.ends)

    def lines(self, maps: list[mmap.mmap]) -> list[bytes]:
        m = maps[self.slot]
        out = []
        a = self.start
        for b in self.ends:
            out.append(m[a:b])
            a = b
        return out
