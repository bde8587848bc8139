"""Replay: the same scenario with the same changes at the same times is the same run, window for window."""

import pytest

from engine import Budget, BudgetExceeded, Simulation, load_preset
from engine.controls import apply_control
from engine.replay import Change, replay

PLAN = {25: ("rate_rps", 9.0), 60: ("web_replicas", 2), 90: ("down", ["web-0"]), 120: ("down", []),
        150: ("load_balancer", "least_connections")}


def played_live(preset: str, tick_s: float) -> tuple[Simulation, list[Change]]:
    """Play a preset in ticks, changing it as PLAN says, and note the changes."""
    sim, changes = Simulation(load_preset(preset)), []
    for tick in range(1, 200):
        sim.advance(tick_s)
        if tick in PLAN:
            control, value = PLAN[tick]
            apply_control(sim, control, value)
            changes.append(Change(sim.now, control, value))
    return sim, changes


@pytest.mark.parametrize("preset", ["horizontal_load_balancer", "genai_stack", "full_stack"])
def test_a_replay_is_the_run_it_replays(preset):
    live, changes = played_live(preset, 0.4)
    again = replay(load_preset(preset), changes, live.now)
    assert again.now == live.now
    assert list(again.windows) == list(live.windows)


def test_a_refused_change_is_listed_or_raised():
    scenario = load_preset("single_server")
    changes = [Change(5.0, "db_read_replicas", 2), Change(6.0, "rate_rps", 3.0)]
    refused = []
    sim = replay(scenario, changes, 10.0, refused=refused)
    assert [change for change, _ in refused] == [changes[0]] and "same_server" in refused[0][1]
    assert sim.controls.settings()["rate_rps"] == 3.0
    with pytest.raises(ValueError, match="database.read_replicas"):
        replay(scenario, changes, 10.0)


def test_changes_survive_as_data():
    change = Change(12.5, "down", ["web-0"])
    assert Change.from_data(change.as_data()) == change
    for bad in ([1, 2], ["x", "rate_rps", 1], [-1, "rate_rps", 2], "rate_rps", [True, "rate_rps", 1]):
        with pytest.raises(ValueError, match="change: .* is not allowed"):
            Change.from_data(bad)


def test_a_replay_is_bounded_by_its_wall_clock_budget():
    with pytest.raises(BudgetExceeded):
        replay(load_preset("genai_stack"), [], 10_000.0, budget=Budget(max_wall_s=0.05))
