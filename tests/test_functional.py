"""Functional tests: each architectural change moves the numbers in the direction the lessons claim."""

import pytest

from engine import Simulation, derive, load_preset
from tests.helpers import run, scenario

SLOW_LLM = {"kind": "hosted", "overhead_ms": 300, "itl_ms": 40}  # about 4.5 s per answer of ~100 tokens


def web_app(**changes):
    """A web tier with a database and a hosted LLM; fixed tokens so runs differ only where told."""
    base = {
        "traffic": {"rate_rps": 5, "tokens": {"kind": "fixed", "prompt_tokens": 1000, "output_tokens": 100}},
        "web": {"replicas": 1},
        "database": {"placement": "separate"},
        "llm": {"kind": "hosted"},
    }
    return scenario(base, **changes)


def test_more_web_replicas_under_overload_lower_p95():
    overloaded = dict(traffic={"rate_rps": 12}, load_balancer={"algorithm": "least_connections"},
                      llm=SLOW_LLM)
    two = run(web_app(web={"replicas": 2}, **overloaded), 180)
    six = run(web_app(web={"replicas": 6}, **overloaded), 180)
    assert two["web_utilisation"] > 0.95
    assert two["dropped"] + two["timed_out"] > 0
    assert six["latency_p95_s"] < 0.8 * two["latency_p95_s"]
    assert six["dropped"] + six["timed_out"] == 0
    assert six["throughput_rps"] > 1.4 * two["throughput_rps"]


def test_thread_per_request_saturates_under_slow_llm_but_async_does_not():
    common = dict(traffic={"rate_rps": 6}, llm=SLOW_LLM)
    threads = run(web_app(**common, web={"workers": 9, "accept_queue": 50}), 180)
    asynchronous = run(web_app(**common, web={"workers": 9, "accept_queue": 50, "async_io": True}), 180)
    # 9 workers held ~4.5 s each serve at most 2 req/s: the rest queues, then is refused.
    assert threads["web_utilisation"] > 0.97
    assert threads["throughput_rps"] < 2.2
    assert threads["dropped"] > 0.3 * threads["arrivals"]
    # The same 9 workers, freed during I/O, are busy only for the 10 ms handler.
    assert asynchronous["web_utilisation"] < 0.1
    assert asynchronous["errors"] == 0
    assert asynchronous["throughput_rps"] == pytest.approx(6, rel=0.1)


def test_read_replicas_take_read_load_off_the_primary():
    heavy_reads = dict(traffic={"rate_rps": 40}, web={"replicas": 4, "db_reads_per_request": 10},
                       load_balancer={}, llm={"kind": "hosted", "overhead_ms": 10, "itl_ms": 1})
    alone = run(web_app(**heavy_reads), 60)
    split = run(web_app(**heavy_reads, database={"read_replicas": 2}), 60)
    assert alone["db_reads_primary"] == pytest.approx(10 * alone["db_writes"], rel=0.02)
    assert alone["db_reads_replica"] == 0
    assert split["db_reads_primary"] == 0 and split["db_reads_replica"] > 0
    assert split["db_primary_utilisation"] < 0.5 * alone["db_primary_utilisation"]
    assert split["db_replica_utilisation"] > 0
    assert alone["db_replica_utilisation"] is None


def test_reads_on_the_primary_are_preferred_when_the_split_is_off():
    summary = run(web_app(database={"read_replicas": 1, "read_from_replicas": False}), 30)
    assert summary["db_reads_replica"] == 0 and summary["db_reads_primary"] > 0


@pytest.mark.parametrize("lag_ms, replicas, stale_expected", [
    (0, 1, False),
    (3000, 0, False),
    (3000, 1, True),
])
def test_stale_reads_appear_only_with_replication_lag(lag_ms, replicas, stale_expected):
    # 20 users sending 5 req/s between them come back every few seconds: inside a 3 s lag.
    summary = run(web_app(
        traffic={"user_population": 20},
        llm={"kind": "hosted", "overhead_ms": 10, "itl_ms": 1},
        database={"read_replicas": replicas, "replication_lag_ms": {"dist": "constant", "value_ms": lag_ms}},
    ), 120)
    assert (summary["stale_reads"] > 0) is stale_expected
    if stale_expected:
        assert summary["stale_reads"] < summary["db_reads_replica"]


def test_same_seed_gives_identical_results_and_another_seed_does_not():
    first = run(load_preset("horizontal_load_balancer"), 60)
    again = run(load_preset("horizontal_load_balancer"), 60)
    other = run(derive(load_preset("horizontal_load_balancer"), {"seed": 2}), 60)
    assert first == again
    assert first["arrivals"] != other["arrivals"] or first["latency_p95_s"] != other["latency_p95_s"]


def arrivals_seen(scn, seconds):
    """Return every (time, prompt tokens, output tokens, user) that arrived during a run."""
    sim = Simulation(scn)
    seen = []
    deliver = sim.arrivals.on_arrival

    def record(prompt, output, user):
        seen.append((sim.now, prompt, output, user))
        deliver(prompt, output, user)

    sim.arrivals.on_arrival = record
    sim.run(seconds)
    return seen


def test_scenarios_differing_only_in_replicas_see_identical_arrivals():
    base = load_preset("horizontal_load_balancer")
    fewer = derive(base, {"web": {"replicas": 2}})
    four, two = arrivals_seen(base, 60), arrivals_seen(fewer, 60)
    assert len(four) > 300
    assert four == two
    assert run(base, 60)["latency_p95_s"] != run(fewer, 60)["latency_p95_s"]


def test_clients_give_up_after_their_timeout():
    sim = Simulation(web_app(traffic={"rate_rps": 4, "client_timeout_s": 8}, llm=SLOW_LLM,
                             web={"workers": 9, "accept_queue": None}))
    overloaded = sim.run(120)
    assert overloaded["timed_out"] > 0.2 * overloaded["arrivals"]
    # Stop the traffic and let the servers finish: every request must end up counted exactly once.
    sim.controls.set_arrival_rate(1e-6)
    drained = sim.run(600)
    assert drained["in_flight"] == 0
    assert sum(r.workers.in_system() for r in sim.web.replicas) == 0
    assert drained["completions"] + drained["errors"] == drained["arrivals"]


@pytest.mark.parametrize("change", [
    {"client_timeout_s": 5},
    {"client_timeout_s": 1, "llm": {"kind": "hosted", "itl_ms": 20}, "primary_down_at_s": 10},
])
def test_the_metrics_window_length_changes_no_result(change):
    # Clients leave at their deadline, not when a window closes: results must not depend on window_s.
    change = dict(change)
    down_at = change.pop("primary_down_at_s", None)
    llm = change.pop("llm", SLOW_LLM)
    totals = []
    for window_s in (0.1, 1, 60):
        sim = Simulation(web_app(window_s=window_s, traffic={"rate_rps": 3, **change}, llm=llm,
                                 web={"workers": 2, "accept_queue": None}))
        if down_at:
            sim.advance(down_at)
            sim.controls.set_component_up("db-primary", False)
        summary = sim.run(120 - (down_at or 0))
        totals.append({key: summary[key] or 0.0 for key in ("completions", "timed_out", "failed", "dropped",
                                                            "latency_mean_s", "web_utilisation")})
    assert totals[0]["timed_out"] > 0
    for other in totals[1:]:
        assert other == pytest.approx(totals[0], rel=1e-9)


def test_accept_queue_full_drops_requests():
    summary = run(web_app(traffic={"rate_rps": 6}, llm=SLOW_LLM, web={"workers": 2, "accept_queue": 3}), 60)
    assert summary["dropped"] > 0.5 * summary["arrivals"]
    assert summary["web_queue_length"] <= 3


def test_connection_limit_below_cores_limits_queries_running_at_once():
    summary = run(web_app(traffic={"rate_rps": 50}, web={"replicas": 2, "workers": 50, "db_reads_per_request": 4},
                          load_balancer={}, database={"cores": 8, "max_connections": 2},
                          llm={"kind": "hosted", "overhead_ms": 5, "itl_ms": 1}), 30)
    # At most 2 queries inside the primary at once: it can never look busier than 2 of its 8 cores.
    assert 0 < summary["db_primary_utilisation"] <= 1.0
    assert summary["failed"] > 0


def test_database_connection_limit_fails_requests():
    limited = run(web_app(traffic={"rate_rps": 200}, web={"replicas": 6, "workers": 50, "db_reads_per_request": 4},
                          load_balancer={}, database={"cores": 1, "max_connections": 4},
                          llm={"kind": "hosted", "overhead_ms": 5, "itl_ms": 1}), 30)
    roomy = run(web_app(traffic={"rate_rps": 200}, web={"replicas": 6, "workers": 50, "db_reads_per_request": 4},
                        load_balancer={}, database={"cores": 1, "max_connections": 1000},
                        llm={"kind": "hosted", "overhead_ms": 5, "itl_ms": 1}), 30)
    assert limited["failed"] > 0
    assert roomy["failed"] == 0
    assert roomy["db_primary_wait_mean_s"] > limited["db_primary_wait_mean_s"]


def test_token_spend_is_tokens_times_price():
    summary = run(web_app(traffic={"rate_rps": 2}), 60)
    assert summary["input_tokens"] == 1000 * (summary["output_tokens"] // 100)
    expected = summary["input_tokens"] * 2.50 / 1e6 + summary["output_tokens"] * 10.00 / 1e6
    assert summary["usd_tokens"] == pytest.approx(expected)


def test_infrastructure_cost_is_instance_hours_times_price():
    # Two medium web replicas and a medium database node for one hour at 0.2016 USD/h each.
    summary = run(web_app(traffic={"rate_rps": 0.01}, web={"replicas": 2}, load_balancer={}), 3600)
    assert summary["usd_infra"] == pytest.approx(3 * 0.2016)


def test_same_server_database_saves_the_network_hop_and_the_instance():
    together = run(web_app(database={"placement": "same_server"}, llm={"kind": "hosted", "overhead_ms": 0, "itl_ms": 1}), 60)
    apart = run(web_app(database={"placement": "separate"}, llm={"kind": "hosted", "overhead_ms": 0, "itl_ms": 1}), 60)
    assert apart["latency_mean_s"] - together["latency_mean_s"] == pytest.approx(3 * 0.0005, rel=0.2)
    assert apart["usd_infra"] > together["usd_infra"]


def test_replicas_apply_writes_in_commit_order():
    # Write 1 lags 100 ms; write 2, 10 ms later, would lag only 5 ms, but replicas apply writes in
    # order, so the same user's data stays stale until write 1 (and so write 2) is applied.
    import simpy

    from engine.clock import Clock
    from engine.database import Database
    from engine.request import Outcomes
    from engine.metrics import Window
    from engine.request import Request

    env = Clock()
    window = Window(0.0)
    scn = web_app(database={"read_replicas": 1, "network_rtt_ms": 0,
                            "write_ms": {"dist": "constant", "value_ms": 0},
                            "read_ms": {"dist": "constant", "value_ms": 0},
                            "commit_flush_ms": {"dist": "constant", "value_ms": 0}})
    database = Database(env, scn.database, 1, lambda: window, Outcomes(done=lambda request: None, failed=None))
    lags = iter([0.100, 0.005])
    database._lag = lambda: next(lags)

    def at(t, action):
        """At simulated time `t`, send one query of user 7."""
        def later():
            yield env.timeout(t)
            request = Request(7, env.now, float("inf"), 0, 1, 0, 0)
            request.replica = None  # sent from outside any web replica: one shared pool
            action(request)
        env.process(later())

    at(0.000, database.write)
    at(0.010, database.write)
    at(0.050, database.read)
    at(0.120, database.read)
    env.run(until=1)
    assert window.db_writes == 2 and window.db_reads_replica == 2
    assert window.stale_reads == 1  # the read at 50 ms; the one at 120 ms sees both writes
