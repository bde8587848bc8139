"""The response cache: its hit rate comes from repeated prompts and agrees with LRU theory."""

import pytest
import simpy

from engine import ScenarioError, Simulation, derive, parse_scenario
from engine.cache import Cache, zipf_popularity
from engine.metrics import Window
from engine.request import Lookup, Request
from engine.cache import semantic_rates
from engine.scenario import PromptKeys, ResponseCache
from engine.theory import lru_hit_rate
from engine.clock import Clock
from tests.helpers import deep_merge, run

FAST_LLM = {"kind": "hosted", "overhead_ms": 0, "itl_ms": 0.1, "prefill_tokens_per_s": 1e8}


def cached_app(**changes):
    """A bare web tier, a hosted LLM and a response cache; fixed tokens; no client timeout."""
    base = {
        "traffic": {"rate_rps": 200, "client_timeout_s": None, "prompt_keys": {"space": 10_000, "zipf_skew": 0.9},
                    "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 100}},
        "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": FAST_LLM,
        "cache": {"capacity_entries": 1_000_000, "ttl_s": None},
    }
    return parse_scenario(deep_merge(base, changes))


def drained(scenario, seconds):
    """Run for `seconds`, then stop the traffic until every request is answered; return the summary."""
    sim = Simulation(scenario)
    sim.advance(seconds)
    sim.controls.set_arrival_rate(1e-6)
    summary = sim.run(30)
    assert summary["in_flight"] == 0
    return summary


def test_lru_order_and_time_to_live():
    env = Clock()
    window = Window(0.0)
    hits, misses = [], []
    cache = Cache(env, ResponseCache(capacity_entries=2, ttl_s=10, lookup_ms={"dist": "constant", "value_ms": 0}),
                  PromptKeys(), 1, lambda: window, Lookup(hit=hits.append, miss=misses.append))

    def ask(key):
        request = Request(0, env.now, float("inf"), 0, 1, 0, 0)
        request.prompt_key = key
        cache.lookup(request)
        env.run(until=env.now + 1e-9)
        return request

    for key in (1, 2):
        cache.fill(ask(key))
    ask(1)                      # hit: 1 becomes the most recently used
    cache.fill(ask(3))          # miss, fill: evicts 2, the least recently used
    assert [r.prompt_key for r in hits] == [1]
    assert [r.prompt_key for r in misses] == [1, 2, 3]
    assert ask(2) in misses and window.cache_evictions == 1
    env.run(until=20)
    assert ask(1) in misses     # expired after its 10 s
    assert len(cache) == 0      # every expired answer goes at the next lookup, 3 as well as 1 (active expiry)


def test_an_unbounded_cache_misses_once_per_distinct_prompt():
    sim = Simulation(cached_app())
    keys = []
    deliver = sim._next_key

    def record():
        key = deliver()
        keys.append(key)
        return key

    sim._next_key = record
    sim.advance(30)
    sim.controls.set_arrival_rate(1e-6)
    summary = sim.run(10)  # let every lookup come back
    distinct = len(set(keys))
    # Once per prompt, plus the rare second miss of a prompt asked again before its first answer
    # was stored (the two were in flight together).
    assert distinct <= summary["cache_misses"] <= distinct * 1.01
    assert summary["cache_hits"] + summary["cache_misses"] == len(keys) == summary["arrivals"]


@pytest.mark.parametrize("space, skew, capacity", [(10_000, 0.9, 1_000), (5_000, 0.6, 1_000), (20_000, 1.2, 500)])
def test_lru_hit_rate_agrees_with_ches_approximation(space, skew, capacity):
    sim = Simulation(cached_app(traffic={"rate_rps": 1000, "prompt_keys": {"space": space, "zipf_skew": skew}},
                                cache={"capacity_entries": capacity}))
    sim.advance(30)  # fill the cache before measuring
    windows = sim.advance(150)
    hits = sum(w["cache_hits"] for w in windows)
    misses = sum(w["cache_misses"] for w in windows)
    expected = lru_hit_rate(zipf_popularity(space, skew), capacity)
    assert hits / (hits + misses) == pytest.approx(expected, abs=0.01)
    assert sum(w["cache_evictions"] for w in windows) > 0


def test_turning_the_cache_on_cuts_token_spend_and_p95():
    slow_llm = {"llm": {"kind": "hosted", "overhead_ms": 300, "itl_ms": 18.6, "prefill_tokens_per_s": 12_500}}
    without = drained(derive(cached_app(**slow_llm), {"cache": None}), 60)
    with_cache = drained(cached_app(**slow_llm), 60)
    assert without["cache_hit_rate"] is None
    assert with_cache["cache_hit_rate"] > 0.5
    assert with_cache["usd_tokens"] < 0.5 * without["usd_tokens"]
    assert with_cache["latency_p50_s"] < 0.05 < 1.0 < without["latency_p50_s"]
    saved = with_cache["cache_hits"] * (1000 * 2.5 + 100 * 10) / 1e6
    assert with_cache["usd_saved"] == pytest.approx(saved)
    assert with_cache["tokens_saved"] == with_cache["cache_hits"] * 1100
    # Same requests either way: what the cache saved is exactly what the LLM was not paid.
    assert with_cache["usd_saved"] + with_cache["usd_tokens"] == pytest.approx(without["usd_tokens"])


@pytest.mark.parametrize("change, lower", [
    ({"traffic": {"prompt_keys": {"zipf_skew": 0.5}}}, True),
    ({"cache": {"capacity_entries": 200}}, True),
    ({"cache": {"ttl_s": 1}}, True),
    ({"traffic": {"prompt_keys": {"space": 1000}}}, False),
])
def test_hit_rate_moves_with_skew_capacity_ttl_and_key_space(change, lower):
    base = run(cached_app(cache={"capacity_entries": 2000, "ttl_s": 60}), 60)["cache_hit_rate"]
    changed = run(cached_app(**deep_merge({"cache": {"capacity_entries": 2000, "ttl_s": 60}}, change)), 60)["cache_hit_rate"]
    assert (changed < base - 0.05) if lower else (changed > base + 0.05)


def test_prompt_keys_can_change_live():
    sim = Simulation(cached_app(traffic={"prompt_keys": {"zipf_skew": 1.2}}))
    sim.advance(60)
    before = sim.advance(30)
    sim.controls.set_prompt_keys(space=1_000_000, zipf_skew=0.0)  # from now on nearly every prompt is new
    after = sim.advance(30)
    rate = lambda ws: sum(w["cache_hits"] for w in ws) / sum(w["cache_hits"] + w["cache_misses"] for w in ws)
    assert rate(before) > 0.8
    assert rate(after) < 0.05
    assert sim.controls.settings()["prompt_keys"] == {"space": 1_000_000, "zipf_skew": 0.0, "paraphrase_share": 0.0,
                                             "questions_per_topic": 1}
    with pytest.raises(ValueError, match=r"traffic.prompt_keys.zipf_skew: -1 is not allowed: input should be greater"):
        sim.controls.set_prompt_keys(zipf_skew=-1)


def test_cache_costs_its_node_by_the_hour():
    summary = run(cached_app(traffic={"rate_rps": 0.001}), 3600)
    assert summary["usd_infra"] == pytest.approx(0.2016 + 0.1008)  # medium web + small cache, one hour


@pytest.mark.parametrize("change, message", [
    ({"llm": None}, "cache: is not allowed without an llm"),
    ({"traffic": {"prompt_keys": None}}, "cache: needs traffic.prompt_keys"),
    ({"cache": {"ttl_s": 0}}, "cache.ttl_s: 0 is not allowed: input should be greater than 0"),
    ({"cache": {"capacity_entries": 0}}, "cache.capacity_entries: 0 is not allowed"),
    ({"traffic": {"prompt_keys": {"zipf_skew": 9}}}, "traffic.prompt_keys.zipf_skew: 9 is not allowed"),
    ({"traffic": {"prompt_keys": {"paraphrase_share": 1.5}}},
     "traffic.prompt_keys.paraphrase_share: 1.5 is not allowed: input should be less than or equal to 1"),
    ({"cache": {"semantic": {"threshold": 1.2}}},
     "cache.semantic.threshold: 1.2 is not allowed: input should be less than or equal to 1"),
    ({"cache": {"semantic": {"threshold": 0.3}}},
     "cache.semantic.threshold: 0.3 is not allowed: input should be greater than or equal to 0.5"),
])
def test_bad_cache_settings_are_refused(change, message):
    base = cached_app().model_dump(mode="json")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(deep_merge(base, change))
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems


SEMANTIC = {"threshold": 0.9, "embed_ms": {"dist": "constant", "value_ms": 5},
            "search_ms": {"dist": "constant", "value_ms": 1}}


def test_rewordings_miss_an_exact_cache():
    exact = run(cached_app(), 60)
    reworded = run(cached_app(traffic={"prompt_keys": {"paraphrase_share": 0.5}}), 60)
    assert reworded["cache_hits"] < 0.6 * exact["cache_hits"]
    assert reworded["semantic_hits"] == reworded["false_hits"] == 0


def test_semantic_hits_follow_the_measured_curve():
    # Every request reworded, 100 questions all stored after a warm-up: each lookup is a reworded
    # pair, which matches with the probability measured on real duplicate question pairs.
    sim = Simulation(cached_app(traffic={"prompt_keys": {"space": 100, "paraphrase_share": 1.0}},
                                cache={"semantic": SEMANTIC}))
    sim.advance(20)
    windows = sim.advance(100)
    semantic = sum(w["semantic_hits"] for w in windows)
    misses = sum(w["cache_misses"] for w in windows)
    hit_rate, _ = semantic_rates(0.9)
    assert semantic / (semantic + misses) == pytest.approx(hit_rate, abs=0.02)
    assert sum(w["cache_hits"] for w in windows) == sum(w["false_hits"] for w in windows) == 0


def test_lowering_the_threshold_raises_hits_and_wrong_answers():
    related = {"traffic": {"prompt_keys": {"space": 20_000, "paraphrase_share": 0.3, "questions_per_topic": 20}}}
    strict = run(cached_app(**related, cache={"semantic": {**SEMANTIC, "threshold": 0.95}}), 60)
    loose = run(cached_app(**related, cache={"semantic": {**SEMANTIC, "threshold": 0.75}}), 60)
    assert loose["semantic_hits"] > 1.5 * strict["semantic_hits"] > 0
    assert loose["false_hits"] > 3 * strict["false_hits"]
    assert loose["usd_tokens"] < strict["usd_tokens"]


def test_semantic_search_adds_its_latency_to_a_miss():
    plain = run(cached_app(traffic={"prompt_keys": {"space": 1_000_000, "zipf_skew": 0}}), 30)
    semantic = run(cached_app(traffic={"prompt_keys": {"space": 1_000_000, "zipf_skew": 0}},
                              cache={"semantic": SEMANTIC}), 30)
    # Nearly every prompt is new: each request pays the embedding and the search (6 ms) on top.
    assert semantic["latency_mean_s"] - plain["latency_mean_s"] == pytest.approx(0.006, rel=0.05)


def _semantic_cache(threshold=0.9, questions_per_topic=10, ttl_s=None):
    """A semantic cache on its own, with instant lookups and searches; returns (env, cache, window, ask)."""
    env = Clock()
    window = Window(0.0)
    instant = {"dist": "constant", "value_ms": 0}
    spec = ResponseCache(capacity_entries=1000, ttl_s=ttl_s, lookup_ms=instant,
                         semantic={"threshold": threshold, "embed_ms": instant, "search_ms": instant})
    cache = Cache(env, spec, PromptKeys(questions_per_topic=questions_per_topic), 1, lambda: window,
                  Lookup(hit=lambda r: None, miss=lambda r: None))

    def ask(key, reworded=False):
        request = Request(0, env.now, float("inf"), 0, 1, 0, 0)
        request.prompt_key = key
        cache.lookup(request)
        request.reworded = reworded  # the wording coin is drawn at lookup; the test chooses instead
        env.run(until=env.now + 1e-9)
        return request

    return env, cache, window, ask


@pytest.mark.parametrize("neighbours", [1, 3, 9])
def test_every_stored_neighbour_is_a_chance_of_a_false_hit(neighbours):
    # Key 0 is never stored; keys 1..n of its topic are. Each is compared with the prompt, so the
    # chance that at least one passes the threshold is 1 - (1 - p)^n, not p.
    env, cache, window, ask = _semantic_cache()
    for key in range(1, neighbours + 1):
        cache.fill(ask(key))
    before = window.false_hits
    lookups = 6000
    for _ in range(lookups):
        ask(0)
    _, p = semantic_rates(0.9)
    assert (window.false_hits - before) / lookups == pytest.approx(1 - (1 - p) ** neighbours, abs=0.02)


def test_expired_neighbours_cannot_answer():
    env, cache, window, ask = _semantic_cache(ttl_s=10)
    for key in range(1, 10):
        cache.fill(ask(key))
    env.run(until=11)
    before = window.false_hits
    for _ in range(500):
        ask(0)
    assert window.false_hits == before and len(cache) == 0


def test_a_stored_rewording_shares_its_lookups_with_the_neighbours():
    # Key 0 is stored in other words, beside 9 related questions: the nearest candidate above the
    # threshold is served, so some lookups get a neighbour's answer although the right one is stored.
    env, cache, window, ask = _semantic_cache()
    cache.fill(ask(0, reworded=True))
    for key in range(1, 10):
        cache.fill(ask(key))
    right_before, wrong_before = window.semantic_hits, window.false_hits
    lookups = 6000
    for _ in range(lookups):
        ask(0)
    right, wrong = window.semantic_hits - right_before, window.false_hits - wrong_before
    hit_rate, p = semantic_rates(0.9)
    assert right / lookups < hit_rate - 0.05          # neighbours win some of the rewording's lookups
    assert wrong / lookups > 0.25                     # about 35 % at 0.9 with 9 neighbours
    assert (right + wrong) / lookups == pytest.approx(1 - (1 - hit_rate) * (1 - p) ** 9, abs=0.02)


def test_the_hit_rate_counts_right_answers_and_wrong_answers_have_their_own_rate():
    summary = run(cached_app(traffic={"prompt_keys": {"space": 2000, "paraphrase_share": 0.3,
                                                      "questions_per_topic": 10}},
                             cache={"semantic": SEMANTIC}), 60)
    lookups = sum(summary[k] for k in ("cache_hits", "semantic_hits", "false_hits", "cache_misses"))
    assert summary["false_hits"] > 0.05 * lookups
    assert summary["cache_hit_rate"] == pytest.approx((summary["cache_hits"] + summary["semantic_hits"]) / lookups)
    assert summary["wrong_answer_rate"] == pytest.approx(summary["false_hits"] / lookups)
