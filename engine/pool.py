"""A connection pool: how an application shares a few database connections among its requests.

An application does not open a database connection per query: each web replica keeps a pool
(SQLAlchemy's QueuePool, HikariCP) and a query borrows a connection, runs, and gives it back. The
pool holds `pool_size` connections and may open `max_overflow` more under load. When all of them
are lent out, the next query waits in line for one; if none comes back within `pool_timeout`, the
application gives up and its request fails ("QueuePool limit of size 5 overflow 10 reached,
connection timed out, timeout 30.00"). A full pool therefore queues first and fails late, where
a database at its own `max_connections` refuses at once: the pools of many replicas together may
ask for more connections than the server allows, and that refusal is real.

Here a connection is lent for one query (the application returns it between queries and does not
hold it across the LLM call), from the moment the query leaves for the database until its answer
is back.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from engine.deadlines import Deadlines


class ConnectionPool:
    """At most `size` connections lent at once, then a FIFO line whose waits end after `timeout_s`."""

    __slots__ = ("env", "size", "timeout_s", "in_use", "waiting", "_connect", "_on_timeout", "_deadlines")

    def __init__(self, env, size: int, timeout_s: float, connect: Callable, on_timeout: Callable):
        """Create an empty pool; `connect(request)` sends a query on a lent connection and returns
        False if the server refused it; `on_timeout(request)` runs when a wait ends without one."""
        self.env = env
        self.size = size
        self.timeout_s = timeout_s
        self.in_use = 0
        self.waiting: deque = deque()
        self._connect = connect
        self._on_timeout = on_timeout
        # Every wait lasts `timeout_s`: one timer at the earliest deadline watches the whole line.
        self._deadlines = Deadlines(env, self._timed_out, over=_ended)

    def checkout(self, request) -> None:
        """Lend `request` a connection now, or make it wait for one."""
        if self.in_use < self.size:
            self.in_use += 1
            if not self._connect(request):
                self.checkin()
            return
        request.pool_deadline = self.env.now + self.timeout_s
        self.waiting.append(request)
        self._deadlines.watch(request.pool_deadline, (request, request.pool_deadline))

    def checkin(self) -> None:
        """A connection came back: lend it to the first request still waiting, or keep it."""
        waiting = self.waiting
        while waiting:
            request = waiting.popleft()
            if request.pool_deadline is None:
                continue  # its wait already timed out
            request.pool_deadline = None
            if self._connect(request):
                return
        self.in_use -= 1

    def _timed_out(self, wait: tuple) -> None:
        """A request waited its whole `timeout_s` for a connection: it fails (and leaves the line)."""
        request = wait[0]
        request.pool_deadline = None
        waiting = self.waiting
        while waiting and waiting[0].pool_deadline is None:
            waiting.popleft()  # lent a connection or timed out already: the line keeps only real waits in front
        self._on_timeout(request)

    def queued(self) -> int:
        """Return how many requests wait in line (timed-out ones not yet swept included)."""
        return len(self.waiting)


def _ended(wait: tuple) -> bool:
    """Return True when this wait (request, its deadline) is over: lent a connection, perhaps waiting again since."""
    request, deadline = wait
    return request.pool_deadline != deadline
