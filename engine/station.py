"""A station: a few identical servers with a first-come, first-served queue in front.

Almost every component of a web application is a station. A web replica's workers are servers and
its accept queue is the line in front of them; a replica's CPU cores compute handlers while other
threads wait for one; a database node's cores run the CPU part of queries while the others wait.
When a job arrives and a server is free it starts at once; otherwise it joins the queue, unless the
queue is full, in which case it is turned away (a 503). When a server is released the next job in
line starts. At the front door (a web replica's accept queue) jobs whose client has already given
up are skipped when their turn comes, as a real server skips a closed connection; deeper in, a
blocked thread does not know its client left, so the work goes on.

The owner of a station decides how long each job holds its server: it calls `release` when the
job is done, or, when it knows at the start how long the job will hold the server and nothing
else happens at its end (a database query's CPU part, after which it waits on storage without a
core), it calls `free_in(seconds)` and the server frees itself then. Such a server is freed
lazily: no event is scheduled for it unless a job waits in line, in which case one timer at the
earliest end starts the next job exactly when it would have started. The books come out the same
(the integrals are added up piece by piece at each end), and a query costs one event instead of two.

The station keeps the books a learner wants to see: how busy it was (utilisation), how long its
queue was (time-averaged) and how long jobs waited, per metrics window and for the whole run.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import Any, Callable

from engine.clock import after


class Station:
    """A pool of `servers` identical servers with a FIFO queue of at most `queue_capacity` jobs."""

    __slots__ = (
        "env", "name", "servers", "queue_capacity", "_on_abandoned", "busy", "queue", "_on_start",
        "_t_mark", "_t_capacity", "_busy_area", "_queue_area", "_capacity_area", "_wait_sum", "_started",
        "_ends", "_armed",
    )

    def __init__(self, env, name: str, servers: int, queue_capacity: int | None,
                 on_start: Callable[[Any], None], on_abandoned: Callable[[Any], None] | None = None):
        """Create a station; `on_start(job)` runs when a job gets a server, `on_abandoned(job)` when one is skipped.

        Without `on_abandoned`, jobs whose client gave up (past their `deadline`) are served like any other.
        """
        self.env = env
        self.name = name
        self.servers = servers
        self.queue_capacity = queue_capacity
        self._on_abandoned = on_abandoned
        self.busy = 0
        self.queue: deque = deque()
        self._on_start = on_start
        self._t_mark = self._t_capacity = env.now
        self._busy_area = self._queue_area = self._capacity_area = self._wait_sum = 0.0
        self._started = 0
        self._ends: list[float] = []  # when servers given `free_in` become free (a heap)
        self._armed = None  # the time of the timer that starts the next waiting job at the earliest end, if set

    def _account(self, now: float) -> None:
        """Add the time since the last change to the busy and queue integrals."""
        elapsed = now - self._t_mark
        self._busy_area += self.busy * elapsed
        self._queue_area += len(self.queue) * elapsed
        self._t_mark = now

    def in_system(self) -> int:
        """Return jobs in service plus jobs waiting (the load balancer's 'connections')."""
        return self.busy + len(self.queue)

    def arrive(self, job) -> bool:
        """Start `job` now or queue it; return False if the queue is full and the job is refused."""
        now = self.env.now
        if self._ends and self._ends[0] <= now:
            self._free_ended(now)
        # The integrals are updated inline: this runs for every job at every station.
        elapsed = now - self._t_mark
        queue = self.queue
        if self.busy < self.servers:
            if elapsed:
                self._busy_area += self.busy * elapsed
                self._queue_area += len(queue) * elapsed
                self._t_mark = now
            self.busy += 1
            self._started += 1
            self._on_start(job)
            return True
        if self.queue_capacity is not None and len(queue) >= self.queue_capacity:
            return False
        if elapsed:
            self._busy_area += self.busy * elapsed
            self._queue_area += len(queue) * elapsed
            self._t_mark = now
        job.t_queued = now
        queue.append(job)
        if self._ends:
            self._arm()
        return True

    def free_in(self, seconds: float) -> None:
        """The job that just started frees its server by itself `seconds` from now (instead of calling `release`).

        For stations whose waiting jobs are all served (no `on_abandoned`): a job started at a freed
        server is never skipped here.
        """
        heappush(self._ends, self.env.now + seconds)
        if self.queue:
            self._arm()

    def _arm(self) -> None:
        """Make sure a timer runs at the earliest end while jobs wait, so the next one starts on time."""
        end = self._ends[0]
        if self._armed is None or end < self._armed:
            self._armed = end
            after(self.env, end - self.env.now, self._end_due, end)

    def _end_due(self, end) -> None:
        """A server given `free_in` ends its job now: the next waiting job takes it."""
        if self._armed == end:
            self._armed = None
        self._free_ended(self.env.now)
        if self.queue and self._ends:
            self._arm()

    def _free_ended(self, now: float) -> None:
        """Free every server whose `free_in` time has come, adding up the books at each end.

        A job waiting in line takes a freed server at once; while jobs wait, a timer is set at the
        earliest end (`_arm`), so a job never starts later than its server became free.
        """
        ends, queue = self._ends, self.queue
        while ends and ends[0] <= now:
            end = heappop(ends)
            elapsed = end - self._t_mark
            if elapsed > 0:
                self._busy_area += self.busy * elapsed
                self._queue_area += len(queue) * elapsed
                self._t_mark = end
            if queue and self.busy <= self.servers:
                job = queue.popleft()
                self._wait_sum += end - job.t_queued
                self._started += 1
                self._on_start(job)  # it may free its own server by `now` again (a zero-length job)
            else:
                self.busy -= 1

    def release(self) -> None:
        """Free one server and start the next waiting job whose client is still there."""
        now = self.env.now
        queue = self.queue
        elapsed = now - self._t_mark
        if elapsed:
            self._busy_area += self.busy * elapsed
            self._queue_area += len(queue) * elapsed
            self._t_mark = now
        while queue and self.busy <= self.servers:
            job = queue.popleft()
            if self._on_abandoned is not None and now > job.deadline:
                self._wait_sum += now - job.t_queued  # it waited too, then its turn found nobody there
                self._started += 1
                self._on_abandoned(job)
                continue
            self._wait_sum += now - job.t_queued
            self._started += 1
            self._on_start(job)
            return
        self.busy -= 1

    def resize(self, servers: int) -> None:
        """Change the number of servers from now on; busy servers above the new count finish first."""
        now = self.env.now
        self._account(now)
        self._capacity_area += self.servers * (now - self._t_capacity)
        self._t_capacity = now
        self.servers = servers
        while self.busy < self.servers and self.queue:
            self.busy += 1
            self.release()

    def empty(self) -> list:
        """Drop every job at once (the server crashed): free every server, return the jobs that were waiting."""
        self._account(self.env.now)
        waiting = list(self.queue)
        self.queue.clear()
        self.busy = 0
        self._ends.clear()
        return waiting

    def close_window(self) -> tuple[str, tuple]:
        """Return (name, (busy area, capacity area, queue area, wait sum, jobs started)) since the last call."""
        now = self.env.now
        if self._ends:
            self._free_ended(now)
        self._account(now)
        self._capacity_area += self.servers * (now - self._t_capacity)
        self._t_capacity = now
        integrals = (self._busy_area, self._capacity_area, self._queue_area, self._wait_sum, self._started)
        self._busy_area = self._queue_area = self._capacity_area = self._wait_sum = 0.0
        self._started = 0
        return self.name, integrals
