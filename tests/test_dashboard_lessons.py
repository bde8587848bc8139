"""The lesson player: lessons load from data, steps set up the simulation, controls act on it, the quiz answers."""

import pytest
from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson
from dashboard.view.series import shown_as
from tests.live_view import chart, frame, names, nodes, trace

PAGE = "from dashboard.pages.lessons import render_lessons\nrender_lessons()\n"


def page(lesson: str | None = None) -> AppTest:
    """Open the lesson player (on `lesson` if given) with no exception."""
    at = AppTest.from_string(PAGE, default_timeout=30).run()
    if lesson is not None:
        at.selectbox(key="lesson_chosen").select(lesson).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Return every markdown text on the page, joined."""
    return "\n".join(m.value for m in at.markdown)


def _playback(at: AppTest):
    """Return the lesson's playback."""
    return at.session_state["lesson"].playback


@pytest.mark.parametrize("folder", lesson_folders())
def test_every_lesson_plays_every_step_to_its_question(folder):
    lesson = load_lesson(LESSONS_DIR / folder)
    at = page(folder)
    assert at.title[0].value == lesson.title
    assert all(goal in texts(at) for goal in lesson.goals)
    for index, step in enumerate(lesson.steps):
        assert f"Step {index + 1} of {len(lesson.steps)}" in at.caption[0].value
        assert _playback(at).t == step.opening_warmup_s()  # each step opens warm, paused
        if step.experiment is not None:
            assert step.experiment.do in texts(at)
            assert step.experiment.see not in texts(at)  # predict first: what to expect is not shown yet
            at.radio(key=f"predict_{folder}_{index}").set_value(step.experiment.predict.answer).run()
            assert step.experiment.see in texts(at)
            assert any(e.describe() in " ".join(c.value for c in at.caption) for e in step.experiment.claim.expect)
            watched = [c for c in frame(at)["headline"] if c["watched"]]
            assert len(watched) == len({shown_as(m) for m in step.watched()}) > 0
        at.button(key="lesson_start").click().run()
        at.run()
        assert not at.exception and not at.error, (index, [e.value for e in at.error])
        assert at.session_state["lesson"].speed == step.speed
        if index < len(lesson.steps) - 1:
            at.button(key="lesson_next").click().run()
    quiz = at.radio(key=f"quiz_{folder}")
    assert quiz.label == lesson.quiz.question
    quiz.set_value(lesson.quiz.answer).run()
    assert at.success[0].value.startswith("Right.") and lesson.quiz.why in at.success[0].value


def test_a_wrong_answer_names_the_right_one():
    lesson = load_lesson(LESSONS_DIR / "01-one-server")
    at = page("01-one-server")
    for _ in lesson.steps[1:]:
        at.button(key="lesson_next").click().run()
    at.radio(key="quiz_01-one-server").set_value((lesson.quiz.answer + 1) % len(lesson.quiz.choices)).run()
    assert f'the answer is "{lesson.quiz.choices[lesson.quiz.answer]}"' in at.warning[0].value


def test_a_step_opens_with_the_settings_of_every_step_up_to_it_whichever_way_the_learner_came():
    at = page("04-horizontal-scaling")
    assert _playback(at).settings()["web_replicas"] == 1 and _playback(at).settings()["rate_rps"] == 5.5
    at.button(key="lesson_next").click().run()
    assert _playback(at).settings()["web_replicas"] == 3
    at.number_input(key="lesson_web_replicas").set_value(5).run()  # the learner wanders off
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_back").click().run()
    settings = _playback(at).settings()
    assert settings["web_replicas"] == 3 and settings["load_balancer"] == "round_robin"


def test_the_experiments_change_shows_as_before_and_now_with_the_sign_the_step_claims():
    # Lesson 4, step 1: one replica at 5.5 req/s, then four. p95 must fall, on the same traffic.
    at = page("04-horizontal-scaling")
    at.button(key="lesson_start").click().run()
    changed_at = _playback(at).t
    at.number_input(key="lesson_web_replicas").set_value(4).run()
    for _ in range(80):  # 16 s of wall time at the step's 10x: the queue drains
        at.run()
    playback = _playback(at)
    assert playback.before is not None and playback.since == changed_at
    headline = {cell["metric"]: cell for cell in frame(at)["headline"]}
    p95 = headline["latency_p95_s"]
    assert p95["watched"] and p95["delta"].startswith("−") and p95["verdict"] == "better"
    latency = chart(frame(at), "latency")
    assert {"p95", "p95 before"} <= set(names(latency))
    assert trace(latency, "p95")["y"][-1] < 0.3 * trace(latency, "p95 before")["y"][-1]  # falls by at least 70 %


def test_after_the_change_the_measured_effect_shows_beside_the_prediction_and_why():
    # Lesson 4, step 1: one replica, then four. The learner predicts wrong; the reveal names the answer.
    lesson = load_lesson(LESSONS_DIR / "04-horizontal-scaling")
    predict = lesson.steps[0].experiment.predict
    wrong = (predict.answer + 1) % len(predict.choices)
    at = page("04-horizontal-scaling")
    at.radio(key="predict_04-horizontal-scaling_0").set_value(wrong).run()
    at.button(key="lesson_start").click().run()
    assert not any("What happened" in box.value for box in [*at.success, *at.warning, *at.info])  # nothing changed yet
    at.number_input(key="lesson_web_replicas").set_value(4).run()
    for _ in range(40):
        at.run()
    shown = [box.value for box in at.warning if "What happened" in box.value]
    assert shown, [box.value for box in [*at.success, *at.info]]
    assert f"You predicted “{predict.choices[wrong]}”" in shown[0] and f"the answer: “{predict.choices[predict.answer]}”" in shown[0]
    assert predict.why in shown[0] and "p95 latency" in shown[0] and "→" in shown[0]
    # The same step predicted right says so.
    at.radio(key="predict_04-horizontal-scaling_0").set_value(predict.answer).run()
    at.run()
    assert any("right." in box.value and predict.why in box.value for box in at.success)


def test_switching_the_version_continues_the_time_axis_with_the_old_version_faded():
    at = page("02-separate-database")
    for _ in range(3):
        at.button(key="lesson_next").click().run()  # step 4: kinds of database, at 40 req/s
    at.button(key="lesson_start").click().run()
    at.run()
    switched_at = _playback(at).t
    at.segmented_control(key="lesson_variant").set_value("key_value").run()
    for _ in range(12):
        at.run()
    playback = _playback(at)
    assert playback.t > switched_at > 0  # no restart at t = 0
    assert playback.now.label == "key_value" and playback.before.label == "separate"
    tiers = chart(frame(at), "tiers")
    now, before = trace(tiers, "database primary"), trace(tiers, "database primary before")
    assert now["x"][0] < switched_at <= before["x"][0] + 1  # now drawn from the start, before from the switch
    assert now["y"][-1] < 0.3 * before["y"][-1]  # the claim: utilisation falls by at least 70 %
    util = next(c for c in frame(at)["headline"] if c["metric"] == "db_primary_utilisation")
    assert util["watched"] and util["delta"].startswith("−")
    assert any(text == "version: key_value" for _, text in playback.marks)


def test_taking_a_component_down_fails_requests_until_the_health_check_notices():
    at = page("04-horizontal-scaling")
    for _ in range(3):
        at.button(key="lesson_next").click().run()  # step 4: a replica fails
    at.button(key="lesson_start").click().run()
    at.multiselect(key="lesson_down").select("web-0").run()
    for _ in range(12):  # 30 simulated seconds at the step's 10x
        at.run()
    sim = _playback(at).now.sim
    assert sim.controls.settings()["down"] == ["web-0"]
    failed = [w["failed"] for w in sim.windows if w["t_end_s"] > _playback(at).since]
    assert sum(failed) > 0 and failed[-1] == 0  # noticed after 10 s, then no more failures
    assert nodes(frame(at))["web-0"]["state"] == "down"


def test_instructor_notes_sources_and_the_trace_attribution_are_shown():
    at = page("01-one-server")
    lesson = load_lesson(LESSONS_DIR / "01-one-server")
    assert [e.label for e in at.expander] == ["Instructor notes", "Sources"]
    assert lesson.read(lesson.instructor).strip() in texts(at)
    assert any("Azure LLM inference trace 2023" in c.value and "CC-BY-4.0" in c.value for c in at.caption)


def test_a_broken_lesson_is_reported_not_raised(tmp_path):
    (tmp_path / "lesson.yaml").write_text("title: x\nsummary: y\nscenario: single_server\n"
                                         "steps: [{text: missing.md, controls: [warp]}]\n")
    with pytest.raises(ValueError) as info:
        load_lesson(tmp_path)
    message = str(info.value)
    assert "steps.0.controls.0" in message and "rate_rps" in message
    assert "goals: Field required" in message and "quiz: Field required" in message


def test_reset_opens_the_step_again_warm_and_paused_with_its_settings():
    at = page("04-horizontal-scaling")
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_start").click().run()
    at.number_input(key="lesson_web_replicas").set_value(6).run()
    at.run()
    at.button(key="lesson_reset").click().run()
    playback = _playback(at)
    assert playback.t == 60 and not at.session_state["lesson"].running and at.session_state["lesson_step"] == 1
    assert playback.settings()["web_replicas"] == 3 and playback.marks == [] and playback.before is None


def test_going_back_undoes_what_a_later_step_changed():
    # Lesson 3, step 5 takes the server down; step 4 offers no way to bring it back, so opening it must.
    lesson = load_lesson(LESSONS_DIR / "03-vertical-scaling")
    at = page("03-vertical-scaling")
    for _ in range(4):
        at.button(key="lesson_next").click().run()
    at.multiselect(key="lesson_down").select("web-0").run()
    assert _playback(at).settings()["down"] == ["web-0"]
    at.button(key="lesson_back").click().run()
    assert _playback(at).settings()["down"] == [] and "down" not in lesson.steps[3].controls
