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


def test_self_hosted_llm_replicas_scale_with_their_batch_slots():
    scenario = parse_scenario({
        "traffic": {"rate_rps": 2, "client_timeout_s": None,
                    "pattern": {"kind": "spike", "at_s": 120, "duration_s": 900, "multiplier": 4},
                    "tokens": {"kind": "fixed", "prompt_tokens": 500, "output_tokens": 200}},
        "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "self_hosted", "replicas": 1, "max_batch": 16,
                "autoscale": {"min_replicas": 1, "max_replicas": 6, "target": 0.7,
                              "warmup_s": 120, "scale_down_cooldown_s": 120}},
    })
    windows = Simulation(scenario).advance(1300)
    # 8 calls/s of 200 tokens need several replicas' 16 slots: calls queue for slots ...
    assert max(w["llm_queue_length"] or 0 for w in windows[120:450]) > 100
    # ... replicas are added step by step (a saturated metric asks for at most 1/0.7 more each
    # time), each a model-load warm-up after its launch ...
    launched = [w["t_end_s"] for w, before in zip(windows[1:], windows) if w["llm_replicas"] > before["llm_replicas"]]
    ready = [w["t_end_s"] for w, before in zip(windows[1:], windows)
             if w["llm_replicas_ready"] > before["llm_replicas_ready"]]
    assert len(launched) >= 3 and min(ready) - min(launched) >= 119
    assert max(w["llm_replicas"] for w in windows) == 6
    # ... the backlog drains and latency returns to an unqueued answer's, while the spike goes on ...
    p95 = lambda start, end: max(w["latency_p95_s"] or 0 for w in windows[start:end])
    assert p95(600, 1000) < 0.2 * p95(200, 450)
    # ... and after the spike the replicas go, stabilised over the cooldown window.
    assert windows[-1]["llm_replicas"] < 6


def test_llm_replicas_must_lie_within_their_bounds():
    with pytest.raises(ScenarioError, match="llm.replicas: 9 is not allowed: must be within autoscale's 1 to 4"):
        parse_scenario({"traffic": {"rate_rps": 1}, "web": {"db_reads_per_request": 0, "db_writes_per_request": 0},
                        "llm": {"kind": "self_hosted", "replicas": 9, "autoscale": {"max_replicas": 4}}})
