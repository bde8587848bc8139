"""Client retries: a failed request is sent again, within its attempts and its budget, and feeds an overload."""

import pytest

from engine import ScenarioError, Simulation
from engine.retries import RetryPolicy
from engine.scenario import Retries
from tests.helpers import scenario

# One server of 8 workers, 100 ms of CPU each (80 req/s at most), clients who give up after 2 s, and
# traffic in waves of +-25 % a minute around `rate`: the overload lesson's server.
SERVER = {"replicas": 1, "workers": 8, "cores": 8, "accept_queue": None,
          "handler_ms": {"dist": "exponential", "mean_ms": 100}}


def waves(rate: float, **traffic) -> dict:
    """The lesson's traffic at `rate` req/s on average, changed by `traffic`."""
    return {"rate_rps": rate, "client_timeout_s": 2.0,
            "pattern": {"kind": "diurnal", "period_s": 60, "amplitude": 0.25}, **traffic}


def measured(scn, warmup_s: float = 60, seconds: float = 180) -> dict:
    """Return the summary of `seconds` after a warm-up."""
    sim = Simulation(scn)
    sim.run(warmup_s)
    sim.restart_summary()
    return sim.run(seconds)


def test_retries_change_nothing_while_nothing_fails():
    calm = {"rate_rps": 40, "client_timeout_s": 2.0}
    without = measured(scenario(traffic=calm, web=SERVER))
    with_retries = measured(scenario(traffic={**calm, "retries": {"max_attempts": 3}}, web=SERVER))
    assert with_retries["retries"] == 0
    assert with_retries == without


def test_retries_turn_a_brief_overload_into_a_lasting_one():
    """At 90 % load on average, the peaks of each wave time a few clients out. Retried, those timeouts
    are more load at the peak, so more time out: the server ends up busy all the time on requests
    whose clients have left, and almost nothing is answered (a metastable failure)."""
    without = measured(scenario(traffic=waves(72), web=SERVER))
    storm = measured(scenario(traffic=waves(72, retries={"max_attempts": 3}), web=SERVER))
    assert storm["arrivals"] == without["arrivals"]  # the same users, the same requests
    assert 0.02 < without["error_rate"] < 0.25
    assert storm["error_rate"] > 0.7
    assert storm["throughput_rps"] < 0.3 * without["throughput_rps"]
    assert storm["web_utilisation"] > 0.97  # busy, on work nobody waits for any more
    assert storm["retries"] > storm["arrivals"]  # the server meets more retries than new requests


def test_a_retry_budget_stops_the_storm():
    without = measured(scenario(traffic=waves(72), web=SERVER))
    budgeted = measured(scenario(traffic=waves(72, retries={"max_attempts": 3, "budget": {}}), web=SERVER))
    assert budgeted["error_rate"] < 1.5 * without["error_rate"] < 0.4
    assert budgeted["retries"] < 0.02 * budgeted["arrivals"]


def test_shedding_load_at_a_short_queue_keeps_answers_fast_even_with_retries():
    storm = measured(scenario(traffic=waves(72, retries={"max_attempts": 3}), web=SERVER))
    shed = measured(scenario(traffic=waves(72, retries={"max_attempts": 3}), web={**SERVER, "accept_queue": 16}))
    assert shed["error_rate"] < 0.1 * storm["error_rate"]
    assert shed["latency_p95_s"] < 1.0 < storm["latency_p95_s"]
    assert shed["retries"] > 0  # refused requests are retried, and most of them then get in


def test_a_request_is_tried_at_most_max_attempts_times():
    down = scenario(traffic={"rate_rps": 20, "retries": {"max_attempts": 3, "backoff_s": 0.1, "max_backoff_s": 0.2}},
                    web={"replicas": 1}, failures=[{"at_s": 0, "component": "web-0"}])
    summary = Simulation(down).run(60)
    assert summary["failed"] > 1000 and summary["completions"] == 0
    # every finished request failed three times; those still between attempts have at most two retries so far
    assert 2 * summary["failed"] <= summary["retries"] <= 2 * (summary["failed"] + summary["in_flight"])


def test_the_budget_allows_retries_only_while_more_than_half_its_tokens_are_left():
    """gRPC's rule: 10 tokens, each failure takes one, a retry needs more than 5 left. With nothing ever
    answered, the first four failures are retried and then none, however many follow."""
    down = scenario(traffic={"rate_rps": 20, "retries": {"max_attempts": 3, "budget": {"max_tokens": 10}}},
                    web={"replicas": 1}, failures=[{"at_s": 0, "component": "web-0"}])
    summary = Simulation(down).run(60)
    assert summary["retries"] == 4


def test_latency_is_what_the_user_waited_across_attempts():
    """A request refused at a full queue and answered on its second try counts from its first try."""
    tiny = {**SERVER, "workers": 1, "cores": 1, "accept_queue": 0, "handler_ms": {"dist": "constant", "value_ms": 100}}
    retried = measured(scenario(traffic={"rate_rps": 3, "client_timeout_s": None,
                                         "retries": {"max_attempts": 10, "backoff_s": 2.0, "max_backoff_s": 2.0}},
                                web=tiny))
    assert retried["retries"] > 0 and retried["error_rate"] < 0.01
    assert retried["latency_p99_s"] > 0.5  # a retry waited up to 2 s: the answer took that long for its user
    assert retried["latency_p50_s"] == pytest.approx(0.1, abs=0.01)  # most got in first time


def test_the_back_off_is_a_uniform_draw_below_a_cap_that_doubles():
    policy = RetryPolicy(Retries(max_attempts=10, backoff_s=0.5, max_backoff_s=3.0), seed=1)
    for attempt, cap in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)):
        waits = [policy.retry_after(attempt) for _ in range(2000)]
        assert max(waits) < cap and max(waits) > 0.95 * cap
        assert sum(waits) / len(waits) == pytest.approx(cap / 2, rel=0.05)
    assert policy.retry_after(10) is None


def test_retries_are_validated_at_the_door():
    with pytest.raises(ScenarioError, match="max_attempts"):
        scenario(traffic={"rate_rps": 1, "retries": {"max_attempts": 1}})
    with pytest.raises(ScenarioError, match="token_ratio"):
        scenario(traffic={"rate_rps": 1, "retries": {"budget": {"token_ratio": 2}}})


def test_retries_and_their_budget_are_live_controls_acting_from_the_moment_they_are_set():
    """The lesson's path: retries turned on in a calm trough start a storm at the next crest; the budget,
    turned on in the middle of the storm, ends it within a wave."""
    sim = Simulation(scenario(traffic=waves(72), web=SERVER))
    calm = sim.advance(60)
    sim.controls.set_client_retries(2)
    assert sim.controls.settings()["client_retries"] == 2 and sim.controls.settings()["retry_budget"] == "off"
    storm = sim.advance(120)
    sim.controls.set_retry_budget("on")
    sim.advance(60)  # a wave for the backlog to clear
    after = sim.advance(120)

    def error_rate(windows):
        errors = sum(w["errors"] for w in windows)
        return errors / (errors + sum(w["completions"] for w in windows))

    assert sum(w["retries"] for w in calm) == 0
    assert error_rate(storm[60:]) > 0.7 and sum(w["retries"] for w in storm) > 1000
    assert error_rate(after) < 0.25
    sim.controls.set_client_retries(0)
    assert sim.controls.settings()["retry_budget"] is None and sim.retries is None


def test_the_retry_controls_refuse_what_they_cannot_do():
    sim = Simulation(scenario(traffic=waves(72), web=SERVER))
    with pytest.raises(ValueError, match=r"traffic.retries: 10 is not allowed"):
        sim.controls.set_client_retries(10)
    with pytest.raises(ValueError, match=r"traffic.retries.budget: is not allowed while clients do not retry"):
        sim.controls.set_retry_budget("on")
    sim.controls.set_client_retries(1)
    with pytest.raises(ValueError, match=r"traffic.retries.budget: 'maybe' is not allowed: choose off or on"):
        sim.controls.set_retry_budget("maybe")
