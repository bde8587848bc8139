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
    """One node's log: at most one flush at a time; commits arriving meanwhile share the next one.

    A flush's end is an event only when commits wait for it (it starts the next flush); the commits
    it made durable hear so in one event per flush, `ack_delay_s` after it (the answer's way back).
    """

    __slots__ = ("env", "_flush_time", "_on_durable", "_ack_delay_s", "_busy_until", "_next", "_end_set", "flushes")

    def __init__(self, env, flush_time: Callable[[], float], on_durable: Callable, ack_delay_s: float = 0.0):
        """Create an idle log; `flush_time()` draws one flush in s; `on_durable(commits, durable_at)` runs
        `ack_delay_s` after each flush, with the commits it made durable and when."""
        self.env = env
        self._flush_time = flush_time
        self._on_durable = on_durable
        self._ack_delay_s = ack_delay_s
        self._busy_until = -1.0  # when the flush under way (if any) ends
        self._next: list = []  # commits waiting for the flush under way to end
        self._end_set = False  # a timer is set for that end
        self.flushes = 0  # flushes started so far

    @property
    def flushing(self) -> bool:
        """Return True while a flush is under way."""
        return self._busy_until > self.env.now

    def commit(self, request) -> None:
        """`request`'s commit record is written: flush now, or join the next flush."""
        if self._next or self._busy_until > self.env.now:
            self._next.append(request)
            if not self._end_set:
                self._end_set = True
                after(self.env, self._busy_until - self.env.now, self._flush_ended)
        else:
            self._flush([request])

    def _flush(self, batch: list) -> None:
        """Start one flush that makes every commit in `batch` durable."""
        self.flushes += 1
        now = self.env.now
        self._busy_until = end = now + self._flush_time()
        after(self.env, end - now + self._ack_delay_s, self._acknowledged, (batch, end))

    def _flush_ended(self, _) -> None:
        """The flush under way is on disk: the commits that waited for it flush next, together."""
        self._end_set = False
        batch, self._next = self._next, []
        self._flush(batch)

    def _acknowledged(self, flushed: tuple) -> None:
        """A flush's commits are durable, and the word is back where they came from."""
        batch, durable_at = flushed
        self._on_durable(batch, durable_at)
