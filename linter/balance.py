"""How much of each batch the CLI's own process analyses beside its worker pool.

With fork, the CLI runs one worker fewer than it has cores and analyses a share of each batch
itself, between storing the results of the batch before and reading the next: on two cores one
worker and this process instead of two workers and this process, which holds a third of the
memory less at the run's peak (a worker's own pages) and sends a part of the lines through no
pipe. The share is what keeps both sides busy: this process's analysis plus its own work per
batch (the cache, the indexes, reading) should take as long as the workers' part, so it is
worked out again at every batch from the rates measured so far.
"""

from __future__ import annotations

from time import perf_counter

SMOOTHING = 0.3  # weight of the newest measurement in the running averages
SHARE_MIN, SHARE_MAX = 0.0, 0.9


def _mix(old: float | None, new: float) -> float:
    return new if old is None else old + SMOOTHING * (new - old)


class Balance:
    """This process's share of a batch, for a pool of `workers` (`cut`), from what it measured:
    its own seconds per line analysed (`analysed_here`), the workers' (`analysed_there`), the
    seconds it waited for them (`waited`), and, from the time between batches, its own work per
    batch outside analysing and waiting."""

    def __init__(self, workers: int):
        self.workers = workers
        # a first guess: a little less than an equal part, for the work of its own it also has
        self.share = 1 / (workers + 2)
        self.here: float | None = None  # seconds per line analysed in this process
        self.there: float | None = None  # a worker's seconds per line
        self.own = 0.0  # this process's seconds per batch spent neither analysing nor waiting
        # what the rates leave out (the workers' pipes, this process's threads): learnt from
        # the imbalance seen, this process waiting for the workers or the workers for it
        self.bias = 0.0
        self._began: float | None = None
        self._spent = 0.0  # analysing and waiting in the current batch
        self._waited = 0.0
        self._idle = 0.0

    def cut(self, lines: int) -> int:
        """How many of a batch's `lines` to analyse here (the first ones); the rest go to the pool."""
        now = perf_counter()
        if self._began is not None:
            self.own = _mix(self.own, max(0.0, now - self._began - self._spent))
        self._began, self._spent = now, 0.0
        if self.here is not None and self.there is not None and lines:
            there = self.there / self.workers  # the pool's seconds per line, all workers together
            # moving a line from the workers to here moves `here + there` seconds of imbalance
            self.bias += 0.5 * (self._waited - self._idle) / (lines * (self.here + there))
            self.bias = min(max(self.bias, -SHARE_MAX), SHARE_MAX)
            target = (lines * there - self.own) / (lines * (self.here + there)) + self.bias
            self.share = _mix(self.share, min(max(target, SHARE_MIN), SHARE_MAX))
        self._waited = self._idle = 0.0
        return int(lines * self.share)

    def analysed_here(self, lines: int, seconds: float) -> None:
        self._spent += seconds
        if lines:
            self.here = _mix(self.here, seconds / lines)

    def analysed_there(self, lines: int, seconds: float) -> None:
        if lines:
            self.there = _mix(self.there, seconds / lines)

    def waited(self, seconds: float) -> None:
        """This process waited `seconds` for the workers' part of a batch."""
        self._spent += seconds
        self._waited += seconds

    def idle(self, seconds: float) -> None:
        """The workers had nothing to do for `seconds` before a batch's part reached them."""
        self._idle += seconds
