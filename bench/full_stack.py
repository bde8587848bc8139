"""The full-stack scenario timed: every component of the engine at once.

The `full_stack` preset is a least-connections load balancer in front of four web replicas (17
thread-per-request workers each), a separate database with one read replica, and two self-hosted
LLM replicas with continuous batching, fed at 5 requests per second with token counts drawn from
the Azure conversation trace. Each request costs about ten events (arrival, handler, two reads and
their network hops, the LLM's overhead, prefill and decode, a write and its hop), against two in
the bare M/M/c queue, and every metrics window closes the books of eight stations.

The preset is run unchanged, only for longer: `requests / rate` simulated seconds, so that the
figure is stable. Each request holds a web worker for its whole ~7 s journey, so at 5 req/s the
web tier is half busy and the LLM replicas a quarter: nothing is overloaded and errors stay at
zero; the benchmark prints both so a reader can check. It is timed with the preset's 1 s metrics
windows (what the dashboard uses) and with 60 s windows, which shows what the windows cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine import Budget, Scenario, Simulation, derive, load_preset

PRESET = "full_stack"
BUDGET = Budget(max_requests=10**9, max_wall_s=3600)


@dataclass
class FullRun:
    """One timed run of the full scenario: what it simulated and how long it took."""

    label: str
    simulated_s: float
    wall_s: float
    summary: dict

    @property
    def requests(self) -> int:
        """Return the requests that arrived during the run."""
        return self.summary["arrivals"]

    @property
    def requests_per_s(self) -> float:
        """Return simulated requests per wall-clock second."""
        return self.requests / self.wall_s


def full_stack_scenario(window_s: float | None = None, preset: str = PRESET) -> Scenario:
    """Return the `full_stack` preset (or `preset`), with metrics windows of `window_s` simulated seconds if given."""
    scenario = load_preset(preset)
    return scenario if window_s is None else derive(scenario, {"window_s": window_s})


def run_full_stack(scenario: Scenario, requests: int, label: str) -> FullRun:
    """Run `scenario` for the simulated time in which about `requests` requests arrive; time it."""
    seconds = requests / scenario.traffic.rate_rps
    start = time.perf_counter()
    summary = Simulation(scenario, BUDGET, history_windows=10).run(seconds)
    wall = time.perf_counter() - start
    return FullRun(label, seconds, wall, summary)
