"""A server freed by itself (`free_in`) keeps the same books as one released by a timer."""

import random

import pytest

from engine.clock import Clock, after
from engine.station import Station


class _Job:
    __slots__ = ("name", "hold", "t_queued", "deadline")

    def __init__(self, name, hold):
        self.name, self.hold, self.t_queued, self.deadline = name, hold, None, float("inf")


def _run(lazy: bool, servers: int, jobs: list[tuple[float, float]], window_s: float):
    """Jobs arrive at the given times and hold a server for the given seconds: (start times, window books)."""
    env = Clock()
    starts, books = {}, []

    def start(job):
        starts[job.name] = env.now
        if lazy:
            station.free_in(job.hold)
        else:
            after(env, job.hold, lambda _: station.release())

    station = Station(env, "cores", servers, None, start)
    for name, (at, hold) in enumerate(jobs):
        after(env, at, station.arrive, _Job(name, hold))
    end = max(at for at, _ in jobs) + 500  # long enough for the line to empty
    t = 0.0
    while t < end:
        env.advance(window_s)
        t += window_s
        books.append(station.close_window()[1])
    return starts, books


@pytest.mark.parametrize("servers", [1, 2, 4])
def test_a_server_that_frees_itself_starts_every_job_when_a_release_would(servers):
    draw = random.Random(servers)
    at, jobs = 0.0, []
    for _ in range(3_000):  # busy enough that lines form and empty again (utilisation about 0.9)
        at += draw.expovariate(servers * 0.9)
        jobs.append((at, draw.expovariate(1.0)))
    eager_starts, eager_books = _run(False, servers, jobs, window_s=1.0)
    lazy_starts, lazy_books = _run(True, servers, jobs, window_s=1.0)
    assert len(eager_starts) == len(jobs)
    assert lazy_starts == pytest.approx(eager_starts, abs=1e-9)
    waited = sum(1 for name, (at, _) in enumerate(jobs) if eager_starts[name] > at + 1e-12)
    assert waited > 500  # the line was used, so the timer path that starts waiting jobs ran
    assert len(lazy_books) == len(eager_books)
    for lazy, eager in zip(lazy_books, eager_books):  # busy, capacity and queue areas, waits, starts
        assert lazy == pytest.approx(eager, abs=1e-9)


def test_a_server_that_frees_itself_schedules_nothing_when_nobody_waits():
    env = Clock()
    station = Station(env, "cores", 2, None, lambda job: station.free_in(0.5))
    for name in range(2):
        station.arrive(_Job(name, 0.5))
    assert env._queue == []  # no event for either end
    env.advance(1.0)
    assert station.close_window()[1] == pytest.approx((1.0, 2.0, 0.0, 0.0, 2))
