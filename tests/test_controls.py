"""The control registry: each live control once, its range read from the scenario schema, used everywhere."""

import pytest

from curriculum.format import Step
from engine import Simulation, load_preset
from engine.controls import CONTROLS, apply_control, read_controls
from engine.scenario import Database, PromptKeys, SelfHostedLLM, Traffic, Web


def _schema(model, field):
    """Return the (low, high) of a schema field, straight from pydantic."""
    low = high = None
    for constraint in model.model_fields[field].metadata:
        low = getattr(constraint, "ge", None) if getattr(constraint, "ge", None) is not None else \
            getattr(constraint, "gt", low)
        high = getattr(constraint, "le", high)
    return low, high


@pytest.mark.parametrize("name, model, field", [
    ("rate_rps", Traffic, "rate_rps"), ("web_replicas", Web, "replicas"), ("web_workers", Web, "workers"),
    ("db_read_replicas", Database, "read_replicas"), ("zipf_skew", PromptKeys, "zipf_skew"),
    ("llm_replicas", SelfHostedLLM, "replicas"),
])
def test_ranges_come_from_the_schema(name, model, field):
    assert CONTROLS[name].bounds == _schema(model, field)


def test_the_lesson_format_offers_exactly_the_registry_and_variants():
    offered = set(Step.model_fields["controls"].annotation.__args__[0].__args__)
    assert offered == set(CONTROLS) | {"variant"}


def test_reading_every_control_and_which_ones_apply():
    sim = Simulation(load_preset("single_server"))
    values = read_controls(sim)
    assert values["web_replicas"] == 1 and values["load_balancer"] is None and values["db_read_replicas"] is None
    assert [name for name, c in CONTROLS.items() if c.applies(sim)] == ["rate_rps", "web_replicas", "load_balancer",
                                                                        "web_workers", "client_retries",
                                                                        "down"]


def test_a_bad_value_or_name_is_refused_naming_the_field_and_the_range():
    sim = Simulation(load_preset("horizontal_load_balancer"))
    with pytest.raises(ValueError, match=r"web.replicas: 0 is not allowed: must be a whole number between 1 and 1,000"):
        apply_control(sim, "web_replicas", 0)
    with pytest.raises(ValueError, match=r"traffic.rate_rps: 0 is not allowed: must be a number above 0"):
        apply_control(sim, "rate_rps", 0)
    with pytest.raises(ValueError, match=r"control: 'warp' is not allowed: choose one of rate_rps"):
        apply_control(sim, "warp", 1)
    with pytest.raises(ValueError, match="down: .* is not allowed"):
        apply_control(sim, "down", "web-0")


def test_the_running_scenario_carries_every_live_change_and_runs_as_the_live_run_did():
    """Issue 14: a team raised replicas from 4 to 6 live, and the share link still said 4."""
    from engine import Simulation, load_preset
    from engine.controls import live_changes, running_scenario

    changes = {"web_replicas": 6, "rate_rps": 9.0, "load_balancer": "least_connections", "web_workers": 12,
               "db_read_replicas": 2, "client_retries": 2, "retry_budget": "on"}
    live = Simulation(load_preset("horizontal_load_balancer"))
    for name, value in changes.items():
        apply_control(live, name, value)
    exported = running_scenario(live, name="Six replicas", description="edited live")
    assert (exported.web.replicas, exported.traffic.rate_rps, exported.load_balancer.algorithm, exported.web.workers,
            exported.database.read_replicas, exported.traffic.retries.max_attempts) == (6, 9.0, "least_connections", 12,
                                                                                       2, 3)
    assert exported.traffic.retries.budget is not None and exported.name == "Six replicas"
    again, before = Simulation(exported).run(120), live.run(120)  # what is exported runs as the live run did
    assert again["completions"] == before["completions"] and again["errors"] == before["errors"]
    for metric in ("latency_p50_s", "latency_p95_s", "usd_total", "db_primary_utilisation", "web_utilisation"):
        assert again[metric] == pytest.approx(before[metric], rel=1e-3)  # (live-set workers book their first instant apart)
    assert live_changes(Simulation(exported)) == {}  # and carries nothing more


def test_a_live_rate_on_users_or_a_trace_is_exported_in_their_own_terms():
    from engine import Simulation, load_preset
    from engine.controls import running_scenario
    from tests.helpers import scenario as make

    users = Simulation(make(traffic={"rate_rps": None, "users": {"daily_active": 100_000, "requests_per_user_per_day": 10,
                                                                  "peak_to_average": 2}}))
    apply_control(users, "rate_rps", users.arrivals.rate_setting_rps() * 3)
    assert running_scenario(users).traffic.users.daily_active == 300_000
    trace = Simulation(make(traffic={"rate_rps": None, "trace": {"speedup": 1.0}}))
    apply_control(trace, "rate_rps", trace.arrivals.rate_setting_rps() * 2)
    assert running_scenario(trace).traffic.trace.speedup == pytest.approx(2.0)
    autoscaled = Simulation(load_preset("horizontal_load_balancer"))
    assert running_scenario(autoscaled) is autoscaled.scenario  # nothing changed: nothing to derive
