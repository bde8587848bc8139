"""Autoscaling: a spike raises latency first, replicas arrive after the warm-up, latency recovers."""

import pytest

from engine import ScenarioError, Simulation, parse_scenario
from tests.helpers import deep_merge

SCALING = {"min_replicas": 2, "max_replicas": 12, "target": 0.6, "evaluate_every_s": 15,
           "scale_down_cooldown_s": 120, "warmup_s": 60}


def tier(**changes):
    """Web replicas of 4 workers, 400 ms handlers, autoscaled; 8 req/s (40 % of two replicas)."""
    base = {
        "traffic": {"rate_rps": 8, "client_timeout_s": None,
                    "pattern": {"kind": "spike", "at_s": 300, "duration_s": 600, "multiplier": 4}},
        "load_balancer": {"algorithm": "least_connections"},
        "web": {"replicas": 2, "workers": 4, "accept_queue": None, "db_reads_per_request": 0,
                "db_writes_per_request": 0, "handler_ms": {"dist": "exponential", "mean_ms": 400},
                "autoscale": SCALING},
    }
    return parse_scenario(deep_merge(base, changes))


def first_time(windows, condition):
    """Return the end time of the first window meeting `condition`."""
    return next(w["t_end_s"] for w in windows if condition(w))


def test_a_spike_shows_the_scaling_lag():
    windows = Simulation(tier()).advance(1500)
    p95 = lambda start, end: max(w["latency_p95_s"] or 0 for w in windows[start:end])
    # Before the spike two replicas are enough.
    assert {w["web_replicas_ready"] for w in windows[200:300]} == {2}
    # The spike (32 req/s, 12.8 Erlangs on 8 workers) overloads them: latency climbs at once ...
    overloaded = first_time(windows[300:], lambda w: (w["latency_p95_s"] or 0) > 2.0)
    # ... replicas are launched at the next evaluation, billed at once, ready a warm-up later ...
    launched = first_time(windows[300:], lambda w: w["web_replicas"] > 2)
    ready = first_time(windows[300:], lambda w: w["web_replicas_ready"] > 2)
    assert overloaded < ready and launched <= 300 + 15 + 1 and ready - launched >= 59  # next evaluation, then warm-up
    # ... and once enough are ready, latency recovers while the spike goes on.
    recovered = first_time(windows[int(ready):], lambda w: (w["latency_p95_s"] or 99) < 2.0)
    assert recovered < 600
    assert p95(700, 900) < 0.2 * p95(300, 400)
    assert max(w["web_replicas"] for w in windows) <= 12
    # After the spike the tier shrinks back, but not before the cooldown.
    assert windows[-1]["web_replicas"] < max(w["web_replicas"] for w in windows)
    assert first_time(windows[900:], lambda w: w["web_replicas"] < windows[899]["web_replicas"]) >= 900 + 15


def test_warming_replicas_are_billed():
    fixed = Simulation(tier(web={"autoscale": None}, traffic={"pattern": {"multiplier": 4}})).run(900)
    scaled = Simulation(tier()).run(900)
    assert scaled["usd_infra"] > fixed["usd_infra"]


def test_the_tier_never_leaves_its_bounds():
    windows = Simulation(tier(traffic={"pattern": {"multiplier": 20}})).advance(900)
    assert max(w["web_replicas"] for w in windows) == 12
    quiet = Simulation(tier(traffic={"rate_rps": 0.1})).advance(900)
    assert min(w["web_replicas"] for w in quiet) == 2


@pytest.mark.parametrize("change, message", [
    ({"web": {"autoscale": {"min_replicas": 5, "max_replicas": 3}}}, "web.autoscale: min_replicas (5) must not exceed"),
    ({"web": {"replicas": 20}}, "web.replicas: 20 is not allowed: must be within autoscale's 2 to 12"),
    ({"web": {"autoscale": {"target": 0}}}, "web.autoscale.target: 0 is not allowed"),
    ({"web": {"autoscale": {"metric": "cpu"}}}, "web.autoscale.metric: 'cpu' is not allowed"),
    ({"load_balancer": None, "web": {"replicas": 1, "autoscale": {"min_replicas": 1}}},
     "web.autoscale: is not allowed without a load_balancer"),
])
def test_bad_autoscaling_is_refused(change, message):
    data = deep_merge(tier().model_dump(mode="json"), change)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems
