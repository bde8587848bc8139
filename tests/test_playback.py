"""Playback: a change starts a "before" run on identical traffic; a new version continues the time axis."""

import pytest

from curriculum.playback import Playback
from engine import load_preset
from engine.loading import derive


def warm(preset: str = "horizontal_load_balancer", seconds: float = 30.0) -> Playback:
    """Return a playback of a preset, played `seconds`."""
    playback = Playback(load_preset(preset), "as given")
    playback.warm_up(seconds)
    return playback


def test_the_first_change_starts_a_before_run_that_was_the_same_run_until_now():
    playback = warm()
    playback.change("web_replicas", 2)
    assert playback.before is not None and playback.since == playback.t == 30
    assert list(playback.before.sim.windows) == list(playback.now.sim.windows)  # one run until the change
    assert playback.before.sim.controls.settings()["web_replicas"] == 4 and playback.settings()["web_replicas"] == 2
    assert playback.marks == [(30.0, "Web replicas = 2")]


def test_after_the_change_both_runs_see_the_same_arrivals_and_part():
    playback = warm()
    playback.change("web_replicas", 2)
    for _ in range(40):
        playback.advance(1.0)
    now, before = list(playback.now.sim.windows)[-40:], list(playback.before.sim.windows)[-40:]
    assert [w["arrivals"] for w in now] == [w["arrivals"] for w in before]
    assert [w["t_end_s"] for w in now] == [w["t_end_s"] for w in before]
    # Two replicas do the work of four: they are far busier (the lines part at the change).
    assert now[-1]["rolled"][10.0]["web_utilisation"] > 1.5 * before[-1]["rolled"][10.0]["web_utilisation"]
    assert now[-1]["rolled"]["since"]["t_start_s"] == before[-1]["rolled"]["since"]["t_start_s"] == 30


def test_later_changes_act_on_the_now_run_only():
    playback = warm()
    playback.change("web_replicas", 2)
    playback.advance(5.0)
    playback.change("web_replicas", 3)
    assert playback.before.sim.controls.settings()["web_replicas"] == 4 and playback.settings()["web_replicas"] == 3
    assert len(playback.marks) == 2


def test_a_refused_change_changes_nothing():
    playback = warm("single_server")
    with pytest.raises(ValueError, match="load balancer"):
        playback.change("web_replicas", 3)
    assert playback.before is None and playback.marks == [] and playback.now.changes == []


def test_a_new_version_goes_on_from_now_and_the_old_one_becomes_before():
    scenario = load_preset("horizontal_load_balancer")
    playback = warm()
    playback.change("rate_rps", 7.0)  # a change the new version must replay too
    playback.advance(10.0)
    bigger = derive(scenario, {"web": {"size": "large"}}, "large web")
    playback.switch(bigger, "large")
    assert playback.t == 40 and playback.now.label == "large" and playback.before.label == "as given"
    assert playback.now.sim.controls.settings()["rate_rps"] == 7.0  # the same changes, at the same times
    assert playback.since == 30  # the comparison still counts from the first change
    assert playback.now.sim.windows[-1]["rolled"]["since"]["t_start_s"] == 30
    assert playback.marks[-1] == (40.0, "version: large")


def test_a_new_version_that_refuses_a_change_says_so():
    playback = Playback(load_preset("separate_database"), "separate")
    playback.change("db_read_replicas", 1)
    playback.switch(load_preset("single_server"), "single")
    assert any("database.read_replicas" in note for note in playback.notes)
    assert playback.now.changes == []


def test_a_playback_saved_as_data_resumes_exactly():
    scenario = load_preset("horizontal_load_balancer")
    playback = warm()
    playback.change("web_replicas", 2)
    playback.advance(12.0)
    resumed = Playback.from_data(playback.as_data(), lambda label: scenario)
    assert resumed.t == playback.t and resumed.marks == playback.marks and resumed.since == playback.since
    assert list(resumed.now.sim.windows) == list(playback.now.sim.windows)
    assert list(resumed.before.sim.windows) == list(playback.before.sim.windows)
    with pytest.raises(ValueError, match="cannot be resumed"):
        Playback.from_data({"now": {}}, lambda label: scenario)


def test_forgetting_before_ends_the_comparison():
    playback = warm()
    playback.change("web_replicas", 2)
    playback.forget_before()
    assert playback.before is None and playback.since is None
    playback.change("web_replicas", 3)
    assert playback.before.sim.controls.settings()["web_replicas"] == 2


def test_a_run_stopped_by_the_wall_clock_still_replays_exactly():
    # A tick cut short by the clock stops between two events of one instant; a change made then must
    # land where a replay puts it, or a resumed room and a "before" line would drift from the run.
    scenario = load_preset("genai_stack")
    playback = warm("genai_stack")
    for _ in range(20):
        playback.advance(5.0, max_wall_s=1e-4)  # cut short every time
    playback.change("rate_rps", 8.0)
    for _ in range(10):
        playback.advance(2.0, max_wall_s=1e-4)
    playback.change("web_replicas", 3)
    playback.advance(20.0)
    resumed = Playback.from_data(playback.as_data(), lambda label: scenario)
    assert list(resumed.now.sim.windows) == list(playback.now.sim.windows)


def test_a_comparison_that_cannot_be_replayed_in_time_says_so_once(monkeypatch):
    playback = warm()
    monkeypatch.setattr("curriculum.playback.REPLAY_WALL_S", 1e-6)
    playback.change("web_replicas", 2)
    assert playback.before is None and playback.cannot_compare and "Reset" in playback.notes[0]
    playback.notes = []
    playback.change("web_replicas", 3)  # not tried again: it would stall the page each time
    assert playback.before is None and playback.notes == []


def test_marks_are_bounded():
    from curriculum.playback import MAX_MARKS

    playback = warm()
    for value in range(MAX_MARKS + 50):
        playback.change("rate_rps", 1.0 + value % 7)
    assert len(playback.marks) == MAX_MARKS


def test_a_run_of_eleven_thousand_instances_remembers_fewer_windows_and_says_so():
    # Each remembered window keeps every instance's figures: 11,000 instances (a 740-character link) held 1.7 GB
    # and growing in one session. The run keeps 600,000 instance-windows; the presets keep all 300 windows.
    from engine import parse_scenario

    heavy = parse_scenario({
        "traffic": {"rate_rps": 1}, "load_balancer": {}, "window_s": 0.01,
        "web": {"replicas": 1000, "db_reads_per_request": 0, "db_writes_per_request": 0},
        "llm": {"kind": "router", "deployments": [{"kind": "self_hosted", "name": f"d{i}", "replicas": 200}
                                                 for i in range(50)]}})
    assert heavy.most_instances() == 11_000
    playback = Playback(heavy, "heavy")
    assert playback.now.sim.history_windows == 600_000 // 11_000 == 54
    assert playback.notes == ["This architecture runs up to 11,000 instances, each with its own figures in every "
                              "window: the charts keep its last 54 windows, not 300."]
    playback.advance(1.0, max_wall_s=30)
    assert len(playback.now.sim.windows) == 54
    autoscaled = derive(load_preset("full_stack"), {"web": {"autoscale": {"max_replicas": 1000}}}, "test")
    assert autoscaled.most_instances() == load_preset("full_stack").most_instances() - autoscaled.web.replicas + 1000
    for name in ("full_stack", "genai_stack"):
        assert Playback(load_preset(name), name).now.sim.history_windows == 300
