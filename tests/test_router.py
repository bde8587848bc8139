"""The LLM gateway: limits return 429s, retries and fallbacks move traffic, strategies pick as named."""

import pytest

from engine import ScenarioError, Simulation, parse_scenario
from tests.helpers import deep_merge

FAST = {"overhead_ms": 50, "itl_ms": 5, "prefill_tokens_per_s": 100_000}


def gateway(deployments, **router):
    """A bare web tier in front of an LLM gateway; 10 req/s of 1,000 + 100 tokens."""
    return parse_scenario({
        "traffic": {"rate_rps": 10, "client_timeout_s": None,
                    "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 100}},
        "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "router", "deployments": deployments, **router},
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
    assert summary["llm_429s"] > 0 and summary["llm_retries"] > 0
    assert summary["rate_limited"] == 0 and summary["failed"] == 0
    # The cheap deployment serves about what its limit allows; the rest moves to the dear one.
    # A full minute's bucket at the start, then 200,000 tokens a minute for 5 minutes.
    assert counts["cheap"] == pytest.approx((200_000 + 200_000 * 5) / 1100, rel=0.1)
    assert counts["dear"] > counts["cheap"]


def test_without_anywhere_to_go_users_get_the_429():
    sim = Simulation(gateway([hosted("only", limits={"requests_per_minute": 300})], retries=2))
    summary = sim.run(300)
    assert summary["rate_limited"] > 0.3 * summary["arrivals"]
    assert summary["completions"] == pytest.approx(300 + 300 / 60 * 300, rel=0.1)  # a full minute, then 5 a second
    # Retried calls waited out their back-off: the slowest answers took seconds, not 0.2 s.
    assert summary["latency_p99_s"] > 1.0 > summary["latency_p50_s"]


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
    sim.set_component_up("main-0", False)
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
    assert summary["completions"] == pytest.approx(60 + 60 / 60 * 120, rel=0.15)


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
    assert total("dear", "answered") > total("cheap", "answered") > 0
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
    assert summary["completions"] == pytest.approx(300 + 300 / 60 * 300, rel=0.1)  # the limit, fully used
    sim = Simulation(gateway([hosted("only", limits={"requests_per_minute": 300})], retries=2, **rested))
    sim.run(120)
    assert sim.llm.deployments["only"].cooldown_until == 0.0
