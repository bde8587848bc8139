"""Capacity: a sweep over daily users names the component that saturates first."""

import json

from streamlit.testing.v1 import AppTest

from dashboard.pages.capacity import USERS, at_users, first_saturated, measure
from engine import load_preset

PAGE = "from dashboard.pages.capacity import render_capacity\nrender_capacity()\n"


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


def test_the_page_sweeps_with_progress_and_can_be_cancelled():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="capacity_preset").select("separate_database").run()
    at.number_input(key="capacity_seconds").set_value(10).run()
    at.button(key="capacity_start").click().run()
    for _ in range(4):
        at.run()
    assert not at.exception
    done = len(at.session_state["capacity"]["points"])
    assert 0 < done < len(USERS)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["data"][0]["x"] == USERS[:done]
    at.button(key="capacity_cancel").click().run()
    at.run()
    assert len(at.session_state["capacity"]["points"]) <= done + 1
    assert not at.session_state["capacity"]["running"]


def test_a_lesson_scenario_and_the_sandbox_scenario_can_be_swept():
    from curriculum.format import LESSONS_DIR, load_lesson

    page = ("import streamlit as st\nfrom dashboard.pages.capacity import render_capacity\n"
            "from dashboard.pages.sandbox import render_sandbox\n"
            "(render_sandbox if st.session_state.get('page') == 'sandbox' else render_capacity)()\n")
    at = AppTest.from_string(page, default_timeout=60).run()
    options = at.selectbox(key="capacity_preset").options
    assert "Lesson 12: Millions of users" in options and not any(o.startswith("Sandbox") for o in options)
    at.selectbox(key="capacity_preset").select("lesson:12-millions-of-users").run()
    at.button(key="capacity_start").click().run()
    lesson = load_lesson(LESSONS_DIR / "12-millions-of-users")
    assert at.session_state["capacity"]["scenario"] == lesson.build_scenario()
    at.button(key="capacity_cancel").click().run()
    at.session_state["page"] = "sandbox"
    at.run()
    at.session_state["page"] = "capacity"
    at.run()
    assert "Sandbox: Horizontal with load balancer" in at.selectbox(key="capacity_preset").options
    at.selectbox(key="capacity_preset").select("sandbox").run()
    at.button(key="capacity_start").click().run()
    assert at.session_state["capacity"]["scenario"] == at.session_state["sandbox_sim"].scenario


def test_a_point_the_scenario_cannot_take_is_named_not_raised():
    from dashboard.pages.capacity import measure

    point = measure(load_preset("genai_stack"), 1, 10)  # heavy users need at least 2 users
    assert "heavy_users: is not allowed with 1 user" in point["invalid"]
    assert measure(load_preset("genai_stack"), 3, 10)["error_rate"] is not None
