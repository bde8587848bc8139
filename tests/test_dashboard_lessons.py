"""The lesson player: lessons load from data, steps set up the simulation, controls act on it."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lessons import LESSONS_DIR, load_lesson

PAGE = "from dashboard.lessons import render_lessons\nrender_lessons()\n"


def page(lesson: str | None = None) -> AppTest:
    """Open the lesson player (on `lesson` if given) with no exception."""
    at = AppTest.from_string(PAGE, default_timeout=15).run()
    if lesson is not None:
        at.selectbox(key="lesson_chosen").select(lesson).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("folder", sorted(p.name for p in LESSONS_DIR.iterdir() if p.is_dir()))
def test_every_lesson_loads_and_plays_every_step(folder):
    lesson = load_lesson(LESSONS_DIR / folder)
    at = page(folder)
    assert at.title[0].value == lesson.title
    at.button(key="lesson_start").click().run()
    for index in range(len(lesson.steps)):
        assert f"Step {index + 1} of {len(lesson.steps)}" in at.caption[0].value
        assert at.info[0].value == lesson.steps[index].experiment
        at.run()
        assert not at.exception and not at.error
        if index < len(lesson.steps) - 1:
            at.button(key="lesson_next").click().run()
    assert at.session_state["lesson_sim"].now > 0


def test_a_step_sets_up_the_scenario_it_claims():
    at = page("02-horizontal-scaling")
    sim = at.session_state["lesson_sim"]
    assert sim.settings()["web_replicas"] == 1 and sim.settings()["rate_rps"] == 5.5
    at.button(key="lesson_next").click().run()
    assert sim.settings()["rate_rps"] == 12
    at.button(key="lesson_next").click().run()
    assert sim.settings()["web_replicas"] == 4
    assert at.selectbox(key="lesson_load_balancer").value == "round_robin"


def test_a_control_changes_the_running_simulation_and_its_chart():
    at = page("02-horizontal-scaling")
    at.button(key="lesson_next").click().run()          # step 2: rate and replicas
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


def test_the_caching_lesson_shows_hits_and_its_skew_control_works():
    at = page("03-response-caching")
    at.button(key="lesson_start").click().run()
    for _ in range(20):
        at.run()
    sim = at.session_state["lesson_sim"]
    assert sim.summary()["cache_hits"] > 0
    at.button(key="lesson_next").click().run()
    at.slider(key="lesson_zipf_skew").set_value(0.3).run()
    assert sim.settings()["prompt_keys"]["zipf_skew"] == 0.3


def test_a_broken_lesson_is_reported_not_raised(tmp_path):
    (tmp_path / "lesson.yaml").write_text("title: x\nsummary: y\nscenario: single_server\n"
                                         "steps: [{text: missing.md, experiment: z, controls: [warp]}]\n")
    with pytest.raises(ValueError) as info:
        load_lesson(tmp_path)
    message = str(info.value)
    assert "steps.0.controls.0" in message and "rate_rps" in message
