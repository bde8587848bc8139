"""The classroom: a presenter opens a room and teaches; learners follow the same lesson, step and charts."""

from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, load_lesson
from dashboard.classroom.room import readable_diagram
from dashboard.pages.classroom import join_link, qr_png, room_frame
from tests.live_view import chart, errors, frame, names, trace

# One script, two pages: the presenter opens the room on the classroom page and teaches on the lessons page.
PAGE = """
import streamlit as st
from dashboard.pages.classroom import render_classroom
from dashboard.pages.lessons import render_lessons
(render_lessons if st.session_state.get("page") == "lessons" else render_classroom)()
"""


def session(room: str | None = None, present: str | None = None) -> AppTest:
    """Open the classroom page in a new browser session (optionally with a room link, or a room to take back)."""
    at = AppTest.from_string(PAGE, default_timeout=30)
    if room is not None:
        at.query_params["room"] = room
    if present is not None:
        at.query_params["present"] = present
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


def playback(at: AppTest):
    """Return the playback of a session's lesson page."""
    return at.session_state["lesson"].playback


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
    teacher.run()
    learner.run()
    assert "Step 2 of 3" in learner.caption[0].value
    assert lesson.read(lesson.steps[1].text).strip() in "\n".join(m.value for m in learner.markdown)
    ours, theirs = frame(learner), frame(teacher)
    mine, yours = chart(ours, "latency"), chart(theirs, "latency")
    assert trace(mine, "p95")["x"] == trace(yours, "p95")["x"] and trace(mine, "p95")["x"]
    assert trace(mine, "p95")["y"] == trace(yours, "p95")["y"]  # the same p95 line, not a lookalike
    assert ours["diagram"] == readable_diagram(theirs["diagram"]) and ours["headline"] == theirs["headline"]


def test_a_change_its_mark_and_the_before_line_reach_the_learner():
    teacher, code = presenter()
    learner = session(code)
    teacher.button(key="lesson_next").click().run()
    teacher.button(key="lesson_start").click().run()
    teacher.number_input(key="lesson_rate_rps").set_value(2.5).run()
    for _ in range(8):
        teacher.run()
    learner.run()
    latency = chart(frame(learner), "latency")
    assert "Arrival rate = 2.5" in [a["text"] for a in latency["layout"]["annotations"]]
    assert "p95 before" in names(latency) and trace(latency, "p95 before")["y"] == \
        trace(chart(frame(teacher), "latency"), "p95 before")["y"]


def test_a_learner_detaches_to_experiment_and_comes_back_in_one_click():
    teacher, code = presenter()
    teacher.button(key="lesson_next").click().run()
    teacher.run()
    learner = session(code)
    learner.button(key="class_detach").click().run()
    assert learner.session_state["lesson_step"] == 1  # their own copy, at the presenter's step
    assert playback(learner).settings() == playback(teacher).settings()  # set up as the room is now
    assert playback(learner).before is None  # opened afresh: a learner never pays for replaying the room
    learner.number_input(key="lesson_rate_rps").set_value(3.0).run()
    assert playback(learner).settings()["rate_rps"] == 3.0
    assert playback(teacher).settings()["rate_rps"] == 1.0  # the room is untouched
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
    assert f"PIN: is not the PIN of room {code}" in errors(other)[0]
    other.text_input(key="class_claim_pin").set_value("471147").run()
    other.button(key="class_claim").click().run()
    assert other.session_state["room_code"] == code
    teacher.button(key="lesson_next").click().run()  # the first tab has lost control, and is told
    teacher.session_state["page"] = "classroom"
    teacher.run()
    assert any("no longer present the room" in w.value for w in teacher.warning)


def test_a_presenter_who_reloads_takes_the_room_back_where_it_was_and_learners_keep_their_charts():
    teacher, code = presenter("471147")
    teacher.button(key="lesson_next").click().run()
    teacher.button(key="lesson_start").click().run()
    teacher.number_input(key="lesson_rate_rps").set_value(2.5).run()
    for _ in range(6):
        teacher.run()
    learner = session(code)
    drawn = trace(chart(frame(learner), "latency"), "p95")["x"]
    reloaded = session(present=code)  # the same presenter, after a reload: a new session, no token
    assert reloaded.text_input(key="class_claim_code").value == code
    reloaded.text_input(key="class_claim_pin").set_value("471147").run()
    reloaded.button(key="class_claim").click().run()
    assert not reloaded.exception and not reloaded.error
    resumed, before = playback(reloaded), playback(teacher)
    assert reloaded.session_state["lesson_step"] == 1 and resumed.t == before.t  # same step, same moment
    assert list(resumed.now.sim.windows) == list(before.now.sim.windows)  # the very same run, replayed
    assert resumed.before is not None and resumed.marks == before.marks
    assert reloaded.session_state["lesson"].running  # it was playing: it plays on
    reloaded.session_state["page"] = "lessons"
    for _ in range(4):
        reloaded.run()
    learner.run()
    assert "Step 2 of 3" in learner.caption[0].value
    now = trace(chart(frame(learner), "latency"), "p95")["x"]
    assert now[: len(drawn)] == drawn and len(now) > len(drawn)  # the learner's chart went on, not reset
    assert now == sorted(set(now))


def test_the_presenter_sees_the_join_link_and_its_qr_code():
    at = session()
    at.text_input(key="class_new_pin").set_value("471147").run()
    at.button(key="class_open").click().run()
    code = at.session_state["room_code"]
    assert any(c.value.endswith(f"/classroom?room={code}") for c in at.code)
    images = at.get("image")
    assert images and images[0].captions == ["Scan to join"] and images[0].proto.imgs[0].url.endswith(".png")
    assert qr_png(join_link(code))[:8] == b"\x89PNG\r\n\x1a\n"


def test_joining_a_room_that_does_not_exist_says_so():
    learner = session("ZZZZZZ")
    assert "room ZZZZZZ: not found" in errors(learner)[0]
    bad = session("../../etc")
    assert "room code: '??????ETC' is not allowed" in errors(bad)[0]


def test_a_bad_pin_is_explained():
    at = session()
    at.text_input(key="class_new_pin").set_value("12").run()
    at.button(key="class_open").click().run()
    assert "PIN: is not allowed: use 6 to 12 digits" in errors(at)[0]
    assert "room_code" not in at.session_state


def test_a_malformed_room_message_is_left_out_and_never_stops_the_learner():
    from dashboard.classroom.room import readable_state

    teacher, code = presenter()
    teacher.button(key="lesson_start").click().run()
    for _ in range(3):
        teacher.run()
    learner = session(code)
    follower = learner.session_state["class_follower"]
    good = room_frame(follower, False)
    assert good is not None and good["charts"]
    follower.state = {**follower.state, "now": float("inf"), "since": 1e308, "marks": [[1, 2, 3], "x", [65.0, "ok"]],
                      "watched": 5, "step": "two", "span": "forever",
                      "theory": {"servers": True, "service_s": float("nan"), "rate_rps": 1},
                      "diagram": {"columns": [[{"id": "a", "lines": "not a list"}, 7]], "edges": [5]}}
    follower.windows = [*follower.windows, {"t_end_s": float("nan"), "now": {"1": [1]}},
                        {"t_end_s": 9e9, "now": {"t_end_s": 9e9, "1": [10 ** 1000] * 60}}]
    state = readable_state(follower.state)
    assert (state["now"], state["since"], state["marks"], state["watched"], state["span"], state["theory"]) == \
        (0.0, None, [(65.0, "ok")], (), "10", None)
    frame = room_frame(follower, False)
    assert frame is not None and len(chart(frame, "latency")["data"][0]["x"]) == len(good["charts"][0]["figure"]
                                                                                       ["data"][0]["x"])
    assert frame["diagram"]["columns"] == [[{"id": "a", "title": "", "state": "idle", "bottleneck": False, "lines": []}]]
    learner.run()
    assert not learner.exception


def test_learners_predict_in_the_room_and_the_presenter_sees_the_tally_before_the_change():
    lesson = load_lesson(LESSONS_DIR / "01-one-server")
    predict = lesson.steps[1].experiment.predict
    teacher, code = presenter()
    teacher.button(key="lesson_next").click().run()
    first, second = session(code), session(code)
    for learner in (first, second):
        learner.run()
        assert lesson.steps[1].experiment.see not in "\n".join(m.value for m in learner.markdown)  # predict first
    key = f"room_predict_{code}_01-one-server_1"
    first.radio(key=key).set_value(predict.answer).run()
    second.radio(key=key).set_value((predict.answer + 1) % len(predict.choices)).run()
    assert lesson.steps[1].experiment.see in "\n".join(m.value for m in first.markdown)
    teacher.run()
    tally = next(c.value for c in teacher.caption if "The room predicted" in c.value)
    assert "(2 learners)" in tally and f"{predict.choices[predict.answer]}: 1" in tally
    assert not first.exception and not second.exception and not teacher.exception


def test_a_room_carries_the_queue_theory_so_learners_draw_the_same_knee():
    from dashboard.classroom.room import readable_theory
    from dashboard.view.frame import frame as draw

    good = {"servers": 8, "service_s": 0.1, "rate_rps": 56.0}
    assert readable_theory(good) == good
    for bad in (None, [], {"servers": 0, "service_s": 0.1, "rate_rps": 1}, {"servers": 8, "service_s": -1, "rate_rps": 1},
                {"servers": 8.5, "service_s": 0.1, "rate_rps": 1}, {"servers": 8, "service_s": 0.1, "rate_rps": "x"}):
        assert readable_theory(bad) is None
    from dashboard.view.series import point
    from engine import Simulation, load_preset

    points = [point(w) for w in Simulation(load_preset("mmc_queue"), rolling_s=(10.0, 60.0)).advance(20)]
    drawn = draw(points, [], span="10", t_s=20.0, theory=readable_theory(good))
    assert "knee" in [c["id"] for c in drawn["charts"]]
    assert "knee" not in [c["id"] for c in draw(points, [], span="10", t_s=20.0, theory=None)["charts"]]


def test_the_presenter_sees_a_recovery_key_that_takes_the_room_back_when_pin_tries_are_locked(monkeypatch):
    from dashboard.classroom import store

    at = session()
    at.text_input(key="class_new_pin").set_value("471147").run()
    at.button(key="class_open").click().run()
    code = at.session_state["room_code"]
    recovery = at.session_state["class_recovery"][1]
    assert any(block.value == recovery for block in at.code)  # shown once, in this tab only
    monkeypatch.setitem(store.LIMITS, "pin_room", (0, 60))  # as if a crowd had used up the room's PIN tries
    other = session()
    other.text_input(key="class_claim_code").set_value(code).run()
    other.text_input(key="class_claim_pin").set_value("471147").run()
    other.button(key="class_claim").click().run()
    assert "its recovery key still works" in errors(other)[0].replace("\\", "")
    other.text_input(key="class_claim_recovery").set_value(recovery).run()
    other.button(key="class_claim").click().run()
    assert other.session_state["room_code"] == code and not other.error


def test_room_codes_tried_are_limited_per_address(monkeypatch):
    from dashboard.classroom import store

    monkeypatch.setitem(store.LIMITS, "join", (3, 60))
    learner = session()
    for _ in range(3):
        learner.text_input(key="class_join_code").set_value("ZZZZZZ").run()
        learner.button(key="class_join").click().run()
        assert "not found" in errors(learner)[0]
    fresh = session()  # a new session from the same address does not start the count again
    fresh.text_input(key="class_join_code").set_value("ZZZZZZ").run()
    fresh.button(key="class_join").click().run()
    assert "room codes tried from this address: too many: try again in" in errors(fresh)[0].replace("\\", "")
