"""The M/M/c queue simulated three ways: by the engine, by textbook SimPy and by Ciw.

An M/M/c queue is the simplest model of a web server: requests arrive at random (a Poisson
process at rate lambda), c workers serve them one at a time for an exponential time with mean
1/mu, and the others wait in one first-come, first-served line. The Erlang C formula gives its mean
wait in queue exactly, so this queue both checks that a simulator is right and, being nothing but
arrivals, waits and services, times the bare cost of simulating one request.

The three contenders simulate the same queue:

* the engine running the `mmc_queue` preset (plain callbacks on SimPy events, no processes);
* plain SimPy written the way its bank and carwash examples teach: a generator process per
  customer that requests a `simpy.Resource`, waits for it and holds it for its service time;
* Ciw, a queueing-network library with its own event loop.

The runs are reproducible and comparable. The engine draws inter-arrival and service times from
named numpy streams (`engine.randomness.stream`); the textbook model draws from the very same
streams, so both meet identical customers, and both stop half-way between the n-th and the
(n+1)-th arrival, so both count exactly n requests. Their mean waits must then agree to rounding,
a free correctness check. Ciw has its own generator (Python's `random`), seeded with the same seed;
it stops at its n-th arrival. Each wall time covers building the model, simulating and computing
the mean wait; statistics beyond that (batch means for the sampling error) are not timed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import ciw
import numpy as np
import simpy

from engine import Budget, Scenario, Simulation, derive, load_preset
from engine.randomness import stream

PRESET = "mmc_queue"
BATCHES_PER_RUN = 20
BUDGET = Budget(max_requests=10**9, max_wall_s=3600)


@dataclass(frozen=True)
class Queue:
    """The queue's parameters: arrival rate (1/s), mean service time (s) and servers."""

    rate: float
    mean_service_s: float
    servers: int

    @classmethod
    def of(cls, scenario: Scenario) -> "Queue":
        """Read the queue's parameters from an M/M/c scenario (one replica, exponential handler)."""
        return cls(scenario.traffic.rate_rps, scenario.web.handler_ms.mean_s() / scenario.web.speed(),
                   min(scenario.web.workers_per_replica(), scenario.web.cores_per_replica()))


@dataclass
class Run:
    """One contender's run: requests simulated, wall time, and the mean wait it measured."""

    contender: str
    seed: int
    requests: int
    wall_s: float
    wait_mean_s: float
    batch_means: list[float] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        """Return simulated requests per wall-clock second."""
        return self.requests / self.wall_s


def mmc_scenario(window_s: float | None = None) -> Scenario:
    """Return the `mmc_queue` preset, with metrics windows of `window_s` simulated seconds if given."""
    scenario = load_preset(PRESET)
    return scenario if window_s is None else derive(scenario, {"window_s": window_s})


def unit_gaps(seed: int, count: int) -> np.ndarray:
    """Return the first `count` draws of the engine's arrival stream (exponential, mean 1)."""
    return stream(seed, "arrivals").exponential(1.0, count)


def horizon_s(n: int, seed: int, rate: float) -> float:
    """Return a simulated time half-way between the engine's n-th and (n+1)-th arrivals."""
    times = np.cumsum(unit_gaps(seed, n + 1) / rate)
    return float(times[n - 1] + times[n]) / 2


def batch_means(waits: list[float], batches: int = BATCHES_PER_RUN) -> list[float]:
    """Return the means of `batches` consecutive, equal slices of `waits` (in time order)."""
    if len(waits) < batches:
        return []
    return [float(np.mean(chunk)) for chunk in np.array_split(np.asarray(waits), batches)]


def mean_and_half_width(values: list[float]) -> tuple[float, float]:
    """Return the mean of independent `values` and its approximate 95 % confidence half-width."""
    k = len(values)
    mean = float(np.mean(values))
    if k < 2:
        return mean, math.nan
    t = 1.96 + 2.4 / (k - 1)  # Student t quantile 0.975, within 0.5 % for 10 or more degrees of freedom
    return mean, t * float(np.std(values, ddof=1)) / math.sqrt(k)


# --- the three contenders ----------------------------------------------------------------------


def run_engine(scenario: Scenario, n: int, seed: int, label: str = "engine") -> Run:
    """Simulate exactly `n` requests of the M/M/c `scenario` through the engine."""
    scenario = derive(scenario, {"seed": seed})
    until = horizon_s(n, seed, scenario.traffic.rate_rps)
    start = time.perf_counter()
    summary = Simulation(scenario, BUDGET, history_windows=10).run(until)
    wall = time.perf_counter() - start
    return Run(label, seed, summary["arrivals"], wall, summary["web_wait_mean_s"])


def _customer(env: simpy.Environment, counter: simpy.Resource, service, waits: list[float]):
    """Arrive, queue for a worker, note the wait, hold the worker for the service time, leave."""
    arrive = env.now
    with counter.request() as request:
        yield request
        waits.append(env.now - arrive)
        yield env.timeout(next(service))


def _source(env: simpy.Environment, gaps: list[float], counter: simpy.Resource, service, waits: list[float]):
    """Start one customer process after each inter-arrival gap."""
    for gap in gaps:
        yield env.timeout(gap)
        env.process(_customer(env, counter, service, waits))


def run_simpy(queue: Queue, n: int, seed: int) -> Run:
    """Simulate exactly `n` requests with textbook SimPy, on the engine's random numbers."""
    until = horizon_s(n, seed, queue.rate)
    start = time.perf_counter()
    gaps = (unit_gaps(seed, n) / queue.rate).tolist()
    service = iter(stream(seed, "web.handler").exponential(queue.mean_service_s, n).tolist())
    env = simpy.Environment()
    counter = simpy.Resource(env, capacity=queue.servers)
    waits: list[float] = []
    env.process(_source(env, gaps, counter, service, waits))
    env.run(until=until)
    wait_mean = sum(waits) / len(waits)
    wall = time.perf_counter() - start
    return Run("plain SimPy", seed, len(gaps), wall, wait_mean, batch_means(waits))


def run_ciw(queue: Queue, n: int, seed: int) -> Run:
    """Simulate until the `n`-th arrival with Ciw, seeded with `seed`."""
    start = time.perf_counter()
    ciw.seed(seed)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(queue.rate)],
        service_distributions=[ciw.dists.Exponential(1 / queue.mean_service_s)],
        number_of_servers=[queue.servers],
    )
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_customers(n, method="Arrive")
    records = simulation.get_all_records()
    wait_mean = sum(r.waiting_time for r in records) / len(records)
    wall = time.perf_counter() - start
    waits = [r.waiting_time for r in sorted(records, key=lambda r: r.arrival_date)]
    return Run("Ciw", seed, simulation.nodes[0].number_of_individuals, wall, wait_mean, batch_means(waits))
