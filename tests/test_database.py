"""The database model: CPU per query, storage waits, group commit and connection pools, against published figures.

The capacity tests drive the database directly, as pgbench does: a fixed number of clients, each
sending its next query as soon as the last one is answered. The figures they must match are
pgbench's (docs/model.md, "Database"): on 4 vCPU with an SSD, 15,000-25,000 select-only and
2,500-4,000 TPC-B-like transactions a second; on 8 vCPU 50,000-80,000 and 8,000-15,000; on 16 vCPU
100,000-150,000 and 20,000-35,000.
"""

import pytest
import simpy

from engine.database import Database
from engine.metrics import Window
from engine.request import Outcomes
from engine.request import Request
from engine.clock import Clock
from tests.helpers import run, scenario

PGBENCH = {  # vCPUs: (select-only TPS, TPC-B-like TPS), each a published (low, high) range
    4: ((15_000, 25_000), (2_500, 4_000)),
    8: ((50_000, 80_000), (8_000, 15_000)),
    16: ((100_000, 150_000), (20_000, 35_000)),
}


def database_spec(**fields):
    """A relational database on its own machine, with the given fields changed."""
    return scenario(web={"db_reads_per_request": 1}, database={"placement": "separate", **fields}).database


class Clients:
    """Closed-loop clients (pgbench's model) sending queries straight to a Database, each from `replica`."""

    def __init__(self, spec, write: bool = False):
        """Build the database; each client sends reads, or writes when `write`."""
        self.env = Clock()
        self.window = Window(0.0)
        self.answered: list[float] = []  # when each query came back
        self.failed: list[float] = []  # when each query failed
        self.database = Database(self.env, spec, 1, lambda: self.window, Outcomes(done=self._answered, failed=self._failed))
        self._send = self.database.write if write else self.database.read

    def send(self, replica=None, at: float = 0.0) -> None:
        """Send one query from `replica` at time `at`."""
        def later():
            yield self.env.timeout(at)
            self._query(replica)
        self.env.process(later())

    def loop(self, clients: int) -> None:
        """Start `clients` clients that each send a new query as soon as their last one is answered."""
        for _ in range(clients):
            self._query(None, again=True)

    def _query(self, replica, again: bool = False) -> None:
        request = Request(0, self.env.now, float("inf"), 0, 1, 0, 0)
        request.replica = replica
        request.llm_called = again  # marks a looping client's query (nothing else reads it here)
        self._send(request)

    def _answered(self, request) -> None:
        self.answered.append(self.env.now)
        if request.llm_called:
            self._query(request.replica, again=True)

    def _failed(self, request) -> None:
        self.failed.append(self.env.now)

    def rate(self, start: float, end: float) -> float:
        """Run to `end`; return the queries answered per second between `start` and `end`."""
        self.env.run(until=end)
        return sum(start <= t < end for t in self.answered) / (end - start)


def saturated(cores: int, write: bool) -> float:
    """Queries a second a `cores`-core relational database answers with 16 clients per core."""
    clients = 16 * cores
    spec = database_spec(cores=cores, max_connections=clients, pool_size=clients)
    driver = Clients(spec, write)
    driver.loop(clients)
    return driver.rate(0.2, 1.2)


@pytest.mark.parametrize("cores", sorted(PGBENCH))
def test_reads_per_second_per_core_match_pgbench_select_only_within_2x(cores):
    (low, high), _ = PGBENCH[cores]
    reads = saturated(cores, write=False)
    assert low / 2 <= reads <= 2 * high, f"{reads:,.0f} reads/s on {cores} cores"


@pytest.mark.parametrize("cores", sorted(PGBENCH))
def test_commits_per_second_per_core_match_pgbench_tpcb_within_2x(cores):
    _, (low, high) = PGBENCH[cores]
    commits = saturated(cores, write=True)
    assert low / 2 <= commits <= 2 * high, f"{commits:,.0f} commits/s on {cores} cores"


def test_a_4_core_primary_serves_4000_indexed_reads_a_second():
    summary = run(scenario(traffic={"rate_rps": 4000}, load_balancer={},
                           web={"replicas": 8, "async_io": True, "db_reads_per_request": 1,  # 1 ms of handler
                                "handler_ms": {"dist": "exponential", "mean_ms": 1}},  # CPU: the web tier keeps up
                           database={"placement": "separate", "cores": 4}), 30)
    assert summary["error_rate"] < 0.01
    assert summary["throughput_rps"] == pytest.approx(4000, rel=0.03)
    # 4,000 reads of 0.15 ms of CPU keep 0.6 of 4 cores busy; the client still sees 1-2 ms a read.
    assert summary["db_primary_utilisation"] == pytest.approx(0.15, abs=0.03)


def flush_bound(committers: int) -> tuple[float, float, list]:
    """Commits a second and flushes a second with `committers` clients, 2 ms a flush; and the commit times."""
    spec = database_spec(cores=64, max_connections=1000, pool_size=1000, network_rtt_ms=0,
                         write_ms={"dist": "constant", "value_ms": 0.1}, write_cpu_ms=0.1,
                         commit_flush_ms={"dist": "constant", "value_ms": 2})
    driver = Clients(spec, write=True)
    driver.loop(committers)
    commits = driver.rate(0.0, 1.0)
    return commits, driver.database.primary.flushes() / 1.0, driver


def test_group_commit_shares_one_flush_among_concurrent_commits():
    alone, alone_flushes, _ = flush_bound(1)
    crowd, crowd_flushes, _ = flush_bound(64)
    # One committer waits for every flush itself: 0.1 ms of work, 2 ms of flush, about 476 a second.
    assert alone == pytest.approx(1 / 0.0021, rel=0.02)
    assert alone_flushes == pytest.approx(alone, rel=0.01)
    # 64 committers share the flushes: commits grow more than 20-fold, flushes stay under 1 / 2 ms.
    assert crowd > 20 * alone
    assert crowd_flushes <= 500
    assert crowd / crowd_flushes > 20


def test_a_commit_that_arrives_during_a_flush_waits_for_the_next_one():
    spec = database_spec(network_rtt_ms=0, write_ms={"dist": "constant", "value_ms": 0}, write_cpu_ms=0,
                         commit_flush_ms={"dist": "constant", "value_ms": 2})
    driver = Clients(spec, write=True)
    for at in (0.0, 0.0005, 0.001, 0.0015):
        driver.send(at=at)
    driver.env.run(until=1)
    # The first commit flushes alone (0-2 ms); the three that came meanwhile share the next flush (2-4 ms).
    assert driver.answered == pytest.approx([0.002, 0.004, 0.004, 0.004])
    assert driver.database.primary.flushes() == 2


def test_a_commit_is_answered_one_round_trip_after_the_flush_that_made_it_durable():
    spec = database_spec(network_rtt_ms=1, write_ms={"dist": "constant", "value_ms": 0}, write_cpu_ms=0,
                         commit_flush_ms={"dist": "constant", "value_ms": 2})
    driver = Clients(spec, write=True)
    for at in (0.0, 0.0005, 0.010):
        driver.send(at=at)
    driver.env.run(until=0.003)
    log = driver.database.primary.logs[0]
    assert log.flushes == 2 and log.flushing  # the second commit waited for the first flush, then flushed
    driver.env.run(until=1)
    # Flushes 0-2 ms and 2-4 ms, each answered 1 ms later; the commit at 10 ms finds the log idle.
    assert driver.answered == pytest.approx([0.003, 0.005, 0.013])
    assert driver.database.primary.flushes() == 3 and driver.window.db_writes == 3


def slow_reads(**fields):
    """Reads of exactly 100 ms of storage wait, no network, and a pool of the given size."""
    return database_spec(network_rtt_ms=0, read_ms={"dist": "constant", "value_ms": 100}, read_cpu_ms=0, **fields)


def test_a_full_pool_queues_a_query_instead_of_failing_it():
    driver = Clients(slow_reads(pool_size=2, pool_max_overflow=0))
    for _ in range(3):
        driver.send("web-0")
    driver.env.run(until=1)
    # Two connections: the third query waits for one to come back, then runs.
    assert driver.answered == pytest.approx([0.1, 0.1, 0.2])
    assert driver.failed == []


def test_a_query_that_waits_longer_than_the_pool_timeout_fails():
    driver = Clients(slow_reads(pool_size=1, pool_max_overflow=1, pool_timeout_s=0.05))
    for _ in range(3):
        driver.send("web-0")
    driver.env.run(until=1)
    assert driver.answered == pytest.approx([0.1, 0.1])
    assert driver.failed == pytest.approx([0.05])  # failed when its wait reached the pool timeout


def test_pools_of_many_replicas_can_exceed_max_connections_and_are_refused():
    driver = Clients(slow_reads(pool_size=2, pool_max_overflow=0, max_connections=3))
    for replica in ("web-0", "web-0", "web-1", "web-1"):
        driver.send(replica)
    driver.env.run(until=1)
    # Each pool lends its 2 connections, but the server takes 3: the fourth query is refused at once.
    assert driver.failed == [0.0]
    assert driver.answered == pytest.approx([0.1, 0.1, 0.1])


def test_a_pool_timeout_fails_the_request_in_a_running_app():
    # 20 requests a second each hold one of 2 connections for 200 ms: the pool serves at most 10 a
    # second, the line grows, and waits past the 1 s pool timeout fail their requests.
    summary = run(scenario(traffic={"rate_rps": 20, "client_timeout_s": None},
                           web={"async_io": True, "db_reads_per_request": 1,
                                "handler_ms": {"dist": "constant", "value_ms": 0}},
                           database={"placement": "separate", "pool_size": 2, "pool_max_overflow": 0,
                                     "pool_timeout_s": 1, "read_ms": {"dist": "constant", "value_ms": 200},
                                     "read_cpu_ms": 0}), 60)
    assert summary["throughput_rps"] == pytest.approx(10, rel=0.05)
    assert summary["failed"] > 0.4 * summary["arrivals"]
    # Nobody waited past the timeout and still got an answer (percentiles are kept to about 1 %).
    assert summary["latency_p95_s"] < 1.02 * (1.0 + 0.2)


def test_a_request_that_waits_for_a_connection_again_gets_a_whole_new_timeout():
    # A request makes several queries: after its first wait ended with a connection, a second wait
    # must not end at the first wait's deadline.
    from engine.clock import Clock, after
    from engine.pool import ConnectionPool

    env, timed_out = Clock(), []
    pool = ConnectionPool(env, 1, 10.0, connect=lambda request: True,
                          on_timeout=lambda request: timed_out.append((env.now, request.user)))
    a, b, c = (Request(user, 0.0, float("inf"), 0, 1, 0, 0) for user in (1, 2, 3))
    pool.checkout(a)          # t=0: a holds the only connection
    pool.checkout(b)          # t=0: b waits, until 10 at most
    after(env, 1, lambda _: pool.checkin())   # a gives it back: b has it
    after(env, 2, lambda _: pool.checkin())   # b gives it back
    after(env, 2.5, lambda _: pool.checkout(c))  # c takes it and keeps it
    after(env, 3, lambda _: pool.checkout(b))    # b's next query waits, until 13 at most
    env.advance(12)
    assert timed_out == []  # not at 10, the first wait's deadline
    env.advance(2)
    assert timed_out == [(13, 2)] and len(pool.waiting) == 0
