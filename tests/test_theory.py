"""The engine agrees with queueing theory.

For each utilisation we run R independent replications (seeds 1..R) of a bare M/M/c or M/M/1
queue, take each replication's mean wait in queue, and build a 99 % confidence interval for the
true mean from the spread between replications (Student t, R - 1 degrees of freedom). The formula
must fall inside that interval, and the interval must be narrow (its half-width under a stated
share of the formula), so the test cannot pass by being vague. Runs start empty, which biases
waits down; each run lasts hundreds of relaxation times of the queue, which keeps that bias far
below the interval's width.
"""

import math
import statistics

import pytest

from engine import Budget, Simulation
from engine.theory import erlang_b, erlang_c, littles_law, mg1_wait, mm1_wait, mmc_wait, mmc_wait_tail
from tests.helpers import scenario

T_99 = {5: 4.032, 7: 3.499, 9: 3.250, 11: 3.106}  # Student t quantile 0.995 for R - 1 degrees of freedom


def queue(rate_rps: float, workers: int, mean_service_s: float, seed: int, **web):
    """A bare M/M/c scenario: one replica, `workers` servers, unbounded queue, no timeouts."""
    return scenario(
        seed=seed, window_s=60,
        traffic={"rate_rps": rate_rps, "client_timeout_s": None},
        web={"workers": workers, "cores": workers, "accept_queue": None,
             "handler_ms": {"dist": "exponential", "mean_ms": mean_service_s * 1000}, **web},
    )


def replicate(rate_rps, workers, mean_service_s, seconds, replications):
    """Return each replication's whole-run summary."""
    budget = Budget(max_requests=10**8, max_wall_s=300)
    return [Simulation(queue(rate_rps, workers, mean_service_s, seed), budget).run(seconds)
            for seed in range(1, replications + 1)]


def interval(values):
    """Return (mean, 99 % half-width) of replication means."""
    mean = statistics.fmean(values)
    half = T_99[len(values) - 1] * statistics.stdev(values) / math.sqrt(len(values))
    return mean, half


def test_erlang_formulas_match_known_values():
    # Erlang B(2, 1) = 0.2; B(10, 8) = 0.1217 from published tables.
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(10, 8.0) == pytest.approx(0.12166, abs=1e-5)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)          # M/M/1: P(wait) = rho
    assert mmc_wait(8, 1, 10) == pytest.approx(0.20459, abs=1e-5)
    assert mm1_wait(0.9, 1.0) == pytest.approx(9.0)
    assert mmc_wait(0.9, 1.0, 1) == pytest.approx(mm1_wait(0.9, 1.0))
    assert mmc_wait_tail(0.5, 1, 1, 0) == pytest.approx(0.5)
    assert mg1_wait(0.5, 1.0, 2.0) == pytest.approx(mm1_wait(0.5, 1.0))  # exponential: E[S^2] = 2 E[S]^2
    assert littles_law(8, 0.25) == 2.0
    with pytest.raises(ValueError, match="unstable"):
        mmc_wait(10, 1, 10)


@pytest.mark.parametrize("utilisation, seconds, max_half_width", [
    (0.7, 10_000, 0.12),
    (0.8, 10_000, 0.10),
    (0.9, 10_000, 0.08),
])
def test_mmc_mean_wait_agrees_with_erlang_c(utilisation, seconds, max_half_width):
    rate = 10 * utilisation
    runs = replicate(rate, 10, 1.0, seconds, 8)
    mean, half = interval([r["web_wait_mean_s"] for r in runs])
    expected = mmc_wait(rate, 1.0, 10)
    assert half < max_half_width * expected, f"interval too wide: {half:.4f} vs Wq {expected:.4f}"
    assert abs(mean - expected) <= half, f"Wq {mean:.4f} +- {half:.4f}, Erlang C {expected:.4f}"


@pytest.mark.parametrize("utilisation, seconds, max_half_width", [
    (0.5, 40_000, 0.10),
    (0.9, 100_000, 0.08),
])
def test_mm1_mean_wait_agrees_with_formula(utilisation, seconds, max_half_width):
    runs = replicate(utilisation, 1, 1.0, seconds, 8)
    mean, half = interval([r["web_wait_mean_s"] for r in runs])
    expected = mm1_wait(utilisation, 1.0)
    assert half < max_half_width * expected, f"interval too wide: {half:.4f} vs Wq {expected:.4f}"
    assert abs(mean - expected) <= half, f"Wq {mean:.4f} +- {half:.4f}, formula {expected:.4f}"


def test_utilisation_matches_offered_load():
    runs = replicate(8, 10, 1.0, 4_000, 6)
    mean, half = interval([r["web_utilisation"] for r in runs])
    assert abs(mean - 0.8) <= half and half < 0.01


def test_littles_law_holds_on_the_simulated_queue():
    # Sample-path Little's law: time-averaged queue length = arrival rate x mean wait, up to the
    # few requests still waiting when the run stops.
    summary = Simulation(queue(9, 10, 1.0, seed=3)).run(5_000)
    arrival_rate = summary["arrivals"] / summary["t_end_s"]
    assert summary["web_queue_length"] == pytest.approx(littles_law(arrival_rate, summary["web_wait_mean_s"]), rel=0.01)
    assert summary["web_queue_length"] > 1.0


def test_mm1_latency_median_matches_sojourn_law():
    # In M/M/1 the time in system is exponential with rate mu - lambda, so its median is
    # ln 2 / (mu - lambda): 2.31 s at rho = 0.7. The whole-run sketch must find it.
    summary = Simulation(queue(0.7, 1, 1.0, seed=5)).run(60_000)
    assert summary["latency_p50_s"] == pytest.approx(math.log(2) / 0.3, rel=0.05)
    assert summary["latency_p95_s"] == pytest.approx(math.log(20) / 0.3, rel=0.05)
