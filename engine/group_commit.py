"""Group commit: one flush of the write-ahead log makes many commits durable.

A database makes a commit durable by writing its log records to disk and waiting for the disk to
confirm (fsync): a fraction of a millisecond on an NVMe drive, 0.5-2 ms on a SATA SSD. The wait
holds the transaction's connection but no CPU. Only one flush runs at a time; commits that arrive
while one is under way wait for the next, and that next flush writes all of them at once
(PostgreSQL: the backend that gets the WAL write lock flushes everything inserted so far). So
flushes per second stay bounded by the flush time while commits per second grow with the number
of transactions committing together; each commit waits between one and two flush times.
"""

from __future__ import annotations

from typing import Callable

from engine.clock import after


class WriteAheadLog:
    """One node's log: at most one flush at a time; commits arriving meanwhile share the next one."""

    __slots__ = ("env", "_flush_time", "_on_durable", "flushing", "_next", "flushes")

    def __init__(self, env, flush_time: Callable[[], float], on_durable: Callable):
        """Create an idle log; `flush_time()` draws one flush in s, `on_durable(request)` runs per commit."""
        self.env = env
        self._flush_time = flush_time
        self._on_durable = on_durable
        self.flushing = False
        self._next: list = []
        self.flushes = 0  # flushes started so far

    def commit(self, request) -> None:
        """`request`'s commit record is written: flush now, or join the next flush."""
        if self.flushing:
            self._next.append(request)
        else:
            self._flush([request])

    def _flush(self, batch: list) -> None:
        """Start one flush that makes every commit in `batch` durable."""
        self.flushing = True
        self.flushes += 1
        after(self.env, self._flush_time(), self._flushed, batch)

    def _flushed(self, durable) -> None:
        """The disk confirmed: the batch is durable; the commits that waited meanwhile flush next."""
        if self._next:
            batch, self._next = self._next, []
            self._flush(batch)
        else:
            self.flushing = False
        for request in durable:
            self._on_durable(request)
