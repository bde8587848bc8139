"""Deadlines: many things that must happen each at its own time, unless they are over first.

A client waits for its answer until its deadline and no longer; when the deadline passes while the
model still works, the call is aborted. Nearly every call is answered well before its deadline, so
a timer per call would mostly fire to find nothing to do. Instead the deadlines wait in one heap
and a single timer is set at the earliest one still pending: when it fires, every deadline that has
come is handed on, those already over are dropped without an event, and the timer moves to the
next. Each deadline still takes effect at exactly its time.
"""

from __future__ import annotations

from heapq import heappop, heappush
from itertools import count
from typing import Any, Callable

from engine.clock import after


class Deadlines:
    """Call `due(item)` at each item's deadline, skipping items for which `over(item)` is true by then."""

    __slots__ = ("env", "_due", "_over", "_heap", "_armed", "_order")

    def __init__(self, env, due: Callable[[Any], None], over: Callable[[Any], bool]):
        """Watch nothing yet."""
        self.env = env
        self._due = due
        self._over = over
        self._heap: list[tuple[float, int, Any]] = []
        self._armed: float | None = None  # when the timer is set to fire, if it is
        self._order = count()  # equal deadlines keep the order they were watched in

    def watch(self, deadline: float, item) -> None:
        """Call `due(item)` at `deadline` unless `over(item)` by then."""
        heappush(self._heap, (deadline, next(self._order), item))
        if self._armed is None or deadline < self._armed:
            self._arm(deadline)

    def __len__(self) -> int:
        """Return how many deadlines are kept (some may be over already and not yet dropped)."""
        return len(self._heap)

    def _arm(self, at: float) -> None:
        self._armed = at
        after(self.env, max(at - self.env.now, 0.0), self._fire, at)

    def _fire(self, at) -> None:
        """The earliest deadline came: hand on every item due by now, drop those over, and set the next timer."""
        if at != self._armed:
            return  # an earlier deadline re-armed the timer since; that timer keeps watch
        self._armed = None
        now, heap, over = self.env.now, self._heap, self._over
        due = []
        while heap and (heap[0][0] <= now or over(heap[0][2])):
            deadline, _, item = heappop(heap)
            if deadline <= now and not over(item):
                due.append(item)
        if heap:
            self._arm(heap[0][0])
        for item in due:
            self._due(item)
