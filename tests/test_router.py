"""The LLM gateway: limits return 429s, retries and fallbacks move traffic, strategies pick as named."""

import pytest

from engine import ScenarioError, Simulation, parse_scenario
from tests.helpers import deep_merge

FAST = {"overhead_ms": 50, "itl_ms": 5, "prefill_tokens_per_s": 100_000}


def gateway(deployments, rate_rps=10, max_output_tokens=100, **router):
    """A bare web tier in front of an LLM gateway; 10 req/s of 1,000 + 100 tokens, max_tokens 100."""
    return parse_scenario({
        "traffic": {"rate_rps": rate_rps, "client_timeout_s": None,
                    "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 100}},
        "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "router", "deployments": deployments, **router},
        "token_limits": {"max_output_tokens": max_output_tokens},
    })


def hosted(name, **fields):
    """A hosted deployment with fast defaults."""
    return {"kind": "hosted", "name": name, **FAST, **fields}


def calls_per_deployment(sim, seconds):
    """Run and return how many calls each deployment started."""
    counts = {name: 0 for name in sim.llm.deployments}
    for name, deployment in sim.llm.deployments.items():
        call = deployment.model.call

        def counted(request, name=name, call=call):
            counts[name] += 1
            call(request)

        deployment.model.call = counted
    summary = sim.run(seconds)
    return counts, summary


def test_a_tpm_limit_returns_429s_and_the_fallback_takes_the_rest():
    # 10 req/s x 1,100 tokens = 660,000 TPM wanted; the cheap deployment allows 200,000.
    sim = Simulation(gateway([hosted("cheap", price_input_per_m_usd=0.15, price_output_per_m_usd=0.6,
                                      limits={"tokens_per_minute": 200_000}),
                              hosted("dear")], strategy="cost-based", fallbacks=["dear"]))
    counts, summary = calls_per_deployment(sim, 300)
    sim.controls.set_arrival_rate(1e-6)
    summary = sim.run(200)  # the calls still waiting for a retry-after (up to the next minute) finish
    assert summary["in_flight"] == 0
    assert summary["llm_429s"] > 0 and summary["llm_retries"] > 0
    assert summary["rate_limited"] == 0 and summary["failed"] == 0
    # The cheap deployment serves what its limit allows, 200,000 tokens in each of the 5 minutes
    # (1,100 counted per call); the rest moves to the dear one once its retries are spent.
    assert counts["cheap"] == pytest.approx(7 * (200_000 // 1100), rel=0.02)  # 5 minutes, and 2 to drain
    assert counts["dear"] > counts["cheap"]


def test_without_anywhere_to_go_users_get_the_429():
    sim = Simulation(gateway([hosted("only", limits={"requests_per_minute": 300})], retries=2))
    summary = sim.run(300)
    assert summary["rate_limited"] > 0.3 * summary["arrivals"]
    assert summary["completions"] == pytest.approx(300 / 60 * 300, rel=0.1)  # 5 in any one second, no minute's burst
    # Retried calls waited out their back-off: the slowest answers took seconds, not 0.2 s.
    assert summary["latency_p99_s"] > 1.0


def test_simple_shuffle_follows_the_weights():
    sim = Simulation(gateway([hosted("a", weight=3), hosted("b", weight=1)]))
    counts, _ = calls_per_deployment(sim, 300)
    assert counts["a"] / (counts["a"] + counts["b"]) == pytest.approx(0.75, abs=0.03)


def test_cost_based_sends_everything_to_the_cheapest():
    sim = Simulation(gateway([hosted("dear"), hosted("cheap", price_input_per_m_usd=0.1)], strategy="cost-based"))
    counts, _ = calls_per_deployment(sim, 60)
    assert counts == {"dear": 0, "cheap": pytest.approx(600, rel=0.15)}


def test_latency_based_prefers_the_faster_deployment():
    sim = Simulation(gateway([hosted("slow", itl_ms=50), hosted("quick", itl_ms=5)], strategy="latency-based"))
    counts, _ = calls_per_deployment(sim, 120)
    assert counts["quick"] > 10 * counts["slow"] > 0


def test_least_busy_and_usage_based_spread_the_load():
    for strategy in ("least-busy", "usage-based"):
        limits = {"tokens_per_minute": 400_000}  # each could take 6 of the 10 calls a second
        sim = Simulation(gateway([hosted("a", limits=limits), hosted("b", limits=limits)], strategy=strategy))
        counts, summary = calls_per_deployment(sim, 120)
        assert counts["a"] == pytest.approx(counts["b"], rel=0.2), strategy
        assert summary["llm_429s"] == 0


def test_an_outage_moves_calls_to_the_other_deployment():
    sim = Simulation(gateway([hosted("main"), hosted("spare", weight=0.01)], fallbacks=["spare"],
                             ))
    sim.advance(30)
    sim.controls.set_component_up("main-0", False)
    counts, summary = calls_per_deployment(sim, 60)
    assert counts["main"] == 0 and counts["spare"] > 500
    assert summary["failed"] == 0


@pytest.mark.parametrize("router, message", [
    ({"deployments": [hosted("a"), hosted("a")]}, "llm.deployments: 'a' is not allowed twice"),
    ({"deployments": [hosted("a")], "fallbacks": ["b"]}, "llm.fallbacks: 'b' is not allowed: choose one of a"),
    ({"deployments": []}, "llm.deployments: [] is not allowed"),
    ({"deployments": [hosted("a")], "strategy": "fastest"}, "llm.strategy: 'fastest' is not allowed"),
    ({"deployments": [hosted("A b")]}, "llm.deployments.0.name: 'A b' is not allowed"),
    ({"deployments": [hosted("a", limits={"tokens_per_minute": 0})]},
     "llm.deployments.0.limits.tokens_per_minute: 0 is not allowed"),
])
def test_bad_gateways_are_refused(router, message):
    data = deep_merge(gateway([hosted("x")]).model_dump(mode="json"), {"llm": {"kind": "router", **router}})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems


def test_failures_name_a_deployment_replica():
    scenario = gateway([hosted("main")]).model_dump(mode="json")
    scenario["failures"] = [{"at_s": 1, "component": "llm-0"}]
    with pytest.raises(ScenarioError, match="failures.0.component: 'llm-0' is not allowed: choose one of web-0, main-0"):
        parse_scenario(scenario)


def test_limits_on_a_single_deployment_are_enforced_too():
    scenario = gateway([hosted("x")]).model_dump(mode="json")
    scenario["llm"] = hosted("llm", limits={"requests_per_minute": 60})
    summary = Simulation(parse_scenario(scenario)).run(120)
    assert summary["llm_429s"] > 0
    assert summary["completions"] == pytest.approx(60 / 60 * 120, rel=0.15)  # one in any second


def test_each_window_reports_every_deployment():
    sim = Simulation(gateway([hosted("cheap", price_input_per_m_usd=0.15, price_output_per_m_usd=0.6,
                                      limits={"tokens_per_minute": 200_000}),
                              hosted("dear")], strategy="cost-based", fallbacks=["dear"]))
    windows = sim.advance(300)
    summary = sim.summary()
    total = lambda name, key: sum(w["deployments"][name][key] for w in windows)
    assert total("cheap", "llm_429s") + total("dear", "llm_429s") == summary["llm_429s"] > 0
    assert total("cheap", "usd_tokens") + total("dear", "usd_tokens") == pytest.approx(summary["usd_tokens"])
    assert total("cheap", "input_tokens") + total("dear", "input_tokens") == summary["input_tokens"]
    assert total("dear", "answered") > 0 and total("cheap", "answered") > 0
    answered = [w["deployments"]["dear"]["latency_mean_s"] for w in windows if w["deployments"]["dear"]["answered"]]
    assert all(0.05 < latency < 1.0 for latency in answered)
    assert summary["deployments"] is None


def test_monthly_cost_extrapolates_the_current_rate():
    scenario = gateway([hosted("x")]).model_dump(mode="json")
    scenario["traffic"]["rate_rps"] = 1e-6
    summary = Simulation(parse_scenario(scenario)).run(3600)
    assert summary["usd_per_month"] == pytest.approx(0.2016 * 24 * 30)  # one medium web replica


def test_provider_errors_are_retried_and_fall_back():
    sim = Simulation(gateway([hosted("flaky", error_rate=0.3), hosted("steady", weight=0.001)],
                             fallbacks=["steady"], cooldown_s=0))
    counts, summary = calls_per_deployment(sim, 120)
    # 30 % of calls to the flaky provider fail; with two retries and a fallback almost none reach users.
    assert summary["llm_retries"] == pytest.approx(0.3 * counts["flaky"], rel=0.15)
    assert summary["failed"] <= 0.01 * summary["arrivals"]
    assert counts["steady"] > 0


def test_a_full_outage_without_a_fallback_fails_every_request():
    summary = Simulation(gateway([hosted("down", error_rate=1.0)], retries=1, backoff_base_s=0.1)).run(60)
    assert summary["failed"] == summary["arrivals"] - summary["in_flight"] > 0
    assert summary["completions"] == 0


def test_a_lone_deployment_is_never_rested_so_a_retry_tries_it_again():
    # With a cooldown, every call in the 5 s after a 429 would be refused untried; LiteLLM does not
    # rest the only deployment, so a retry after its back-off finds the bucket refilled a little.
    rested = {"cooldown_s": 60.0}
    summary = Simulation(gateway([hosted("only", limits={"requests_per_minute": 300})], retries=2, **rested)).run(300)
    assert summary["llm_429s"] > 0
    assert summary["completions"] == pytest.approx(300 / 60 * 300, rel=0.1)  # the limit, fully used
    sim = Simulation(gateway([hosted("only", limits={"requests_per_minute": 300})], retries=2, **rested))
    sim.run(120)
    assert sim.llm.deployments["only"].cooldown_until == 0.0


def _429s_in_first_seconds(enforcement, seconds=5):
    """A burst of 30 req/s at a deployment allowed 600 RPM: the 429s of its first `seconds`."""
    limits = {"requests_per_minute": 600, **({"enforcement": enforcement} if enforcement else {})}
    sim = Simulation(gateway([hosted("only", limits=limits)], rate_rps=30))
    return sum(w["llm_429s"] for w in sim.advance(seconds))


def test_a_sub_window_quota_refuses_a_burst_that_a_whole_minute_would_let_through():
    # 150 requests in 5 s is a quarter of the minute's 600, but Azure counts requests per second:
    # more than 10 in one second get a 429 (learn.microsoft.com quota docs). This is the default.
    assert _429s_in_first_seconds(None) > 50
    assert _429s_in_first_seconds("azure_windows") > 50
    assert _429s_in_first_seconds("per_minute") == 0
    assert _429s_in_first_seconds("token_bucket") == 0


def test_a_429s_retry_after_is_the_start_of_the_next_window():
    from engine.limits import FixedWindow
    per_second = FixedWindow(10, 1.0)
    assert all(per_second.try_take(1, 4.3) for _ in range(10))
    assert not per_second.try_take(1, 4.3)
    assert per_second.seconds_until(1, 4.3) == pytest.approx(0.7)  # the next second
    assert per_second.try_take(1, 5.0)                               # a new second, a new count
    per_minute = FixedWindow(100_000, 60.0)
    assert per_minute.try_take(90_000, 12.0)
    assert per_minute.seconds_until(20_000, 12.0) == pytest.approx(48.0)  # the next minute
    assert per_minute.seconds_until(200_000, 12.0) == float("inf")      # never fits
    per_minute.give_back(50_000, 13.0)                                  # a count keeps what arrived
    assert per_minute.seconds_until(20_000, 13.0) == pytest.approx(47.0)


@pytest.mark.parametrize("max_output_tokens, reserved", [(None, 1000 + 16_384), (500, 1000 + 500)])
def test_tpm_admission_counts_max_tokens_not_the_answer(max_output_tokens, reserved):
    # Each call writes 100 tokens, but the provider cannot know that when it arrives: it counts the
    # prompt plus max_tokens, or the model's longest answer when max_tokens is not set.
    sim = Simulation(gateway([hosted("only", limits={"tokens_per_minute": 100_000})], rate_rps=2,
                             max_output_tokens=max_output_tokens, retries=0))
    counts, summary = calls_per_deployment(sim, 120)
    assert counts["only"] == 2 * (100_000 // reserved)  # two minutes' counts
    assert summary["rate_limited"] > 0


def test_a_token_bucket_gives_back_what_a_fixed_count_keeps():
    # 1 req/s of 1,000 prompt tokens reserving 1,000 more for the answer, which is 100 long:
    # 2,000 counted per call is over 66,000 a minute, 1,100 used is not.
    def refused(enforcement):
        limits = {"tokens_per_minute": 66_000, "enforcement": enforcement}
        return Simulation(gateway([hosted("only", limits=limits)], rate_rps=1, max_output_tokens=1000,
                                  retries=0)).run(600)["rate_limited"]
    assert refused("token_bucket") == 0
    assert refused("per_minute") > 100
    assert refused("azure_windows") > 100


def _router(**fields):
    """A gateway of two healthy deployments (a group LiteLLM may rest), not yet run."""
    return Simulation(gateway([hosted("a"), hosted("b")], **fields)).llm


def test_one_failed_call_alone_does_not_rest_a_deployment():
    router = _router()
    a = router.deployments["a"]
    router._failed(a, 1.0, refused=False)
    assert a.cooldown_until == 0.0  # the minute's only call: LiteLLM rests nothing
    for t in (2.0, 3.0, 4.0):
        router._failed(a, t, refused=False)
    assert a.cooldown_until == 0.0  # 4 of 4 failed, but fewer than 5 calls
    router._failed(a, 5.0, refused=False)
    assert a.cooldown_until == pytest.approx(10.0)  # 5 of 5: more than half of at least 5


def test_a_deployment_is_rested_when_more_than_half_of_the_minutes_calls_failed():
    router = _router()
    a = router.deployments["a"]
    for t in (1.0, 2.0, 3.0):
        a.count(False, t)
    for t in (4.0, 5.0, 6.0):
        router._failed(a, t, refused=False)
    assert a.cooldown_until == 0.0  # 3 of 6: half is not more than half
    router._failed(a, 7.0, refused=False)
    assert a.cooldown_until == pytest.approx(12.0)  # 4 of 7
    for t in (61.0, 62.0, 63.0, 64.0):
        router._failed(a, t, refused=False)
    assert a.cooldown_until == pytest.approx(12.0)  # a new minute counts afresh: 4 calls are too few


def test_a_429_rests_a_deployment_at_once_unless_it_is_alone():
    router = _router()
    router._failed(router.deployments["a"], 1.0, refused=True)
    assert router.deployments["a"].cooldown_until == pytest.approx(6.0)
    lone = Simulation(gateway([hosted("only")])).llm
    lone._failed(lone.deployments["only"], 1.0, refused=True)
    assert lone.deployments["only"].cooldown_until == 0.0


def test_allowed_fails_rests_a_deployment_when_its_failures_exceed_it():
    router = _router(allowed_fails=2)
    a = router.deployments["a"]
    router._failed(a, 1.0, refused=True)
    router._failed(a, 2.0, refused=False)
    assert a.cooldown_until == 0.0  # 2 failures are allowed, a 429 among them
    router._failed(a, 3.0, refused=False)
    assert a.cooldown_until == pytest.approx(8.0)
    b = router.deployments["b"]
    for t in (10.0, 16.0, 22.0):  # each more than cooldown_s after the last: the count starts again
        router._failed(b, t, refused=False)
    assert b.cooldown_until == 0.0


def test_fallbacks_take_no_traffic_while_the_primary_group_answers():
    sim = Simulation(gateway([hosted("main"), hosted("spare")], fallbacks=["spare"]))
    counts, summary = calls_per_deployment(sim, 60)
    assert counts["spare"] == 0 and counts["main"] == summary["completions"] + summary["in_flight"] > 500
    assert summary["llm_fallbacks"] == 0


def test_every_deployment_a_fallback_is_refused():
    data = deep_merge(gateway([hosted("x")]).model_dump(mode="json"),
                      {"llm": {"kind": "router", "deployments": [hosted("a")], "fallbacks": ["a"]}})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(line.startswith("llm.fallbacks: is not allowed to name every deployment") for line in info.value.problems)
