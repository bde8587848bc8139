"""The first-visit tour: under five minutes, one change made on a live simulation, one effect seen, skippable."""

from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, load_lesson
from curriculum.tour import load_tour

PAGE = """
import streamlit as st
from dashboard.pages.home import TOUR_DONE, _draw_tour, tour
if not st.session_state.get(TOUR_DONE):
    _draw_tour(tour())
else:
    st.markdown("tour closed")
"""


def test_the_tour_is_short_and_its_one_live_step_plays_a_lesson_step_with_a_control():
    tour = load_tour()
    assert tour.minutes() < 5
    assert sum(step.live for step in tour.steps) == 1
    step = load_lesson(LESSONS_DIR / tour.live.lesson).steps[tour.live.step]
    assert step.controls  # the one change the tour asks for is a control the step offers


def test_the_tour_goes_from_what_this_is_to_a_change_seen_to_where_next():
    tour = load_tour()
    at = AppTest.from_string(PAGE, default_timeout=30).run()
    assert at.subheader[0].value == tour.steps[0].title and "step 1 of" in at.caption[0].value
    at.button(key="tour_next").click().run()
    assert at.subheader[0].value == tour.steps[1].title
    at.button(key="tour_start").click().run()
    at.number_input(key="tour_rate_rps").set_value(2.5).run()
    for _ in range(60):  # 12 s of wall time at the step's 10x: two simulated minutes
        at.run()
    playback = at.session_state["tour"].playback
    assert playback.before is not None  # the change shows against the run before it
    now, before = (track.sim.windows[-1]["rolled"][10.0]["latency_p95_s"] for track in (playback.now, playback.before))
    assert now > 2 * before  # the effect: p95 climbs as a queue builds
    for _ in range(len(tour.steps) - 2):
        at.button(key="tour_next").click().run()
    assert at.subheader[0].value == tour.steps[-1].title
    at.button(key="tour_finish").click().run()
    assert at.markdown[-1].value == "tour closed" and not at.session_state["tour"].running
    assert not at.exception


def test_the_tour_can_be_skipped_at_once():
    at = AppTest.from_string(PAGE, default_timeout=30).run()
    at.button(key="tour_skip").click().run()
    assert at.markdown[-1].value == "tour closed" and "tour" not in at.session_state  # nothing was simulated
