"""The LLM backend: TTFT and decode time follow the latency model, batching slows tokens, a full batch queues."""

import pytest

from engine import Budget, Simulation
from tests.helpers import scenario

ONE_REQUEST = {"client_timeout_s": None, "rate_rps": 1e-9,
               "tokens": {"kind": "fixed", "prompt_tokens": 5000, "output_tokens": 500}}
INSTANT_WEB = {"handler_ms": {"dist": "constant", "value_ms": 0}}


def llm_sim(llm: dict, prompt=5000, output=500) -> Simulation:
    """A simulation with an instant web tier in front of the given LLM and no traffic of its own."""
    scn = scenario(traffic={**ONE_REQUEST, "tokens": {"kind": "fixed", "prompt_tokens": prompt, "output_tokens": output}},
                   web={**INSTANT_WEB, "workers": 1000, "accept_queue": None}, llm=llm)
    return Simulation(scn)


def inject(sim: Simulation, count: int) -> None:
    """Make `count` requests arrive at the current simulated time."""
    for _ in range(count):
        sim._arrive(sim.scenario.traffic.tokens.prompt_tokens, sim.scenario.traffic.tokens.output_tokens, 0)


def test_one_request_follows_the_reference_latency_model():
    # NIM Llama-3.3-70B, 5000 in / 500 out, concurrency 1: TTFT = overhead + 5000 / 12,500 tok/s,
    # end-to-end = TTFT + 499 x 18.6 ms.
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 7})
    inject(sim, 1)
    summary = sim.run(30)
    assert summary["ttft_mean_s"] == pytest.approx(0.007 + 5000 / 12_500)
    assert summary["latency_mean_s"] == pytest.approx(0.007 + 0.4 + 499 * 0.0186)


def test_batching_grows_inter_token_latency():
    # 25 sequences decoding together: ITL(25) = 18.6 x (1 + 0.045 x 24) ms = 38.7 ms (NIM: 38.8 ms at 25).
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8}, prompt=10, output=501)
    inject(sim, 25)
    summary = sim.run(60)
    assert summary["completions"] == 25
    assert summary["latency_mean_s"] == pytest.approx(500 * 0.0186 * (1 + 0.045 * 24), rel=1e-4)
    assert summary["llm_batch_mean"] > 0


def test_a_full_batch_makes_new_requests_wait_for_a_slot():
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "max_batch": 4, "prefill_tokens_per_s": 1e8,
                   "itl_growth_per_sequence": 0}, prompt=10, output=101)
    inject(sim, 8)
    summary = sim.run(60)
    one_answer = 100 * 0.0186
    # Whole-run percentiles come from a DDSketch with 0.5 % relative accuracy.
    assert summary["latency_p50_s"] == pytest.approx(one_answer, rel=0.005)
    assert summary["latency_p99_s"] == pytest.approx(2 * one_answer, rel=0.005)
    assert summary["latency_mean_s"] == pytest.approx(1.5 * one_answer, rel=1e-6)
    assert summary["llm_wait_mean_s"] == pytest.approx(one_answer / 2, rel=1e-6)


def test_prefill_is_served_one_prompt_at_a_time_per_replica():
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0}, prompt=12_500, output=1)
    inject(sim, 3)
    summary = sim.run(30)
    assert summary["ttft_mean_s"] == pytest.approx((1 + 2 + 3) / 3)


def test_more_replicas_share_the_load():
    one = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "max_batch": 2}, prompt=10, output=101)
    two = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "max_batch": 2, "replicas": 2}, prompt=10, output=101)
    inject(one, 4)
    inject(two, 4)
    assert two.run(30)["latency_p99_s"] < 0.6 * one.run(30)["latency_p99_s"]


def test_hosted_api_pace_does_not_depend_on_load():
    sim = llm_sim({"kind": "hosted"}, prompt=1000, output=101)
    inject(sim, 200)
    summary = sim.run(30)
    assert summary["latency_mean_s"] == pytest.approx(0.3 + 1000 / 12_500 + 100 * 0.0186)
    assert summary["latency_p99_s"] == pytest.approx(summary["latency_mean_s"], rel=0.01)  # sketch: 0.5 % error
    assert summary["usd_tokens"] == pytest.approx(200 * (1000 * 2.5 + 101 * 10) / 1e6)


def test_llm_down_fails_requests():
    sim = llm_sim({"kind": "self_hosted", "replicas": 1})
    sim.set_component_up("llm-0", False)
    inject(sim, 3)
    assert sim.run(10)["failed"] == 3


def test_a_request_joining_mid_decode_slows_both():
    # ITL 10 ms alone, 15 ms with two (growth 0.5). A needs 100 tokens after its first; B joins at
    # 0.5 s needing 25. By 0.5 s A has 50 left; both then run at 15 ms: B ends at 0.875 s, and A,
    # alone again for its last 25 tokens, at 1.125 s.
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8, "itl_ms": 10,
                   "itl_growth_per_sequence": 0.5}, prompt=0, output=101)
    sim._arrive(0, 101, 0)
    sim.advance(0.5)
    sim._arrive(0, 26, 0)
    summary = sim.run(5)
    assert summary["completions"] == 2
    assert summary["latency_mean_s"] == pytest.approx((1.125 + 0.375) / 2, rel=1e-6)


def test_a_long_run_with_a_fast_model_finishes():
    # A token clock that only grows loses precision: after days of decoding, a fixed tolerance
    # could leave the finishing sequence a hair short forever (the step never returned).
    scn = scenario(duration_s=604_800, window_s=60,
                   traffic={"rate_rps": 0.005, "client_timeout_s": None,
                            "tokens": {"kind": "fixed", "prompt_tokens": 10, "output_tokens": 3000}},
                   web={"workers": 1000, "accept_queue": None}, llm={"kind": "hosted"})
    summary = Simulation(scn, Budget(max_wall_s=30)).run()
    assert summary["completions"] == pytest.approx(0.005 * 604_800, rel=0.05)
    assert summary["in_flight"] <= 2


def test_batch_mean_weighs_replicas_by_the_time_they_existed():
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8}, prompt=0, output=1000)
    inject(sim, 10)
    sim.advance(0.999)
    sim.set_llm_replicas(10)  # nine idle replicas alive for the last millisecond of the window
    window = sim.advance(0.001)[0]
    # Ten sequences decode on llm-0 all window long; replica-seconds are 1 + 9 x 0.001.
    assert window["llm_batch_mean"] == pytest.approx(10 / (1 + 9 * 0.001), rel=1e-6)


def test_a_prompt_cache_skips_prefill_and_bills_cached_tokens_cheaper():
    plain = llm_sim({"kind": "hosted", "overhead_ms": 0})
    cached = llm_sim({"kind": "hosted", "overhead_ms": 0, "prompt_cache_share": 0.6})
    inject(plain, 1)
    inject(cached, 1)
    plain, cached = plain.run(30), cached.run(30)
    # 5,000 prompt tokens: 3,000 come from the cache, so only 2,000 are prefilled.
    assert plain["ttft_mean_s"] - cached["ttft_mean_s"] == pytest.approx(3000 / 12_500)
    assert cached["cached_input_tokens"] == 3000 and plain["cached_input_tokens"] == 0
    assert cached["usd_tokens"] == pytest.approx((2000 * 2.50 + 3000 * 1.25 + 500 * 10.00) / 1e6)
    assert plain["usd_tokens"] == pytest.approx((5000 * 2.50 + 500 * 10.00) / 1e6)
