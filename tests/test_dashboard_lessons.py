"""The lesson player: lessons load from data, steps set up the simulation, controls act on it, the quiz answers."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson

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


@pytest.mark.parametrize("folder", lesson_folders())
def test_every_lesson_plays_every_step_to_its_question(folder):
    lesson = load_lesson(LESSONS_DIR / folder)
    at = page(folder)
    assert at.title[0].value == lesson.title
    assert all(goal in texts(at) for goal in lesson.goals)
    at.button(key="lesson_start").click().run()
    for index, step in enumerate(lesson.steps):
        assert f"Step {index + 1} of {len(lesson.steps)}" in at.caption[0].value
        if step.experiment is not None:
            assert step.experiment.do in texts(at)
            assert any(e.describe() in " ".join(c.value for c in at.caption) for e in step.experiment.claim.expect)
        at.run()
        assert not at.exception and not at.error, (index, [e.value for e in at.error])
        if index < len(lesson.steps) - 1:
            at.button(key="lesson_next").click().run()
    assert at.session_state["lesson_sim"].now > 0
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
    sim = at.session_state["lesson_sim"]
    assert sim.settings()["web_replicas"] == 1 and sim.settings()["rate_rps"] == 5.5
    at.button(key="lesson_next").click().run()
    assert sim.settings()["web_replicas"] == 3
    at.number_input(key="lesson_web_replicas").set_value(5).run()  # the learner wanders off
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_back").click().run()
    assert sim.settings()["web_replicas"] == 3 and sim.settings()["load_balancer"] == "round_robin"


def test_a_control_changes_the_running_simulation_and_its_chart():
    at = page("04-horizontal-scaling")
    at.button(key="lesson_start").click().run()
    for _ in range(3):
        at.run()
    sim = at.session_state["lesson_sim"]
    before = sim.now
    at.number_input(key="lesson_web_replicas").set_value(3).run()
    at.run()
    assert sim.settings()["web_replicas"] == 3 and sim.now > before  # changed live, not restarted
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["data"][0]["x"] == [w["t_end_s"] for w in sim.windows]
    spec = at.get("graphviz_chart")[0].proto.spec
    assert spec.count("lb -> ") == 3  # the diagram shows the three serving replicas (draining ones left out)


def test_taking_a_component_down_fails_requests_until_the_health_check_notices():
    at = page("04-horizontal-scaling")
    for _ in range(3):
        at.button(key="lesson_next").click().run()  # step 4: a replica fails
    at.button(key="lesson_start").click().run()
    at.multiselect(key="lesson_down").select("web-0").run()
    for _ in range(12):
        at.run()
    sim = at.session_state["lesson_sim"]
    assert sim.settings()["down"] == ["web-0"]
    failed = [w["failed"] for w in sim.windows]
    assert sum(failed) > 0 and failed[-1] == 0  # noticed after 10 s, then no more failures
    assert "web-0" in at.get("graphviz_chart")[0].proto.spec


def test_choosing_a_variant_starts_again_as_that_version():
    at = page("06-response-caching")
    assert at.session_state["lesson_sim"].scenario.cache is None
    at.button(key="lesson_start").click().run()
    for _ in range(3):
        at.run()
    at.segmented_control(key="lesson_variant").set_value("cache_1h_ttl").run()
    sim = at.session_state["lesson_sim"]
    assert sim.scenario.cache.ttl_s == 3600 and sim.now == 1  # started again (and ticked once since)
    assert at.session_state["lesson_running"]  # it plays on
    for _ in range(20):
        at.run()
    assert sim.summary()["cache_hits"] > 0
    at.button(key="lesson_next").click().run()
    at.slider(key="lesson_zipf_skew").set_value(0.3).run()
    assert sim.settings()["prompt_keys"]["zipf_skew"] == 0.3


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


def test_reset_starts_the_step_again_from_zero_paused_with_its_settings():
    at = page("04-horizontal-scaling")
    at.button(key="lesson_next").click().run()
    at.button(key="lesson_start").click().run()
    at.number_input(key="lesson_web_replicas").set_value(6).run()
    at.run()
    at.button(key="lesson_reset").click().run()
    sim = at.session_state["lesson_sim"]
    assert sim.now == 0 and not at.session_state["lesson_running"] and at.session_state["lesson_step"] == 1
    assert sim.settings()["web_replicas"] == 3 and at.session_state["lesson_marks"] == []


def test_going_back_undoes_what_a_later_step_changed():
    # Lesson 3, step 4 takes the server down; step 3 offers no way to bring it back, so opening it must.
    lesson = load_lesson(LESSONS_DIR / "03-vertical-scaling")
    at = page("03-vertical-scaling")
    for _ in range(3):
        at.button(key="lesson_next").click().run()
    at.multiselect(key="lesson_down").select("web-0").run()
    assert at.session_state["lesson_sim"].settings()["down"] == ["web-0"]
    at.button(key="lesson_back").click().run()
    sim = at.session_state["lesson_sim"]
    assert sim.settings()["down"] == [] and "down" not in lesson.steps[2].controls
