"""The database: a primary that takes every write, and read replicas that copy it a little late.

Each node serves a few queries at once (its cores) and holds at most `max_connections` queries;
one more is refused, like PostgreSQL's "too many clients", and the request fails. Reads are quick,
writes slower (they must commit). When reads dominate, read replicas take them off the primary:
the read/write split. The price is replication lag. A replica applies each write some milliseconds
after the primary committed it; a read that reaches a replica inside that window does not see the
write. Here that is counted per user: a read of user U's data is *stale* when U wrote something
that the replicas have not yet applied (the read-your-writes anomaly a learner can picture: "I sent
a message, reloaded, and it was gone").

A database on the same server as the web app costs no network hop and no extra instance, but
cannot be scaled apart from it; a separate database adds a datacenter round trip per query.
"""

from __future__ import annotations

from collections import deque

from engine.clock import after

from engine.distributions import sampler
from engine.fleet import Fleet
from engine.randomness import stream
from engine.scenario import Database as DatabaseSpec
from engine.station import Station


class DatabaseNode:
    """One database server: a station of `cores` servers holding at most `max_connections` queries."""

    __slots__ = ("name", "station", "up", "draining", "warming")

    def __init__(self, env, name: str, spec: DatabaseSpec, on_start):
        """Create node `name`; `on_start(request)` runs when a query gets a core."""
        self.name = name
        # A query needs a connection before a core: no more than max_connections run or wait at once.
        # Partitions (the primary only) each bring their own cores and connections; writes spread
        # evenly, so together they serve as one node that many times larger.
        partitions = spec.partitions if name == "db-primary" else 1
        running = min(spec.cores, spec.max_connections) * partitions
        self.station = Station(env, name, running, spec.max_connections * partitions - running, on_start)
        self.up = True
        self.draining = False
        self.warming = False

    def idle(self) -> bool:
        """Return True when no query is running or waiting here."""
        return self.station.in_system() == 0


class Database:
    """A primary plus read replicas; reports each finished query to `on_done` and refusals to `on_fail`."""

    def __init__(self, env, spec: DatabaseSpec, seed: int, window_of, on_done, on_fail, on_resize=lambda: None):
        """Build the nodes; `window_of()` returns the metrics window to count reads, writes and stale reads in."""
        self.env = env
        self.spec = spec
        self._window_of = window_of
        self._on_done = on_done
        self._on_fail = on_fail
        self._on_resize = on_resize
        self._read_time = sampler(spec.read_time(), stream(seed, "db.read"))
        self._write_time = sampler(spec.write_time(), stream(seed, "db.write"))
        self._lag = sampler(spec.replication_lag_ms, stream(seed, "db.replication_lag"))
        self._rtt_s = spec.network_rtt_ms / 1000 if spec.placement == "separate" else 0.0
        self.primary = DatabaseNode(env, "db-primary", spec, self._start)
        self.fleet = Fleet(lambda index: DatabaseNode(env, f"db-replica-{index}", spec, self._start), spec.read_replicas)
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

    def _fail_over(self, event) -> None:
        """Promote a read replica if the primary that failed is still the primary and still down."""
        failed = event._value
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
        """Queue the query at `node`, failing the request if the node refuses the connection."""
        request.db_node = node
        if not node.station.arrive(request):
            self._on_fail(request)

    def _start(self, request) -> None:
        """A core picked the query up: hold it for the query's service time."""
        duration = self._write_time() if request.db_is_write else self._read_time()
        after(self.env, duration, self._served, request)

    def _served(self, event) -> None:
        """The query finished: free the core, count it, and hand the answer back over the network."""
        request = event._value
        node = request.db_node
        node.station.release()
        window = self._window_of()
        now = self.env.now
        if request.db_is_write:
            window.db_writes += 1
            self._record_write(request.user, now)
        elif node is self.primary:
            window.db_reads_primary += 1
        else:
            window.db_reads_replica += 1
            if self._visible_at.get(request.user, 0.0) > now:
                window.stale_reads += 1
        if self._rtt_s:
            after(self.env, self._rtt_s, self._returned, request)
        else:
            self._on_done(request)

    def _returned(self, event) -> None:
        """The answer reached the web server."""
        self._on_done(event._value)

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
