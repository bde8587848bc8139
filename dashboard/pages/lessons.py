"""Lessons: a scaling stage told in steps, each with an experiment to try on a live simulation.

A lesson is data in lessons/ (see lessons/README.md and curriculum/): goals, a
scenario to start from, steps of markdown with the controls each offers and the settings it starts
from, experiments whose claims the tests check, a question, instructor notes and sources. Opening
a step applies its settings to the running simulation, so every learner meets the same situation;
the controls then let them change it while it runs. Choosing another version of the scenario (a
variant) starts the simulation again, since what it changes cannot change mid-run.
"""

from __future__ import annotations

import streamlit as st

from dashboard.view.charts import TICK_S, draw_live, play, speed_control
from dashboard.view.controls import current, draw_controls
from curriculum.format import LESSONS_DIR, Lesson, lesson_folders, load_lesson
from engine.controls import CONTROLS, apply_control
from dashboard.pages.live import ATTRIBUTION
from dashboard.classroom.room import NOTICE, presenting, publish
from dashboard.classroom.store import shown
from engine import Budget, ScenarioError, Simulation

BUDGET = Budget(max_requests=2_000_000, max_wall_s=2.0)
SIM, RUNNING, STEP, CHOSEN, ERROR = "lesson_sim", "lesson_running", "lesson_step", "lesson_chosen", "lesson_error"
MARKS = "lesson_marks"  # (simulated time, what changed), drawn on the charts
LESSON, VARIANT = "lesson_object", "lesson_variant_running"


@st.cache_data(show_spinner=False)
def lesson_titles() -> dict[str, str]:
    """Return {folder: "N. title"} for every lesson that loads, read once per process."""
    titles = {}
    for number, folder in enumerate(lesson_folders(), start=1):
        try:
            titles[folder] = f"{number}. {load_lesson(LESSONS_DIR / folder).title}"
        except ValueError:
            titles[folder] = f"{number}. {folder} (cannot be read)"
    return titles


@st.cache_resource(show_spinner=False)
def lesson_named(slug: str) -> Lesson:
    """Return lesson `slug`, read and validated once per process (the classroom reads it on every tick)."""
    if slug not in lesson_folders():
        raise ValueError(f"lesson: '{shown(str(slug))}' is not one this app has")
    return load_lesson(LESSONS_DIR / slug)


def _open(name: str) -> None:
    """Start lesson `name` from its scenario, paused, at its first step."""
    try:
        lesson = load_lesson(LESSONS_DIR / name)
    except ValueError as exc:
        st.session_state[ERROR] = str(exc)
        st.session_state.pop(SIM, None)
        return
    st.session_state[LESSON] = lesson
    st.session_state[VARIANT] = None
    st.session_state[RUNNING] = False
    _restart(None)
    _go_to(0)


def _restart(variant: str | None) -> None:
    """Start the lesson's simulation afresh as `variant` of its scenario (playing on if it was playing)."""
    lesson: Lesson = st.session_state[LESSON]
    try:
        sim = Simulation(lesson.build_scenario(variant), BUDGET, history_windows=300)
    except ScenarioError as exc:
        st.session_state[ERROR] = str(exc)
        return
    st.session_state[SIM], st.session_state[MARKS] = sim, []
    st.session_state[VARIANT] = variant


def _apply(settings: dict, where: str) -> None:
    """Apply control values to the running simulation (a new variant restarts it first)."""
    lesson: Lesson = st.session_state[LESSON]
    variant = settings.get("variant", st.session_state[VARIANT])
    if variant != st.session_state[VARIANT]:
        _restart(variant)
    sim = st.session_state[SIM]
    # Every control first goes back to the scenario's own value, so what a later step or the learner
    # changed does not linger when a step opens; then the lesson's settings apply.
    settings = {**{k: v for k, v in current(Simulation(sim.scenario)).items() if v is not None}, **settings}
    for control, value in settings.items():
        if control == "variant" or value is None:
            continue
        try:
            apply_control(sim, control, value)
        except ValueError as exc:
            st.session_state[ERROR] = f"{lesson.slug}, {where}, {control}: {exc}"


def _go_to(index: int) -> None:
    """Open step `index` with the settings every step up to it sets, whichever way the learner came."""
    lesson: Lesson = st.session_state[LESSON]
    st.session_state[STEP] = index
    sim = st.session_state[SIM]
    if sim.now:
        st.session_state[MARKS].append((sim.now, f"step {index + 1}"))
    _apply(lesson.settings_at(index), f"step {index + 1}")


def _reset() -> None:
    """Start the current step again from time 0, paused, as it opens."""
    st.session_state[RUNNING] = False
    _restart(st.session_state[VARIANT])
    _go_to(st.session_state[STEP])


def _choose_variant() -> None:
    """Start again as the version of the scenario the learner chose, keeping the step's other settings."""
    lesson: Lesson = st.session_state[LESSON]
    settings = {**lesson.settings_at(st.session_state[STEP]), "variant": st.session_state["lesson_variant"]}
    _apply(settings, "variant")


def _tick() -> None:
    """Advance the lesson's simulation while it plays, then redraw the live view."""
    sim = st.session_state[SIM]
    play(sim, RUNNING, ERROR, "lesson_speed")
    view = draw_live(sim, "lesson", st.session_state[MARKS])
    if presenting():  # only a presenter's tick pays for reading the settings and publishing
        publish(sim, view, position())


def position() -> dict:
    """Return where the learner is: lesson, step, version, play state and settings (what a room follows)."""
    lesson: Lesson = st.session_state[LESSON]
    return {"lesson": lesson.slug, "step": st.session_state[STEP], "variant": st.session_state[VARIANT],
            "running": st.session_state[RUNNING], "speed": st.session_state.get("lesson_speed"),
            "settings": current(st.session_state[SIM])}


def open_at(slug: str, step: int, variant: str | None, settings: dict) -> None:
    """Open lesson `slug` at `step` as `variant` with these control values (a learner leaving a room)."""
    st.session_state[CHOSEN] = slug
    _open(slug)
    if SIM not in st.session_state:
        return
    _restart(variant)
    st.session_state[STEP] = step
    live = {k: v for k, v in settings.items() if v is not None and k in CONTROLS}
    _apply(live, "the room's settings")


def _experiment(lesson: Lesson, index: int) -> None:
    """Show the step's experiment: what to do, what to watch, what to expect, and what the tests check."""
    experiment = lesson.steps[index].experiment
    if experiment is None:
        return
    with st.container(border=True):
        st.markdown(f":material/science: **Try it.** {experiment.do}\n\n"
                    f"**Watch:** {experiment.watch}\n\n**You should see:** {experiment.see}")
        claim = experiment.claim
        st.caption(f"Checked by the test suite on identical traffic ({claim.replications} seeds, "
                   f"{claim.measure_s:g} s measured after {claim.warmup_s:g} s of warm-up): "
                   + "; ".join(e.describe() for e in claim.expect) + ".")


def _quiz(lesson: Lesson) -> None:
    """Ask the lesson's question; once answered, say whether it was right and why."""
    quiz = lesson.quiz
    st.subheader("Check your understanding")
    choice = st.radio(quiz.question, range(len(quiz.choices)), format_func=quiz.choices.__getitem__, index=None,
                      key=f"quiz_{lesson.slug}")
    if choice is not None:
        (st.success if choice == quiz.answer else st.warning)(
            ("Right. " if choice == quiz.answer else f"Not quite: the answer is \"{quiz.choices[quiz.answer]}\". ")
            + quiz.why)


def render_lessons() -> None:
    """Render the lesson player."""
    titles = lesson_titles()
    if CHOSEN not in st.session_state:
        st.session_state[CHOSEN] = next(iter(titles))
        _open(st.session_state[CHOSEN])
    st.selectbox("Lesson", list(titles), key=CHOSEN, on_change=lambda: _open(st.session_state[CHOSEN]),
                 format_func=titles.get)
    if ERROR in st.session_state:
        st.error(st.session_state.pop(ERROR))
    if NOTICE in st.session_state:
        st.warning(st.session_state.pop(NOTICE))
    if SIM not in st.session_state:
        return
    lesson: Lesson = st.session_state[LESSON]
    index = st.session_state[STEP]
    step = lesson.steps[index]
    st.title(lesson.title)
    st.caption(f"{lesson.summary} Step {index + 1} of {len(lesson.steps)}.")
    if index == 0:
        st.markdown("**In this lesson you will:**\n" + "\n".join(f"- {goal}" for goal in lesson.goals))
    st.markdown(lesson.read(step.text))
    _experiment(lesson, index)
    back, start, pause, reset, forward, speed = st.columns([2, 2, 2, 2, 2, 3], vertical_alignment="bottom")
    back.button("Previous step", key="lesson_back", disabled=index == 0, on_click=_go_to, args=(index - 1,),
                width="stretch")
    start.button("Start", key="lesson_start", type="primary", disabled=st.session_state[RUNNING],
                 on_click=lambda: st.session_state.update({RUNNING: True}), width="stretch")
    pause.button("Pause", key="lesson_pause", disabled=not st.session_state[RUNNING],
                 on_click=lambda: st.session_state.update({RUNNING: False}), width="stretch")
    reset.button("Reset", key="lesson_reset", on_click=_reset, width="stretch",
                 help="Start this step again from time 0, paused, with the settings it opens with.")
    forward.button("Next step", key="lesson_next", disabled=index == len(lesson.steps) - 1, on_click=_go_to,
                   args=(index + 1,), width="stretch")
    with speed:
        speed_control("lesson_speed")
    if "variant" in step.controls:
        st.session_state["lesson_variant"] = st.session_state[VARIANT]  # shows what actually runs
        st.segmented_control("Version of the architecture (changing it starts again)", list(lesson.variants),
                             key="lesson_variant", on_change=_choose_variant)
    draw_controls([c for c in step.controls if c != "variant"], "lesson", SIM, MARKS, ERROR)
    st.fragment(_tick, run_every=TICK_S if st.session_state[RUNNING] else None)()
    if index == len(lesson.steps) - 1:
        _quiz(lesson)
    with st.expander("Instructor notes"):
        st.markdown(lesson.read(lesson.instructor))
    with st.expander("Sources"):
        st.markdown("\n".join(f"- {source}" for source in lesson.sources))
    scenario = st.session_state[SIM].scenario
    if scenario.traffic.trace is not None or scenario.traffic.tokens.kind == "empirical":
        st.caption(ATTRIBUTION)


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_lessons()
