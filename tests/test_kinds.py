"""Database kinds and retrieval: each kind's query times and write scaling, and what RAG adds."""

import pytest

from engine import ScenarioError, Simulation, parse_scenario
from engine.scenario import DATABASE_KINDS
from tests.helpers import deep_merge


def app(**changes):
    """A web tier that reads twice and writes once per request, with a hosted LLM."""
    base = {
        "traffic": {"rate_rps": 20, "client_timeout_s": None,
                    "tokens": {"kind": "fixed", "prompt_tokens": 500, "output_tokens": 50}},
        "web": {"workers": 10_000, "accept_queue": None, "handler_ms": {"dist": "constant", "value_ms": 0}},
        "database": {"placement": "separate", "network_rtt_ms": 0},
        "llm": {"kind": "hosted", "overhead_ms": 0, "itl_ms": 1, "prefill_tokens_per_s": 1e8},
    }
    return parse_scenario(deep_merge(base, changes))


@pytest.mark.parametrize("kind", list(DATABASE_KINDS))
def test_each_kind_brings_its_query_times(kind):
    summary = Simulation(app(database={"kind": kind})).run(300)
    costs = DATABASE_KINDS[kind]
    llm = 0.049  # 49 more tokens at 1 ms
    # At 20 requests a second a commit rarely finds a flush under way: it waits for one flush.
    flush = costs.flush.mean_s() if costs.flush is not None else 0.0
    expected = 2 * costs.read.mean_s() + costs.write.mean_s() + flush + llm
    assert summary["latency_mean_s"] == pytest.approx(expected, rel=0.08)


def test_a_key_value_store_is_faster_than_a_relational_one():
    relational = Simulation(app(llm=None)).run(120)  # database time only
    key_value = Simulation(app(llm=None, database={"kind": "key_value"})).run(120)
    assert key_value["latency_p95_s"] < 0.3 * relational["latency_p95_s"]


def test_partitions_scale_writes():
    # 400 writes/s of 10 ms of CPU each need 4 cores busy; one primary of 2 cores cannot keep up.
    heavy = dict(traffic={"rate_rps": 400}, web={"db_reads_per_request": 0},
                 database={"kind": "key_value", "cores": 2, "max_connections": 10_000, "pool_size": 10_000,
                           "write_ms": {"dist": "exponential", "mean_ms": 10}, "write_cpu_ms": 1000})
    one = Simulation(app(**heavy)).run(60)
    four = Simulation(app(**deep_merge(heavy, {"database": {"partitions": 4}}))).run(60)
    assert one["db_primary_utilisation"] > 0.99 and one["latency_p95_s"] > 5
    assert four["db_primary_utilisation"] == pytest.approx(0.5, abs=0.05)
    assert four["latency_p95_s"] < 0.2
    assert four["usd_infra"] == pytest.approx(one["usd_infra"] + 3 * 0.2016 * 60 / 3600)


def test_retrieval_adds_its_search_and_its_context_tokens():
    plain = Simulation(app(database={"kind": "key_value"})).run(120)
    rag = Simulation(app(database={"kind": "key_value"},
                         retrieval={"search_ms": {"dist": "constant", "value_ms": 20}, "context_tokens": 1500})).run(120)
    assert rag["completions"] <= rag["retrievals"] <= rag["arrivals"]
    assert rag["latency_mean_s"] - plain["latency_mean_s"] == pytest.approx(0.020 + 1500 / 1e8, rel=0.05)
    assert rag["input_tokens"] / rag["completions"] == pytest.approx(2000)
    assert rag["usd_tokens"] > 3 * plain["usd_tokens"]


@pytest.mark.parametrize("change, message", [
    ({"database": {"partitions": 4}}, "database.partitions: 4 is not allowed: a relational database has one primary"),
    ({"database": {"kind": "graph"}}, "database.kind: 'graph' is not allowed"),
    ({"retrieval": {"context_tokens": -1}}, "retrieval.context_tokens: -1 is not allowed"),
    ({"retrieval": {}, "llm": None, "web": {"db_reads_per_request": 0}}, "retrieval: is not allowed without an llm"),
])
def test_bad_kinds_and_retrieval_are_refused(change, message):
    data = deep_merge(app().model_dump(mode="json"), change)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems
