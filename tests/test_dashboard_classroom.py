"""The classroom: a presenter opens a room and teaches; learners follow the same lesson, step and charts."""

import json

from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, load_lesson

# One script, two pages: the presenter opens the room on the classroom page and teaches on the lessons page.
PAGE = """
import streamlit as st
from dashboard.pages.classroom import render_classroom
from dashboard.pages.lessons import render_lessons
(render_lessons if st.session_state.get("page") == "lessons" else render_classroom)()
"""


def session(room: str | None = None) -> AppTest:
    """Open the classroom page in a new browser session (optionally with a room link)."""
    at = AppTest.from_string(PAGE, default_timeout=30)
    if room is not None:
        at.query_params["room"] = room
    return at.run()


def presenter(pin: str = "471147") -> tuple[AppTest, str]:
    """Open a room with `pin`, then go to the lessons page; return the session and the room code."""
    at = session()
    at.text_input(key="class_new_pin").set_value(pin).run()
    at.button(key="class_open").click().run()
    code = at.session_state["room_code"]
    at.session_state["page"] = "lessons"
    at.run()
    return at, code


def figure(at: AppTest, index: int = 0) -> dict:
    """Return the Plotly JSON of chart `index`."""
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_a_learner_follows_the_presenters_lesson_step_and_charts():
    teacher, code = presenter()
    learner = session(code.lower())
    assert not learner.exception and not learner.error
    lesson = load_lesson(LESSONS_DIR / "01-one-server")
    assert learner.title[0].value == lesson.title and f"Room {code}" in learner.caption[0].value
    teacher.button(key="lesson_start").click().run()
    for _ in range(3):
        teacher.run()
    teacher.button(key="lesson_next").click().run()
    learner.run()
    assert "Step 2 of 3" in learner.caption[0].value
    assert lesson.read(lesson.steps[1].text).strip() in "\n".join(m.value for m in learner.markdown)
    sim = teacher.session_state["lesson_sim"]
    ours, theirs = figure(learner), figure(teacher)
    assert ours["data"][0]["x"] == [w["t_end_s"] for w in sim.windows] == theirs["data"][0]["x"]
    assert ours["data"][2]["y"] == theirs["data"][2]["y"]  # the same p95 line, not a lookalike
    assert learner.get("graphviz_chart")[0].proto.spec == teacher.get("graphviz_chart")[0].proto.spec


def test_a_control_and_its_mark_reach_the_learner():
    teacher, code = presenter()
    learner = session(code)
    teacher.button(key="lesson_next").click().run()
    teacher.button(key="lesson_start").click().run()
    teacher.number_input(key="lesson_rate_rps").set_value(2.5).run()
    learner.run()
    assert "rate_rps = 2.5" in learner.caption[1].value
    notes = [a["text"] for a in figure(learner)["layout"].get("annotations", [])]
    assert "rate_rps = 2.5" in notes


def test_a_learner_detaches_to_experiment_and_comes_back_in_one_click():
    teacher, code = presenter()
    teacher.button(key="lesson_next").click().run()
    learner = session(code)
    learner.button(key="class_detach").click().run()
    assert learner.session_state["lesson_step"] == 1  # their own copy, at the presenter's step
    learner.number_input(key="lesson_rate_rps").set_value(3.0).run()
    assert learner.session_state["lesson_sim"].settings()["rate_rps"] == 3.0
    assert teacher.session_state["lesson_sim"].settings()["rate_rps"] == 1.0  # the room is untouched
    learner.button(key="class_resync").click().run()
    assert "following the presenter" in learner.caption[0].value


def test_a_learner_steering_their_own_lesson_page_does_not_steer_the_room():
    # Presenter rights live only in the presenting session's state: no link parameter grants them
    # (the store refuses a wrong token: tests/test_store.py), and a learner's lesson page publishes nothing.
    teacher, code = presenter()
    intruder = session(code)
    assert "room_token" not in intruder.session_state
    intruder.session_state["page"] = "lessons"
    intruder.run()
    intruder.button(key="lesson_next").click().run()
    intruder.button(key="lesson_next").click().run()
    learner = session(code)
    assert "Step 1 of 3" in learner.caption[0].value  # the intruder moved only their own copy


def test_a_wrong_pin_is_refused_and_the_right_one_takes_control():
    teacher, code = presenter("471147")
    other = session()
    other.text_input(key="class_claim_code").set_value(code).run()
    other.text_input(key="class_claim_pin").set_value("111111").run()
    other.button(key="class_claim").click().run()
    assert f"PIN: is not the PIN of room {code}" in other.error[0].value
    other.text_input(key="class_claim_pin").set_value("471147").run()
    other.button(key="class_claim").click().run()
    assert other.session_state["room_code"] == code
    teacher.button(key="lesson_next").click().run()  # the first tab has lost control, and is told
    teacher.session_state["page"] = "classroom"
    teacher.run()
    assert any("no longer present the room" in w.value for w in teacher.warning)


def test_joining_a_room_that_does_not_exist_says_so():
    learner = session("ZZZZZZ")
    assert "room ZZZZZZ: not found" in learner.error[0].value
    bad = session("../../etc")
    assert "room code: '??????ETC' is not allowed" in bad.error[0].value


def test_a_bad_pin_is_explained():
    at = session()
    at.text_input(key="class_new_pin").set_value("12").run()
    at.button(key="class_open").click().run()
    assert "PIN: is not allowed: use 6 to 12 digits" in at.error[0].value
    assert "room_code" not in at.session_state
