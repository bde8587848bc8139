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


# The self-hosted defaults (engine/scenario_llm.py): an iteration takes ITL_S + KV_S x (KV tokens of the
# decoding sequences) + (prefill tokens in it) / PREFILL; BUDGET tokens per iteration.
ITL_S, KV_S, PREFILL, BUDGET = 0.01847, 24.5e-9, 13_500, 8192


def test_one_request_follows_the_reference_latency_model():
    # NIM Llama-3.3-70B, 5000 in / 500 out, concurrency 1. The prompt is read in iterations of the
    # whole budget: 5,000 tokens take 5000 / 8192 of an iteration of ITL_S + 8192 / PREFILL. Then
    # each of the other 499 tokens takes ITL_S + 5,500 tokens of KV read = 18.6 ms.
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 7})
    inject(sim, 1)
    summary = sim.run(30)
    prefill = 5000 / BUDGET * (ITL_S + BUDGET / PREFILL)
    assert summary["ttft_mean_s"] == pytest.approx(0.007 + prefill)
    assert summary["latency_mean_s"] == pytest.approx(0.007 + prefill + 499 * (ITL_S + 5500 * KV_S))
    assert 499 * (ITL_S + 5500 * KV_S) / 499 == pytest.approx(0.0186, rel=0.001)


def test_batching_grows_inter_token_latency_with_the_kv_cache_read():
    # 25 short sequences decoding together read 25 x 511 KV tokens per step: 18.78 ms instead of
    # 18.48 (decode is bound by reading the weights; the KV cache adds to it).
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8}, prompt=10, output=501)
    inject(sim, 25)
    summary = sim.run(60)
    assert summary["completions"] == 25
    assert summary["latency_mean_s"] == pytest.approx(500 * (ITL_S + 25 * 511 * KV_S), rel=1e-3)
    assert summary["llm_batch_mean"] > 0


def test_longer_contexts_slow_every_decode_step():
    # The same 25 sequences with 5,000-token prompts: 25 x 5,500 KV tokens per step, 21.8 ms.
    short = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8}, prompt=10, output=501)
    long = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8}, prompt=5000, output=501)
    inject(short, 25)
    inject(long, 25)
    short, long = short.run(60), long.run(60)
    decode = long["latency_mean_s"] - long["ttft_mean_s"]
    assert decode == pytest.approx(500 * (ITL_S + 25 * 5500 * KV_S), rel=2e-3)
    assert decode > 1.15 * (short["latency_mean_s"] - short["ttft_mean_s"])


def test_a_full_batch_makes_new_requests_wait_for_a_slot():
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "max_batch": 4, "prefill_tokens_per_s": 1e8,
                   "itl_ms": 18.6, "decode_ns_per_kv_token": 0}, prompt=10, output=101)
    inject(sim, 8)
    summary = sim.run(60)
    one_answer = 100 * 0.0186
    # Whole-run percentiles come from a DDSketch with 0.5 % relative accuracy.
    assert summary["latency_p50_s"] == pytest.approx(one_answer, rel=0.005)
    assert summary["latency_p99_s"] == pytest.approx(2 * one_answer, rel=0.005)
    assert summary["latency_mean_s"] == pytest.approx(1.5 * one_answer, rel=1e-4)
    assert summary["llm_wait_mean_s"] == pytest.approx(one_answer / 2, rel=1e-4)


def test_prompts_are_prefilled_oldest_first_within_the_token_budget():
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0}, prompt=12_500, output=1)
    inject(sim, 3)
    summary = sim.run(30)
    one = 12_500 / BUDGET * (ITL_S + BUDGET / PREFILL)  # one prompt's share of full-budget iterations
    assert summary["ttft_mean_s"] == pytest.approx((1 + 2 + 3) / 3 * one)


def test_longer_prompts_fill_the_kv_cache_so_fewer_sequences_run():
    # A KV cache of 10,000 tokens: eight calls of 1,000 + 100 tokens fit at once (8,800), but of
    # 4,000 + 100 only two (8,200); the other six wait to be admitted.
    def window(prompt):
        sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "kv_cache_tokens": 10_000}, prompt=prompt, output=101)
        inject(sim, 8)
        return sim.advance(1.0)[0]

    short, long = window(1000), window(4000)
    assert short["instances"]["llm-0"]["in_service"] == pytest.approx(8, rel=1e-6)
    assert short["llm_queue_length"] == 0
    assert long["instances"]["llm-0"]["in_service"] == pytest.approx(2, rel=1e-6)
    assert long["llm_queue_length"] == pytest.approx(6, rel=1e-6)
    assert long["llm_utilisation"] > 0.8 and short["llm_utilisation"] > 0.8  # the KV cache binds, not the slots


def test_a_call_longer_than_the_kv_cache_fails():
    sim = llm_sim({"kind": "self_hosted", "kv_cache_tokens": 1000}, prompt=1000, output=10)
    inject(sim, 1)
    assert sim.run(5)["failed"] == 1


def test_decoding_slows_while_a_prompt_is_prefilled():
    # A decodes alone. At 1 s, B brings a 50,000-token prompt (and a one-token answer, so it never
    # joins the batch). While B is read, each iteration also carries 8,191 prompt tokens: A's steps
    # take ITL + KV + 8,191 / PREFILL instead of ITL + KV, for B's whole prefill.
    def a_latency(with_b: bool) -> float:
        sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0}, prompt=0, output=1001)
        sim._arrive(0, 1001, 0)
        sim.advance(1.0)
        if with_b:
            sim._arrive(50_000, 1, 0)
        windows = sim.advance(59.0)
        return max(w["latency_p99_s"] or 0 for w in windows)

    plain, mixed = a_latency(False), a_latency(True)
    decode = ITL_S + 1001 * KV_S
    mix = decode + (BUDGET - 1) / PREFILL
    prefill = 50_000 * mix / (BUDGET - 1)  # B's prompt at BUDGET - 1 tokens per mixed iteration
    tokens_during = prefill / mix
    assert mixed - plain == pytest.approx(prefill - tokens_during * decode, rel=1e-3)
    assert mixed - plain > 3.0


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
    sim.controls.set_component_up("llm-0", False)
    inject(sim, 3)
    assert sim.run(10)["failed"] == 3


def test_a_request_joining_mid_decode_slows_both():
    # ITL 10 ms alone, 15 ms with two: 5 ms per step plus 5 ms to read each sequence's 101 KV tokens.
    # A needs 100 tokens after its first; B joins at 0.5 s needing 25. By 0.5 s A has 50 left; both
    # then run at 15 ms: B ends at 0.875 s, and A, alone again for its last 25 tokens, at 1.125 s.
    sim = llm_sim({"kind": "self_hosted", "overhead_ms": 0, "prefill_tokens_per_s": 1e8, "itl_ms": 5,
                   "decode_ns_per_kv_token": 5e6 / 101}, prompt=0, output=101)
    sim._arrive(0, 101, 0)
    sim.advance(0.5)
    sim._arrive(75, 26, 0)  # B's 75 prompt tokens make its KV as large as A's
    summary = sim.run(5)
    assert summary["completions"] == 2
    assert summary["latency_mean_s"] == pytest.approx((1.125 + 0.375) / 2, rel=1e-4)  # B's 75-token prefill: 92 us


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
    sim.controls.set_llm_replicas(10)  # nine idle replicas alive for the last millisecond of the window
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


def _impatient(llm: dict, **traffic) -> Simulation:
    """An instant web tier, clients who give up after 5 s, one-second windows, and no traffic of its own."""
    scn = scenario(traffic={**ONE_REQUEST, "client_timeout_s": 5, **traffic},
                   web={**INSTANT_WEB, "workers": 1000, "accept_queue": None}, llm=llm)
    return Simulation(scn)


ONE_SLOT = {"kind": "self_hosted", "overhead_ms": 0, "max_batch": 1, "prefill_tokens_per_s": 1e8}


@pytest.mark.parametrize("cancel", [True, False])
def test_a_call_whose_client_left_frees_its_slot(cancel):
    # One batch slot. A needs 2,000 tokens (about 37 s); its client leaves at 5 s. B arrives at 4 s
    # and needs 100 tokens (1.9 s). Aborted at its client's deadline (5 s), A frees the slot and B is
    # answered by 7 s; kept, A holds the slot for 37 s and B's client leaves too.
    sim = _impatient({**ONE_SLOT, "cancel_on_disconnect": cancel})
    sim._arrive(0, 2000, 0)
    sim.advance(4.0)
    sim._arrive(0, 100, 0)
    windows = sim.advance(56.0)
    summary = sim.run(1)
    if cancel:
        assert summary["completions"] == 1 and summary["timed_out"] == 1
        assert summary["latency_mean_s"] == pytest.approx(1 + 99 * (ITL_S + 100 * KV_S), rel=1e-3)
        assert windows[3]["llm_batch_mean"] == 0 or windows[3]["llm_batch_mean"] < 1  # 7th second: A gone, B decoding
        generated = sum(w["output_tokens"] for w in sim.windows)
        assert generated - 100 == pytest.approx(5 / (ITL_S + 2000 * KV_S), abs=2)  # A's tokens until its abort
    else:
        assert summary["completions"] == 0 and summary["timed_out"] == 2
        assert windows[10]["llm_batch_mean"] == pytest.approx(1)  # A still decoding at 15 s for nobody


def test_a_call_waiting_for_admission_leaves_the_line_at_its_clients_deadline():
    # Both calls arrive at 0 and their clients leave at 5 s. A holds the only slot for 190 tokens
    # (3.5 s); B waits, then decodes from 3.5 s until its client leaves at 5 s and it is aborted.
    # C arrives with them but waits behind B: at 5 s it leaves the line, never decoded.
    sim = _impatient(ONE_SLOT)
    for tokens in (190, 290, 100):
        sim._arrive(0, tokens, 0)
    summary = sim.run(30)
    a = 189 * (ITL_S + 190 * KV_S)
    assert summary["completions"] == 1 and summary["timed_out"] == 2
    assert sum(w["llm_batch_mean"] or 0 for w in sim.windows) == pytest.approx(5.0, rel=1e-3)  # one slot, busy to 5 s
    b_generated = summary["output_tokens"] - 190
    assert 0 < b_generated < 290 and b_generated == pytest.approx(1 + (5 - a) / (ITL_S + 290 * KV_S), abs=2)


def test_a_call_that_reaches_the_model_after_its_client_left_is_dropped_at_the_door():
    # 6 s of network and API overhead, clients who leave at 5 s: the call arrives to nobody.
    sim = _impatient({**ONE_SLOT, "overhead_ms": 6000})
    sim._arrive(0, 100, 0)
    summary = sim.run(30)
    assert summary["timed_out"] == 1 and summary["output_tokens"] == 0
    assert all(not w["llm_batch_mean"] for w in sim.windows)


def test_an_aborted_hosted_call_bills_the_prompt_and_the_tokens_generated():
    # gpt-4o prices; the answer would take 0.3 + 0.4 + 999 x 18.6 ms = 19 s; the client leaves at 5 s
    # and the call is aborted then, with about (5 - 0.7) / 0.0186 = 232 tokens generated.
    sim = _impatient({"kind": "hosted"}, tokens={"kind": "fixed", "prompt_tokens": 5000, "output_tokens": 1000})
    sim._arrive(5000, 1000, 0)
    summary = sim.run(30)
    generated = summary["output_tokens"]
    assert generated == pytest.approx(1 + (5 - 0.3 - 0.4) / 0.0186, abs=2)
    assert summary["usd_tokens"] == pytest.approx((5000 * 2.5 + generated * 10) / 1e6)


def test_a_gateway_aborts_the_call_on_the_deployment_serving_it():
    gateway = {"kind": "router", "deployments": [{**ONE_SLOT, "name": "own"}]}
    sim = _impatient(gateway)
    sim._arrive(0, 2000, 0)
    sim.advance(4.0)
    sim._arrive(0, 100, 0)
    summary = sim.run(56)
    assert summary["completions"] == 1 and summary["timed_out"] == 1


def test_a_crashed_replica_fails_the_calls_it_holds():
    two = {"kind": "self_hosted", "overhead_ms": 0, "replicas": 2}
    sim = llm_sim(two)
    inject(sim, 4)  # two on each replica
    sim.advance(1.0)
    sim.controls.set_component_up("llm-0", False)
    summary = sim.run(60)
    assert summary["failed"] == 2 and summary["completions"] == 2


def test_a_gateway_retries_the_calls_of_a_crashed_replica_elsewhere():
    sim = llm_sim({"kind": "router", "deployments": [{"kind": "self_hosted", "overhead_ms": 0, "replicas": 2}]})
    inject(sim, 4)
    sim.advance(1.0)
    sim.controls.set_component_up("llm-0", False)
    summary = sim.run(60)
    assert summary["failed"] == 0 and summary["completions"] == 4
    assert summary["llm_retries"] == 2
