"""Capacity: a sweep over daily users names the component that saturates first."""

import json

from streamlit.testing.v1 import AppTest

import pytest

from dashboard.pages.capacity import _figure, money_ticks, sweep_points
from engine import load_preset
from engine.capacity import USERS, at_users, first_saturated, measure

PAGE = "from dashboard.pages.capacity import render_capacity\nrender_capacity()\n"


pytestmark = pytest.mark.usefixtures("jobs_in_process")  # tests/conftest.py


def test_users_set_the_rate_and_the_first_saturated_component_is_named():
    scenario = load_preset("separate_database")
    assert at_users(scenario, 86_400).traffic.base_rate_rps() == 86_400 * 10 / 86_400 * 2  # 10 per day, peak x2
    points = [measure(scenario, users, 60) for users in (1_000, 10_000, 100_000)]
    assert [p["users"] for p in points] == [1_000, 10_000, 100_000]
    limit = first_saturated(points)
    # One medium replica (9 workers held ~4.5 s each) serves 2 req/s: 10,000 users at 10 requests a
    # day and a peak of 2x ask for 2.3 req/s, so the web tier gives way first.
    assert limit["users"] == 10_000 and limit["busiest"] == "web"
    assert points[0]["error_rate"] == 0 and points[-1]["error_rate"] > 0.5
    assert points[-1]["usd_per_month"] > points[0]["usd_per_month"]


def test_the_page_sweeps_with_progress_and_can_be_cancelled(monkeypatch):
    # A whole sweep of 60 s points takes under a second here, so an ungated sweep can end before the
    # click on Cancel arrives (it did on CI). Each point waits at a gate until the test has cancelled.
    import threading

    import dashboard.pages.capacity as capacity

    gate, measured = threading.Event(), []

    def gated(*args):
        gate.wait(60)
        measured.append(args[1])
        return measure(*args)

    monkeypatch.setattr(capacity, "measure", gated)
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="pick_Scenario_preset").select("separate_database").run()
    at.number_input(key="capacity_seconds").set_value(60).run()
    at.button(key="capacity_start").click().run()
    job = at.session_state["capacity"]["job"]
    assert job.running and at.button(key="capacity_cancel").disabled is False
    at.button(key="capacity_cancel").click().run()
    job.wait(60)
    assert not job.running  # the sweep stopped while its first point was still being measured
    gate.set()
    job.executor.submit(lambda: None).result(60)  # the one worker thread has done all it will do
    at.run().run()
    assert not at.exception
    assert sweep_points(at.session_state["capacity"]) == []  # nothing had come back: nothing is shown
    assert measured == [USERS[0]]  # the points not yet started were dropped, never measured
    assert at.button(key="capacity_start").disabled is False


def test_a_full_sweep_names_the_first_tier_to_saturate_in_words_and_plots_three_panels():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="pick_Scenario_preset").select("separate_database").run()
    at.number_input(key="capacity_seconds").set_value(10).run()
    at.button(key="capacity_start").click().run()
    at.session_state["capacity"]["job"].wait(120)
    at.run().run()
    assert not at.exception
    sweep = at.session_state["capacity"]
    points = sweep_points(sweep)
    assert len(points) == len(USERS) and not sweep["job"].running
    assert at.get("progress")[0].proto.text.startswith(f"{len(USERS)} of {len(USERS)} points on this process")
    limit = first_saturated(points)
    assert limit["busiest"] == "web"
    assert at.warning[0].value.startswith(f"First to saturate: **web tier** ({limit['busiest_utilisation']:.0%} busy) "
                                          f"at {limit['users']:,} daily users")
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    layout = figure["layout"]
    p95, errors, cost = figure["data"]
    assert [trace["yaxis"] for trace in figure["data"]] == ["y", "y2", "y3"]
    assert p95["x"] == errors["x"] == cost["x"] == USERS
    assert cost["y"] == [p["usd_per_month"] for p in points]
    assert [layout[f"yaxis{n}"]["title"]["text"] for n in ("", "2", "3")] == \
        ["p95 latency (s)", "error rate (%)", "USD per month ($)"]
    assert layout["yaxis2"]["tickformat"] == ".0%"
    money = layout["yaxis3"]
    assert money["type"] == "log" and money.get("showticklabels", True)
    assert money["ticktext"] == ["$200", "$500", "$1k", "$2k", "$5k", "$10k", "$20k"]  # $290 to $19k a month
    for axis in ("xaxis", "xaxis2", "xaxis3"):
        assert layout[axis]["type"] == "log"
    assert layout["xaxis3"]["ticktext"] == ["1", "10", "100", "1k", "10k", "100k", "1M", "10M"]
    assert layout["xaxis3"]["title"]["text"] == "daily active users"
    assert layout["xaxis"]["matches"] == layout["xaxis2"]["matches"] == "x3"  # one users axis for all three


def test_money_ticks_label_at_least_two_ticks_inside_the_range():
    span, values, labels = money_ticks([120.0, 150.0])
    assert len(labels) >= 2 and all(label.startswith("$") for label in labels)
    assert 10 ** span[0] <= min(values) and max(values) <= 10 ** span[1]
    assert money_ticks([50.0, 3e6])[2] == ["$100", "$1k", "$10k", "$100k", "$1M"]
    assert money_ticks([None]) == ([], [], [])


def test_points_the_sweep_could_not_measure_are_left_out_of_the_figure():
    points = [{"users": 1, "stopped": False, "invalid": "heavy_users"},
              {"users": 10, "stopped": False, "p95_s": 0.5, "error_rate": 0.0, "usd_per_month": 300.0},
              {"users": 100, "stopped": True}]
    figure = json.loads(_figure(points).to_json())
    assert [trace["x"] for trace in figure["data"]] == [[10], [10], [10]]


def test_a_lesson_step_and_the_sandbox_with_its_live_changes_can_be_swept():
    """The page chooses its scenario as Compare and Search do: the sandbox's comes with its live changes."""
    from dashboard.view.scenario_source import lesson_step_scenario

    page = ("import streamlit as st\nfrom dashboard.pages.capacity import render_capacity\n"
            "from dashboard.pages.sandbox import render_sandbox\n"
            "(render_sandbox if st.session_state.get('page') == 'sandbox' else render_capacity)()\n")
    at = AppTest.from_string(page, default_timeout=60).run()
    at.selectbox(key="pick_Scenario_source").select("lesson").run()
    at.selectbox(key="pick_Scenario_lesson").select("15-millions-of-users/0/open").run()
    at.button(key="capacity_start").click().run()
    assert at.session_state["capacity"]["scenario"] == lesson_step_scenario("15-millions-of-users/0/open")
    at.button(key="capacity_cancel").click().run()
    at.session_state["capacity"]["job"].wait(60)
    at.selectbox(key="pick_Scenario_source").select("sandbox").run()
    assert "Open the Sandbox first" in at.info[0].value and at.button(key="capacity_start").disabled
    at.session_state["page"] = "sandbox"
    at.run()
    at.button(key="sandbox_start").click().run()
    at.number_input(key="sandbox_web_replicas").set_value(6).run()  # a live change
    at.run()
    at.session_state["page"] = "capacity"
    at.run()
    at.selectbox(key="pick_Scenario_source").select("sandbox").run()  # a page's choices start afresh on return
    at.button(key="capacity_start").click().run()
    swept = at.session_state["capacity"]["scenario"]
    assert swept.web.replicas == 6 and swept.traffic == load_preset("horizontal_load_balancer").traffic


def test_a_point_the_scenario_cannot_take_is_named_not_raised():
    point = measure(load_preset("genai_stack"), 1, 10)  # heavy users need at least 2 users
    assert "heavy_users: is not allowed with 1 user" in point["invalid"]
    assert measure(load_preset("genai_stack"), 3, 10)["error_rate"] is not None
