"""The database: a primary that takes every write, and read replicas that copy it a little late.

A query first borrows a connection from its web replica's pool (engine/pool.py): when every pooled
connection is lent out it waits in line, and fails after the pool timeout. On the server it holds
a connection, and a node accepts at most `max_connections` of them at once; one more is refused,
like PostgreSQL's "too many clients", and the request fails. Inside, a query needs a core only for
its CPU work (an indexed read about 0.1 ms); the rest of its time it waits on storage, holding its
connection but no core. A write then commits: it waits for the write-ahead log to reach the disk,
and one flush makes every commit waiting for it durable (group commit, engine/group_commit.py).
So a few cores serve thousands of queries a second, and most of what a client waits for is the
network, the disk and other queries.

When reads dominate, read replicas take them off the primary: the read/write split. The price is
replication lag. A replica applies each write some milliseconds after the primary committed it; a
read that reaches a replica inside that window does not see the write. Here that is counted per
user: a read of user U's data is *stale* when U wrote something that the replicas have not yet
applied (the read-your-writes anomaly a learner can picture: "I sent a message, reloaded, and it
was gone").

A database on the same server as the web app costs no network hop and no extra instance, but
cannot be scaled apart from it; a separate database adds a datacenter round trip per query.
"""

from __future__ import annotations

from collections import deque

from engine.clock import after

from engine.distributions import sampler
from engine.fleet import Fleet
from engine.group_commit import WriteAheadLog
from engine.pool import ConnectionPool
from engine.randomness import stream
from engine.request import Outcomes
from engine.scenario import Database as DatabaseSpec
from engine.station import Station


class DatabaseNode:
    """One database server: its cores are a station; its connections a count up to `max_connections`."""

    __slots__ = ("name", "station", "max_connections", "connections", "logs", "_log_turn", "pools",
                 "up", "draining", "warming")

    def __init__(self, env, name: str, spec: DatabaseSpec, on_start, flush_time, on_durable, ack_delay_s: float):
        """Create node `name`; `on_start(request)` runs when a query gets a core; `on_durable(commits, durable_at)`
        when the word that a flush made commits durable is back, `ack_delay_s` after it."""
        self.name = name
        # Partitions (the primary only) each bring their own cores, connections and log; writes spread
        # evenly, so together they serve as one node that many times larger.
        partitions = spec.partitions if name == "db-primary" else 1
        # Every query inside holds a connection, so the line for a core never exceeds max_connections.
        self.station = Station(env, name, spec.cores * partitions, None, on_start)
        self.max_connections = spec.max_connections * partitions
        self.connections = 0
        self.logs = ([WriteAheadLog(env, flush_time, on_durable, ack_delay_s) for _ in range(partitions)]
                     if flush_time else [])
        self._log_turn = 0
        self.pools: dict = {}  # web replica -> its connection pool to this node
        self.up = True
        self.draining = False
        self.warming = False

    def log(self) -> WriteAheadLog:
        """Return the log of the partition that takes the next commit (taking turns)."""
        logs = self.logs
        if len(logs) == 1:
            return logs[0]
        self._log_turn = (self._log_turn + 1) % len(logs)
        return logs[self._log_turn]

    def flushes(self) -> int:
        """Return the log flushes this node has started (all partitions)."""
        return sum(log.flushes for log in self.logs)

    def idle(self) -> bool:
        """Return True when no query is inside this node or waiting for a connection to it."""
        return self.connections == 0 and not any(pool.in_use or pool.waiting for pool in self.pools.values())


class Database:
    """A primary plus read replicas; hands each answered query to `outcomes.done` and failures to `outcomes.failed`."""

    def __init__(self, env, spec: DatabaseSpec, seed: int, window_of, outcomes: Outcomes, on_resize=lambda: None):
        """Build the nodes; `window_of()` returns the metrics window to count reads, writes and stale reads in."""
        self.env = env
        self.spec = spec
        self._window_of = window_of
        self._on_done = outcomes.done
        self._on_fail = outcomes.failed
        self._on_resize = on_resize
        costs = spec.costs()
        self._read_time = sampler(costs.read, stream(seed, "db.read"))
        self._write_time = sampler(costs.write, stream(seed, "db.write"))
        self._read_cpu_s = costs.read_cpu_ms / 1000
        self._write_cpu_s = costs.write_cpu_ms / 1000
        flush_time = sampler(costs.flush, stream(seed, "db.commit_flush")) if costs.flush is not None else None
        self._lag = sampler(spec.replication_lag_ms, stream(seed, "db.replication_lag"))
        self._rtt_s = spec.network_rtt_ms / 1000 if spec.placement == "separate" else 0.0
        self._pool_size = spec.pool_size + spec.pool_max_overflow

        def node(name: str) -> DatabaseNode:
            return DatabaseNode(env, name, spec, self._start, flush_time, self._durable, self._rtt_s)

        self.primary = node("db-primary")
        self.fleet = Fleet(lambda index: node(f"db-replica-{index}"), spec.read_replicas)
        self._turn = 0
        self._visible_at: dict[int, float] = {}  # user -> when replicas will show that user's last write
        self._applied_until = 0.0  # when replicas will have applied every write committed so far
        self._pending_writes: deque[tuple[float, int]] = deque()

    @property
    def replicas(self) -> list[DatabaseNode]:
        """Return every read replica still billed, draining ones included."""
        return self.fleet.members

    def nodes(self) -> list[DatabaseNode]:
        """Return the primary and every replica, draining ones included."""
        return [self.primary, *self.replicas]

    def set_read_replicas(self, count: int) -> None:
        """Grow to `count` serving replicas, or drain the newest down to `count`."""
        self.fleet.resize(count)

    def set_up(self, name: str, up: bool) -> bool:
        """Mark node `name` up or down; return False if there is no such node.

        A primary that goes down is replaced by a read replica after `failover_s`, if it is still down
        and a replica is up; until then writes fail.
        """
        if name == self.primary.name:
            self.primary.up = up
            if not up:
                after(self.env, self.spec.failover_s, self._fail_over, self.primary)
            return True
        return self.fleet.set_up(name, up)

    def _fail_over(self, failed) -> None:
        """Promote a read replica if the primary that failed is still the primary and still down."""
        candidates = self.fleet.routable
        if failed is not self.primary or failed.up or not candidates:
            return
        promoted = candidates[0]
        self.fleet.members.remove(promoted)
        self.fleet.refresh()
        promoted.name = "db-primary"
        self.primary = promoted
        self._on_resize()

    def read(self, request) -> None:
        """Send one read to a replica (taking turns), or to the primary when no replica can take it."""
        readable = self.fleet.routable if self.spec.read_from_replicas else ()
        if readable:
            self._turn = (self._turn + 1) % len(readable)
            node = readable[self._turn]
        elif self.primary.up:
            node = self.primary
        else:
            self._on_fail(request)
            return
        request.db_is_write = False
        self._enter(node, request)

    def write(self, request) -> None:
        """Send one write to the primary."""
        if not self.primary.up:
            self._on_fail(request)
            return
        request.db_is_write = True
        self._enter(self.primary, request)

    def _enter(self, node: DatabaseNode, request) -> None:
        """Borrow a connection to `node` from the request's web replica's pool (or wait for one)."""
        request.db_node = node
        pool = node.pools.get(request.replica)
        if pool is None:
            pool = node.pools[request.replica] = ConnectionPool(self.env, self._pool_size, self.spec.pool_timeout_s,
                                                                 self._connect, self._on_fail)
        request.db_pool = pool
        pool.checkout(request)

    def _connect(self, request) -> bool:
        """The query reaches its node on a pooled connection; return False if the node refused it (the request failed)."""
        node = request.db_node
        if not node.up or node.connections >= node.max_connections:
            self._on_fail(request)
            return False
        node.connections += 1
        node.station.arrive(request)
        return True

    def _start(self, request) -> None:
        """A core picked the query up: it holds it for the query's CPU time, then waits on storage without it.

        Nothing else happens when the CPU part ends, so the core frees itself then (`free_in`) and one
        timer covers the whole query: CPU and storage, then the commit (writes) or the way back (reads).
        """
        node = request.db_node
        if request.db_is_write:
            total, cpu = self._write_time(), self._write_cpu_s
        else:
            total, cpu = self._read_time(), self._read_cpu_s
        node.station.free_in(cpu if cpu < total else total)
        if request.db_is_write and node.logs:
            after(self.env, total, self._written, request)
            return
        # A read (or a write that needs no flush): its storage waits, then its answer crossing the
        # network, with nothing in between that could change them.
        after(self.env, total + self._rtt_s, self._read_back, request)

    def _written(self, request) -> None:
        """The write's storage waits are over: it commits, and waits for the log flush."""
        request.db_node.log().commit(request)

    def _durable(self, commits: list, durable_at: float) -> None:
        """A log flush made `commits` durable at `durable_at`, and their answers have crossed the network back."""
        for request in commits:
            self._count(request, durable_at)
            request.db_pool.checkin()
            self._on_done(request)

    def _read_back(self, request) -> None:
        """The answer reached the web server (the server finished it one round trip ago)."""
        self._count(request, self.env.now - self._rtt_s)
        request.db_pool.checkin()
        self._on_done(request)

    def _count(self, request, served_at: float) -> None:
        """The server finished the query at `served_at`: free its server connection and count it."""
        node = request.db_node
        node.connections -= 1
        window = self._window_of()
        if request.db_is_write:
            window.db_writes += 1
            self._record_write(request.user, served_at)
        elif node is self.primary:
            window.db_reads_primary += 1
        else:
            window.db_reads_replica += 1
            if self._visible_at.get(request.user, 0.0) > served_at:
                window.stale_reads += 1

    def _record_write(self, user: int, now: float) -> None:
        """Remember until when replicas miss `user`'s write, forgetting writes they have applied."""
        # Replicas apply writes in commit order, so a write is visible no sooner than the one before it.
        visible = max(now + self._lag(), self._applied_until) if self.replicas else now
        self._applied_until = visible
        self._visible_at[user] = visible
        pending = self._pending_writes
        pending.append((visible, user))
        while pending and pending[0][0] <= now:
            applied, old_user = pending.popleft()
            if self._visible_at.get(old_user) == applied:
                del self._visible_at[old_user]

    def close_window(self) -> tuple[list[tuple], list[tuple] | None]:
        """Close every node's window: (primary stats, replica stats or None without replicas)."""
        primary = [self.primary.station.close_window()]
        replicas = [r.station.close_window() for r in self.replicas] if self.replicas else None
        self.fleet.drop_drained()
        return primary, replicas
