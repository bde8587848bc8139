"""Lessons: a scaling stage told in steps, each with an experiment to try on a live simulation.

A lesson is data in lessons/ (see lessons/README.md and curriculum/format.py): goals, a scenario to
start from, steps of markdown with the controls each offers and the settings it starts from,
experiments whose claims the tests check, a question, instructor notes and sources.

A step opens in steady state: its configuration is simulated for a warm-up before the first draw.
When the learner makes the experiment's change, the step as it opened keeps running faded beside
it on the same traffic, and the headline shows "before → now" for the metrics the step watches:
the effect is seen where it is taught, within seconds. Choosing another version of the
architecture (a variant) continues the time axis; the previous version goes on as "before".
"""

from __future__ import annotations

import streamlit as st

from curriculum.format import LESSONS_DIR, Lesson, lesson_folders, load_lesson
from curriculum.playback import HISTORY_WINDOWS, SPANS, SPEEDS, Playback
from curriculum.visible import live_figures
from dashboard.classroom.room import NOTICE, presenting, publish
from dashboard.classroom.shared import shared_store
from dashboard.classroom.store import StoreRejected, StoreUnavailable, check_code, shown
from dashboard.pages import page
from dashboard.pages.live import ATTRIBUTION
from dashboard.view.controls import draw_controls, show_running
from dashboard.view.player import Player
from dashboard.view.prediction import ask
from dashboard.view.text import as_text
from engine import ScenarioError
from engine.controls import CONTROLS
from engine.labels import describe_change, label

KEY, CHOSEN, STEP, ERROR = "lesson", "lesson_chosen", "lesson_step", "lesson_error"
VARIANT = "lesson_variant"
BASE = ""  # the label of the lesson's own scenario, when no variant is chosen
PLAYER_HISTORY_S = float(HISTORY_WINDOWS)  # a resumed room's charts draw what its runs still hold


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


def scenario_of(lesson: Lesson, label: str):
    """Return the scenario of a version of the lesson's architecture (BASE: the lesson's own)."""
    return lesson.build_scenario(label or None)


def _step_playback(lesson: Lesson, index: int) -> Playback:
    """Return step `index` of `lesson` as it opens: its configuration at time 0, paused."""
    return lesson.playback(lesson.opening_at(index))


def _lesson_player() -> Player:
    """Return this session's lesson player (opening the first lesson the first time)."""
    if KEY not in st.session_state:
        _open(next(iter(lesson_titles())))
    return st.session_state[KEY]


def _open(slug: str, index: int = 0) -> None:
    """Open step `index` of lesson `slug` (a lesson that cannot be read shows why)."""
    st.session_state[CHOSEN] = slug
    try:
        lesson = lesson_named(slug)
    except ValueError as exc:
        st.session_state[ERROR] = str(exc)
        st.session_state.pop(KEY, None)
        return
    _go_to(lesson, index)


def _go_to(lesson: Lesson, index: int) -> None:
    """Open step `index`: a fresh run of its configuration, warmed up, at the step's own speed."""
    st.session_state[STEP] = index
    step = lesson.steps[index]
    build = lambda: _step_playback(lesson, index)  # noqa: E731
    if KEY not in st.session_state:
        st.session_state[KEY] = Player(KEY, build, warm_up_s=step.opening_warmup_s(), speed=step.speed)
    else:
        lesson_player = st.session_state[KEY]
        lesson_player.build, lesson_player.warm_up_s, lesson_player.speed = build, step.opening_warmup_s(), step.speed
        lesson_player.request("reset")
    st.session_state[KEY].watched = tuple(step.watched())
    st.session_state[KEY].span = step.span


def _choose_variant(lesson: Lesson) -> None:
    """Go on as the version of the architecture the learner chose; the time axis continues."""
    label = st.session_state[VARIANT] or BASE
    st.session_state[KEY].request("switch", scenario_of(lesson, label), label)


def position() -> dict:
    """Return where the learner is: lesson, step, play state and the run itself (what a room follows)."""
    lesson_player: Player = st.session_state[KEY]
    playback = lesson_player.playback
    return {"lesson": st.session_state[CHOSEN], "step": st.session_state[STEP], "variant": playback.now.label,
            "running": lesson_player.running, "speed": lesson_player.speed, "span": lesson_player.span,
            "settings": playback.settings(), "playback": playback.as_data(),
            "watched": list(lesson_player.watched)}


def open_at(slug: str, state: dict, progress=None, replay: bool = True) -> bool:
    """Open lesson `slug` where a room is; return whether its very run goes on (else the step opened afresh).

    With `replay` (a presenter taking the room back), the room's run is played again from its
    changes (engine/replay.py), so the charts go on where they were; if it cannot be, the step
    opens afresh at the room's step. Without (a learner leaving the room to experiment), the step
    opens afresh with the room's current settings: cheap, and no two learners pay for a replay.
    """
    lesson = lesson_named(slug)
    try:
        index = min(max(int(state.get("step") or 0), 0), len(lesson.steps) - 1)
    except (TypeError, ValueError, OverflowError):
        index = 0
    variant = state.get("variant") if state.get("variant") in lesson.variants else None
    settings = {k: v for k, v in (state.get("settings") or {}).items() if k in CONTROLS and v is not None} \
        if isinstance(state.get("settings"), dict) else {}
    _open(slug, index)
    lesson_player: Player = st.session_state[KEY]
    resumed = False
    data = state.get("playback")
    if replay and isinstance(data, dict):
        try:
            lesson_player.playback = Playback.from_data(data, lambda label: scenario_of(lesson, label), progress)
            lesson_player._pending.clear()  # the room's run replaces the step's fresh opening
            lesson_player.shown_from = max(0.0, lesson_player.playback.t - PLAYER_HISTORY_S)
            resumed = True
        except (ValueError, KeyError, TypeError, AttributeError, ScenarioError) as exc:
            lesson_player.errors.append(f"The room's run could not be played again ({exc}); the step opens afresh.")
    if not resumed:
        opening = {**lesson.opening_at(index), **settings, **({"variant": variant} if variant else {})}
        lesson_player.build = lambda: lesson.playback(opening)
        lesson_player.settle()
    if state.get("speed") in SPEEDS:
        lesson_player.speed = state["speed"]
    if state.get("span") in SPANS:
        lesson_player.span = state["span"]
    if state.get("running"):
        lesson_player.start()
    return resumed


def _prediction_key(lesson: Lesson, index: int) -> str:
    """Return the session key of the learner's prediction for step `index`."""
    return f"predict_{lesson.slug}_{index}"


def _experiment(lesson: Lesson, index: int) -> None:
    """Show the step's experiment: what to do, a prediction to make first, what to watch; what to expect once predicted."""
    experiment = lesson.steps[index].experiment
    if experiment is None:
        return
    with st.container(border=True):
        if ask(experiment, _prediction_key(lesson, index)) is None:
            st.caption("Choose your prediction, then make the change: what happened shows beside your guess.")
            return
        claim = experiment.claim
        st.caption(f"Checked by the test suite on identical traffic ({claim.replications} seeds, "
                   f"{claim.measure_s:g} s measured after {claim.warmup_s:g} s of warm-up): "
                   + "; ".join(e.describe() for e in claim.expect) + ". The headline shows these as "
                   "before → now once you make the change.")


def _room_tally(code: str, lesson: Lesson, index: int) -> None:
    """As the presenter, show how the room predicted this experiment (counts only), to discuss before the change."""
    predict = lesson.steps[index].experiment.predict
    try:
        counts = shared_store().tally(code, lesson.slug, index, len(predict.choices))
    except (StoreUnavailable, StoreRejected) as exc:
        st.caption(f"The room's predictions cannot be read: {as_text(exc)}")
        return
    total = sum(counts)
    shown = " · ".join(f"{choice}: {count}" for choice, count in zip(predict.choices, counts))
    st.caption(f":material/how_to_vote: The room predicted ({total} {'learner' if total == 1 else 'learners'}): {shown}")


def _reveal(lesson: Lesson, index: int, lesson_player: Player) -> None:
    """Once the change is made, show what the live run measured, beside the learner's prediction and why."""
    experiment = lesson.steps[index].experiment
    if experiment is None:
        return
    predict = experiment.predict
    code = presenting()
    if code is not None:
        _room_tally(code, lesson, index)
    live = live_figures(experiment.claim, lesson_player.playback, lesson_player.span)
    if live is None:
        return
    holds, figures = live
    measured = "; ".join(f"{label(metric)} {describe_change(metric, before, now)}" for metric, before, now in figures)
    choice = st.session_state.get(_prediction_key(lesson, index))
    right = predict.choices[predict.answer]
    if choice is None:
        verdict, box = f"The answer: “{right}”.", st.info
    elif choice == predict.answer:
        verdict, box = f"You predicted “{right}”: right.", st.success
    else:
        verdict, box = f"You predicted “{predict.choices[choice]}”; the answer: “{right}”.", st.warning
    building = "" if holds else " The effect is still building: keep watching."
    box(f"**What happened:** {measured}.{building} {verdict} {predict.why}", icon=":material/lightbulb:")


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


def _step_buttons(lesson: Lesson, index: int) -> None:
    """Draw the previous and next step buttons."""
    with st.container(horizontal=True, key="lesson_steps"):
        st.button("Previous step", key="lesson_back", disabled=index == 0, on_click=_go_to, args=(lesson, index - 1),
                  icon=":material/arrow_back:")
        st.button("Next step", key="lesson_next", disabled=index == len(lesson.steps) - 1, on_click=_go_to,
                  args=(lesson, index + 1), icon=":material/arrow_forward:")


def _step_controls(lesson: Lesson, step, lesson_player: Player) -> None:
    """Draw what the step lets the learner change: the version of the architecture, and live controls."""
    with st.container():  # one block, whatever the step offers
        if "variant" in step.controls:
            show_running(VARIANT, lesson_player.playback.now.label or None)
            st.segmented_control("Version of the architecture", list(lesson.variants), key=VARIANT,
                                 on_change=_choose_variant, args=(lesson,),
                                 help="Switching plays the chosen version on the same traffic; the one you had goes "
                                      "on faded, as 'before'.")
        draw_controls(lesson_player, [c for c in step.controls if c != "variant"])
    _reveal(lesson, st.session_state[STEP], lesson_player)


def _after_tick(lesson_player: Player, frame: dict) -> None:
    """While presenting a room, publish what this tick drew (only a presenter's tick pays for it)."""
    if presenting():
        publish(lesson_player, frame, position())


def _presenting_note() -> None:
    """Keep the room in the address while presenting, so that after a reload the presenter can take it back."""
    code = presenting()
    if code is not None:
        st.query_params["present"] = code
        return
    remembered = st.query_params.get("present")
    if remembered:
        try:
            code = check_code(remembered)
        except StoreRejected:
            st.query_params.pop("present", None)
            return
        with st.container(border=True):
            st.markdown(f":material/cast: You were presenting room **{code}**. The room goes on as it was; take "
                        "it back with its PIN to resume where it is.")
            st.page_link(page("classroom"), label="Take the room back", icon=":material/key:",
                         query_params={"present": code})


def render_lessons() -> None:
    """Render the lesson player."""
    titles = lesson_titles()
    lesson_player = _lesson_player()
    st.selectbox("Lesson", list(titles), key=CHOSEN, on_change=lambda: _open(st.session_state[CHOSEN]),
                 format_func=titles.get)
    notes = st.container()  # always drawn: messages come and go inside it, the live view stays put
    if ERROR in st.session_state:
        notes.error(as_text(st.session_state.pop(ERROR)))
    if NOTICE in st.session_state:
        notes.warning(as_text(st.session_state.pop(NOTICE)))
    with notes:
        _presenting_note()
    if KEY not in st.session_state:
        return
    lesson = lesson_named(st.session_state[CHOSEN])
    index = st.session_state[STEP]
    step = lesson.steps[index]
    st.title(lesson.title)
    st.caption(f"{lesson.summary} Step {index + 1} of {len(lesson.steps)}.")
    if index == 0:
        st.markdown("**In this lesson you will:**\n" + "\n".join(f"- {goal}" for goal in lesson.goals))
    st.markdown(lesson.read(step.text))
    _experiment(lesson, index)
    _step_buttons(lesson, index)
    messages = st.container()
    lesson_player.settle(messages)
    lesson_player.show_errors(messages)
    if lesson_player.playback is None:
        return
    lesson_player.draw_buttons()
    lesson_player.draw_view(_after_tick, presenter=bool(st.session_state.get("presenter")),
                            controls=lambda: _step_controls(lesson, step, lesson_player))
    if index == len(lesson.steps) - 1:
        _quiz(lesson)
        if lesson.challenge is not None:
            with st.container(border=True):
                st.markdown(f":material/emoji_events: **Challenge.** {lesson.challenge.goal}\n\n"
                            f"Build your answer in the Sandbox, starting from this lesson's architecture: "
                            f"[open the challenge](sandbox?challenge={lesson.slug}). The engine scores it on fixed seeds.")
    with st.expander("Instructor notes"):
        st.markdown(lesson.read(lesson.instructor))
    with st.expander("Sources"):
        st.markdown("\n".join(f"- {source}" for source in lesson.sources))
        st.markdown("docs/sources.md is the app's [Sources](sources) page: every cited figure with its source.")
    scenario = lesson_player.playback.now.scenario
    if scenario.traffic.trace is not None or scenario.traffic.tokens.kind == "empirical":
        st.caption(ATTRIBUTION)


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_lessons()
