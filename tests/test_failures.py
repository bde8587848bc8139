"""Failures: what breaks, for how long, and what keeps working."""

import pytest

from engine import ScenarioError, Simulation, load_preset, parse_scenario
from engine.loading import scenario_to_data
from tests.helpers import deep_merge


def preset(**changes):
    """The horizontal preset (4 web replicas, a primary with a read replica), changed."""
    return parse_scenario(deep_merge(scenario_to_data(load_preset("horizontal_load_balancer")), changes))


def failed_between(windows, start, end):
    """Return the failed requests in windows ending in (start, end]."""
    return sum(w["failed"] for w in windows if start < w["t_end_s"] <= end)


def test_a_crashed_replica_gets_requests_until_the_health_check_notices():
    sim = Simulation(preset(traffic={"rate_rps": 20}, load_balancer={"health_check_s": 10}))
    sim.advance(60)
    held = len(sim.web.replicas[1].inside)
    sim.controls.set_component_up("web-1", False)
    windows = sim.advance(60)
    # The requests web-1 held fail with it; then round robin keeps sending it a quarter of the
    # traffic for 10 s, and those fail too.
    assert held > 10
    assert failed_between(windows, 60, 70) - held == pytest.approx(0.25 * 20 * 10, rel=0.3)
    assert failed_between(windows, 71, 120) == 0


def test_a_crashed_web_server_fails_the_requests_it_held_at_once():
    sim = Simulation(preset(traffic={"rate_rps": 20}, load_balancer={"health_check_s": 0}))
    sim.advance(60)
    replica = sim.web.replicas[1]
    held = len(replica.inside)  # waiting for the LLM mostly: each request holds its worker ~4.5 s
    calls = sum(r.running + r.n_waiting for r in sim.llm.replicas)
    sim.controls.set_component_up("web-1", False)
    assert sim.recorder.window.failed == held > 10  # counted at the crash, not when their calls come back
    assert replica.workers.in_system() == 0 and not replica.inside
    # their LLM calls are aborted with them (the model server sees the connection drop)
    assert sum(r.running + r.n_waiting for r in sim.llm.replicas) < calls
    later = sim.advance(60)
    assert sum(w["failed"] for w in later) == held  # nothing is counted twice when their LLM calls end
    sim.controls.set_component_up("web-1", True)
    back = sim.advance(30)
    assert sum(w["failed"] for w in back) == 0 and sum(w["completions"] for w in back) > 0


def test_a_primary_failure_fails_writes_only_until_a_replica_takes_over():
    sim = Simulation(preset(traffic={"rate_rps": 10}, database={"failover_s": 30}))
    sim.advance(60)
    sim.controls.set_component_up("db-primary", False)
    windows = sim.advance(120)
    assert failed_between(windows, 65, 90) > 0
    # After the failover (plus the time requests already in flight take to reach their write),
    # writes go to the promoted replica: no more failures, and one database node fewer to pay for.
    assert failed_between(windows, 110, 180) == 0
    assert sum(w["db_writes"] for w in windows if w["t_end_s"] > 110) > 0
    assert sim.database.primary.name == "db-primary" and sim.database.primary.up
    assert len(sim.database.replicas) == 0
    assert "db-replica-0" not in sim.controls.component_names()


def test_without_a_replica_the_primary_stays_down_until_it_recovers():
    sim = Simulation(preset(traffic={"rate_rps": 10}, database={"read_replicas": 0, "failover_s": 5}))
    sim.advance(30)
    sim.controls.set_component_up("db-primary", False)
    down = sim.advance(60)
    sim.controls.set_component_up("db-primary", True)
    back = sim.advance(60)
    assert failed_between(down, 40, 90) > 0.5 * 10 * 50
    assert failed_between(back, 100, 150) == 0


def test_scheduled_failures_do_what_live_ones_do():
    scheduled = Simulation(preset(failures=[{"at_s": 60, "component": "web-1", "action": "fail"},
                                            {"at_s": 120, "component": "web-1", "action": "recover"}]))
    live = Simulation(preset())
    live.advance(60)
    live.controls.set_component_up("web-1", False)
    live.advance(60)
    live.controls.set_component_up("web-1", True)
    assert scheduled.run(180) == live.run(60)
    assert scheduled.summary()["failed"] > 0


def test_an_llm_outage_fails_requests_until_it_is_back():
    sim = Simulation(preset(failures=[{"at_s": 30, "component": "llm-0"},
                                      {"at_s": 60, "component": "llm-0", "action": "recover"}]))
    windows = sim.advance(150)
    assert failed_between(windows, 35, 60) > 0
    assert failed_between(windows, 61, 150) == 0


@pytest.mark.parametrize("failures, message", [
    ([{"at_s": 10, "component": "web-9"}], "failures.0.component: 'web-9' is not allowed: choose one of web-0"),
    ([{"at_s": 10, "component": "db-replica-3"}], "failures.0.component: 'db-replica-3' is not allowed"),
    ([{"at_s": -1, "component": "web-0"}], "failures.0.at_s: -1 is not allowed"),
    ([{"at_s": 1, "component": "web-0", "action": "explode"}], "failures.0.action: 'explode' is not allowed"),
])
def test_bad_failures_are_refused(failures, message):
    with pytest.raises(ScenarioError) as info:
        preset(failures=failures)
    assert any(line.startswith(message) for line in info.value.problems), info.value.problems
