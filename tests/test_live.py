"""Live runs: stepping, reconfiguring between steps, taking components down, and bounded work."""

import pytest

from engine import Budget, BudgetExceeded, Simulation, load_preset
from tests.helpers import scenario


def test_advance_returns_the_windows_that_closed():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    first = sim.advance(3)
    assert [w["t_end_s"] for w in first] == [1.0, 2.0, 3.0]
    assert sim.advance(0.5) == []
    assert [w["t_end_s"] for w in sim.advance(1.0)] == [4.0]
    assert sim.now == pytest.approx(4.5)
    windows = list(sim.windows)
    assert all(a["t_end_s"] == b["t_start_s"] for a, b in zip(windows, windows[1:]))
    assert sum(w["arrivals"] for w in windows) == sim.summary()["arrivals"] > 0


def test_small_steps_still_close_every_window():
    sim = Simulation(load_preset("single_server"))
    closed = [w["t_end_s"] for _ in range(30) for w in sim.advance(0.1)]
    assert closed == [1.0, 2.0, 3.0]


def test_stepped_run_equals_one_long_run():
    stepped = Simulation(load_preset("horizontal_load_balancer"))
    for _ in range(40):
        stepped.advance(1.5)
    whole = Simulation(load_preset("horizontal_load_balancer"))
    whole.advance(60)
    assert stepped.summary() == whole.summary()


def mean_of(windows, key):
    """Return the mean of one metric over windows."""
    return sum(w[key] for w in windows) / len(windows)


def test_adding_replicas_mid_run_relieves_an_overloaded_tier():
    # 12 req/s x 0.4 s = 4.8 Erlangs on 4 workers: overloaded; on 12 workers: utilisation 0.4.
    scn = scenario(traffic={"rate_rps": 12}, load_balancer={"algorithm": "least_connections"},
                   web={"workers": 4, "handler_ms": {"dist": "exponential", "mean_ms": 400}})
    sim = Simulation(scn)
    before = sim.advance(60)[-30:]
    sim.controls.set_web_replicas(3)
    sim.advance(30)
    after = sim.advance(60)
    assert sim.now == pytest.approx(150)
    assert mean_of(before, "web_utilisation") > 0.97 and sum(w["dropped"] for w in before) > 0
    assert mean_of(after, "web_utilisation") == pytest.approx(0.4, abs=0.1)
    assert sum(w["dropped"] for w in after) == 0
    assert mean_of(after, "latency_p95_s") < 0.2 * mean_of(before, "latency_p95_s")


def test_removed_replicas_drain_without_losing_requests():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.advance(30)
    busy_elsewhere = sum(r.workers.in_system() for r in sim.web.replicas[1:])
    sim.controls.set_arrival_rate(1.0)  # what one replica can take
    sim.controls.set_web_replicas(1)
    assert [r.name for r in sim.web.routable] == ["web-0"]
    windows = sim.advance(60)
    summary = sim.summary()
    assert busy_elsewhere > 0
    assert summary["errors"] == 0
    assert sum(r.workers.in_system() for r in sim.web.replicas) == summary["in_flight"] > 0
    assert len(sim.web.replicas) == 1  # the drained three have left
    assert set(windows[-1]["instances"]) == {"web-0", "web-0-cpu", "db-primary", "db-replica-0", "llm-0"}  # workers and cores


def test_balancer_skips_a_replica_that_is_down_and_uses_it_again_when_back():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.advance(10)
    sim.controls.set_component_up("web-2", False)
    sim.advance(30)
    down = sim.web.replicas[2]
    assert down.workers.in_system() == 0
    started_while_down = sim.advance(10)
    assert sum(w["failed"] for w in started_while_down) == 0
    sim.controls.set_component_up("web-2", True)
    sim.advance(5)
    assert down.workers.in_system() == 0  # the health check (10 s) has not seen it come back yet
    sim.advance(10)
    assert down.workers.in_system() > 0


def test_every_replica_down_fails_requests():
    sim = Simulation(load_preset("single_server"))
    sim.controls.set_component_up("web-0", False)
    windows = sim.advance(20)
    assert sum(w["failed"] for w in windows) == sum(w["arrivals"] for w in windows) > 0


def test_primary_down_fails_writes_but_replicas_keep_serving_reads():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.advance(10)
    sim.controls.set_component_up("db-primary", False)
    windows = sim.advance(30)[5:]
    assert sum(w["failed"] for w in windows) > 0
    assert sum(w["db_reads_replica"] for w in windows) > 0
    assert sum(w["db_writes"] for w in windows) == 0


@pytest.mark.parametrize("algorithm", ["round_robin", "random", "least_connections", "power_of_two"])
def test_every_algorithm_spreads_load_over_all_replicas(algorithm):
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.controls.set_load_balancer(algorithm)
    windows = sim.advance(120)
    load = [
        sum(w["instances"][f"web-{i}"]["utilisation"] for w in windows) for i in range(4)]
    assert min(load) > 0.8 * max(load)


def test_load_aware_balancing_beats_blind_balancing_with_uneven_work():
    # Skewed handler times (p50 60 ms, p99 900 ms) at utilisation 0.82: blind algorithms stack
    # requests behind slow ones; least connections, and nearly as well power of two, avoid them.
    base = scenario(traffic={"rate_rps": 55}, load_balancer={"algorithm": "round_robin"},
                    web={"replicas": 4, "workers": 2, "accept_queue": None,
                         "handler_ms": {"dist": "lognormal", "p50_ms": 60, "p99_ms": 900}})
    p95 = {}
    for algorithm in ("round_robin", "random", "least_connections", "power_of_two"):
        sim = Simulation(base)
        sim.controls.set_load_balancer(algorithm)
        p95[algorithm] = sim.run(600)["latency_p95_s"]
    assert p95["least_connections"] < 0.6 * p95["round_robin"]
    assert p95["power_of_two"] < 0.6 * p95["random"]
    assert p95["power_of_two"] < 1.2 * p95["least_connections"]


def test_changing_the_arrival_rate_acts_from_now():
    sim = Simulation(scenario(traffic={"rate_rps": 10}))
    slow = sim.advance(60)
    sim.controls.set_arrival_rate(50)
    fast = sim.advance(60)
    assert sum(w["arrivals"] for w in slow) == pytest.approx(600, rel=0.15)
    assert sum(w["arrivals"] for w in fast) == pytest.approx(3000, rel=0.1)


ONE = "single_server"
FOUR = "horizontal_load_balancer"


@pytest.mark.parametrize("preset, call, message", [
    (ONE, lambda s: s.controls.set_web_replicas(0), "web.replicas: 0 is not allowed: must be a whole number between 1 and 1,000"),
    (ONE, lambda s: s.controls.set_web_replicas(3), "web.replicas: more than one replica needs a load balancer"),
    (ONE, lambda s: s.controls.set_arrival_rate(-1), "traffic.rate_rps: -1 is not allowed"),
    (ONE, lambda s: s.controls.set_load_balancer("fastest"), "load_balancer.algorithm: 'fastest' is not allowed: choose one of"),
    (ONE, lambda s: s.controls.set_component_up("web-9", False), "component: 'web-9' is not allowed: choose one of web-0"),
    (ONE, lambda s: s.controls.set_llm_replicas(2), "llm.replicas: only a self_hosted LLM has replicas"),
    (ONE, lambda s: s.advance(0), "seconds: 0 is not allowed: must be greater than 0"),
    (ONE, lambda s: (s.controls.set_load_balancer("random"), s.controls.set_web_replicas(2)),
     "web.replicas: 2 is not allowed: only 1 while database.placement is same_server"),
    (FOUR, lambda s: s.controls.set_web_replicas(2.5), "web.replicas: 2.5 is not allowed: must be a whole number between 1 and 1,000"),
    (FOUR, lambda s: s.controls.set_web_workers(2.5), "web.workers: 2.5 is not allowed: must be a whole number"),
    (FOUR, lambda s: s.controls.set_db_read_replicas(1.5), "database.read_replicas: 1.5 is not allowed: must be a whole number"),
    (FOUR, lambda s: s.controls.set_component_up("web-0", "no"), "up: 'no' is not allowed: must be true or false"),
    (FOUR, lambda s: s.controls.set_arrival_rate("fast"), "traffic.rate_rps: 'fast' is not allowed: must be a number"),
])
def test_bad_live_changes_are_refused_with_a_message(preset, call, message):
    sim = Simulation(load_preset(preset))
    with pytest.raises(ValueError) as info:
        call(sim)
    assert str(info.value).startswith(message)


def test_a_step_stops_at_its_request_budget_and_the_run_can_go_on():
    sim = Simulation(scenario(traffic={"rate_rps": 1000}), Budget(max_requests=500))
    with pytest.raises(BudgetExceeded, match="budget of 500 simulated requests"):
        sim.advance(10)
    stopped_at = sim.now
    assert stopped_at == pytest.approx(0.5, rel=0.2)
    sim.budget = Budget()
    sim.advance(5)  # the interrupted step's stop must not cut this one short
    assert sim.now == pytest.approx(stopped_at + 5)


def test_a_step_stops_at_its_wall_clock_budget():
    sim = Simulation(scenario(traffic={"rate_rps": 100_000}), Budget(max_wall_s=0.05))
    with pytest.raises(BudgetExceeded, match="wall-clock budget of 0.05 s"):
        sim.advance(3600)
    assert sim.now < 3600


def test_settings_report_every_live_change():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    assert sim.controls.settings() == {"rate_rps": 5.5, "web_replicas": 4, "web_workers": 9, "load_balancer": "round_robin",
                              "db_read_replicas": 1, "llm_replicas": 1, "down": [], "prompt_keys": None,
                              "client_retries": 0, "retry_budget": None}
    sim.controls.set_arrival_rate(9)
    sim.controls.set_web_replicas(2)
    sim.controls.set_load_balancer("power_of_two")
    sim.controls.set_db_read_replicas(3)
    sim.controls.set_component_up("db-replica-0", False)
    sim.controls.set_client_retries(2)
    sim.controls.set_retry_budget("on")
    sim.advance(1)
    assert sim.controls.settings() == {"rate_rps": 9, "web_replicas": 2, "web_workers": 9, "load_balancer": "power_of_two",
                              "db_read_replicas": 3, "llm_replicas": 1, "down": ["db-replica-0"], "prompt_keys": None,
                              "client_retries": 2, "retry_budget": "on"}


def test_workers_set_live_apply_to_replicas_added_later():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    sim.controls.set_web_workers(50)
    sim.controls.set_web_replicas(6)
    assert [r.workers.servers for r in sim.web.replicas] == [50] * 6
    assert sim.controls.settings()["web_workers"] == 50


def test_a_step_stopped_by_its_budget_resumes_without_losing_a_request():
    interrupted = Simulation(scenario(traffic={"rate_rps": 1000}), Budget(max_requests=2500))
    for _ in range(10):
        try:
            interrupted.advance(10 - interrupted.now)
            break
        except BudgetExceeded:
            continue
    whole = Simulation(scenario(traffic={"rate_rps": 1000})).run(10)
    assert interrupted.now == 10
    assert interrupted.summary()["arrivals"] == whole["arrivals"] > 9000


def test_a_run_can_go_on_after_its_last_part_window():
    sim = Simulation(load_preset("single_server"))
    sim.run(2.5)
    assert [w["t_end_s"] for w in sim.advance(2.5)] == [3.0, 4.0, 5.0]


def test_a_restarted_summary_covers_only_what_follows_the_warm_up():
    sim = Simulation(load_preset("mmc_queue"))
    sim.advance(60)
    sim.restart_summary()
    after = sim.advance(90)
    summary = sim.summary()
    assert summary["t_start_s"] == 60 and summary["t_end_s"] == 150
    assert summary["arrivals"] == sum(w["arrivals"] for w in after)
    assert summary["completions"] == sum(w["completions"] for w in after)
    latencies_mean = sum(w["latency_mean_s"] * w["completions"] for w in after) / summary["completions"]
    assert summary["latency_mean_s"] == pytest.approx(latencies_mean, rel=1e-9)
    assert summary["in_flight"] == after[-1]["in_flight"]  # still counted from time 0: what is out now
    sim.advance(0.5)
    with pytest.raises(ValueError, match="restart_summary: at 150.5 s is not allowed: only on a window boundary"):
        sim.restart_summary()
