"""Lessons: a scaling stage told in steps, each with an experiment to try on a live simulation.

A lesson is data in lessons/ (see lessons/README.md): a scenario to start from, and steps, each a
markdown text, the controls the step offers, the experiment it asks for, and the settings it
starts from. Opening a step applies its settings to the running simulation, so every learner meets
the same situation; the controls then let them change it while it runs.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dashboard.charts import TICK_S, draw_live, play, speed_control
from dashboard.controls import APPLY, Control, draw_controls
from engine import Budget, ScenarioError, Simulation, load_preset, load_scenario
from engine.paths import ROOT

LESSONS_DIR = ROOT / "lessons"
BUDGET = Budget(max_requests=2_000_000, max_wall_s=2.0)


class Step(BaseModel):
    """One step of a lesson."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.md$")
    controls: list[Control] = Field(default_factory=list)
    experiment: str = Field(min_length=1, max_length=500)
    changes: dict[Control, float | int | str] = Field(default_factory=dict)


class Lesson(BaseModel):
    """A lesson folder's lesson.yaml."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1, max_length=300)
    scenario: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    steps: list[Step] = Field(min_length=1, max_length=50)
    folder: Path = Field(exclude=True)

    @model_validator(mode="after")
    def _files_exist(self) -> "Lesson":
        missing = [step.text for step in self.steps if not (self.folder / step.text).is_file()]
        if missing:
            raise ValueError(f"steps: {', '.join(missing)} not found in {self.folder.name}/")
        return self

    def step_text(self, index: int) -> str:
        """Return the markdown of step `index`."""
        return (self.folder / self.steps[index].text).read_text(encoding="utf-8")

    def build_scenario(self):
        """Return the lesson's scenario: a file in its folder, or a preset."""
        path = self.folder / self.scenario
        return load_scenario(path) if path.suffix in (".yaml", ".yml", ".json") else load_preset(self.scenario)


def load_lesson(folder: Path) -> Lesson:
    """Read and validate one lesson folder; raise ValueError with readable lines if it is wrong."""
    try:
        data = yaml.safe_load((folder / "lesson.yaml").read_text(encoding="utf-8"))
        return Lesson.model_validate({**(data or {}), "folder": folder})
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{folder.name}/lesson.yaml: {exc}") from None
    except ValidationError as exc:
        lines = [f"{folder.name}/lesson.yaml: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ValueError("\n".join(lines)) from None


@st.cache_data(show_spinner=False)
def lesson_folders() -> list[str]:
    """Return the lesson folder names in order."""
    return sorted(p.name for p in LESSONS_DIR.iterdir() if (p / "lesson.yaml").is_file())


SIM, RUNNING, STEP, CHOSEN, ERROR = "lesson_sim", "lesson_running", "lesson_step", "lesson_chosen", "lesson_error"
MARKS = "lesson_marks"  # (simulated time, what changed), drawn on the charts


def _open(name: str) -> None:
    """Start lesson `name` from its scenario, paused, at its first step."""
    try:
        lesson = load_lesson(LESSONS_DIR / name)
        sim = Simulation(lesson.build_scenario(), BUDGET, history_windows=300)
    except (ValueError, ScenarioError) as exc:
        st.session_state[ERROR] = str(exc)
        st.session_state.pop(SIM, None)
        return
    st.session_state[SIM], st.session_state[RUNNING], st.session_state[MARKS] = sim, False, []
    st.session_state["lesson_object"] = lesson
    _go_to(0)


def _go_to(index: int) -> None:
    """Open step `index`: apply the settings it starts from to the running simulation."""
    lesson: Lesson = st.session_state["lesson_object"]
    st.session_state[STEP] = index
    sim = st.session_state[SIM]
    if sim.now:
        st.session_state[MARKS].append((sim.now, f"step {index + 1}"))
    for control, value in lesson.steps[index].changes.items():
        try:
            APPLY[control](sim, value)
        except ValueError as exc:
            st.session_state[ERROR] = f"{lesson.folder.name}, step {index + 1}, changes.{control}: {exc}"


def _tick() -> None:
    """Advance the lesson's simulation while it plays, then redraw the live view."""
    sim = st.session_state[SIM]
    play(sim, RUNNING, ERROR, "lesson_speed")
    draw_live(sim, "lesson", st.session_state[MARKS])


def render_lessons() -> None:
    """Render the lesson player."""
    folders = lesson_folders()
    if CHOSEN not in st.session_state:
        st.session_state[CHOSEN] = folders[0]
        _open(folders[0])
    st.selectbox("Lesson", folders, key=CHOSEN, on_change=lambda: _open(st.session_state[CHOSEN]),
                 format_func=lambda name: name.split("-", 1)[1].replace("-", " ").capitalize())
    if ERROR in st.session_state:
        st.error(st.session_state.pop(ERROR))
    if SIM not in st.session_state:
        return
    lesson: Lesson = st.session_state["lesson_object"]
    index = st.session_state[STEP]
    st.title(lesson.title)
    st.caption(f"{lesson.summary} Step {index + 1} of {len(lesson.steps)}.")
    st.markdown(lesson.step_text(index))
    st.info(lesson.steps[index].experiment, icon=":material/science:")
    back, start, pause, forward, speed = st.columns(5, vertical_alignment="bottom")
    back.button("Previous step", key="lesson_back", disabled=index == 0, on_click=_go_to, args=(index - 1,),
                width="stretch")
    start.button("Start", key="lesson_start", type="primary", disabled=st.session_state[RUNNING],
                on_click=lambda: st.session_state.update({RUNNING: True}), width="stretch")
    pause.button("Pause", key="lesson_pause", disabled=not st.session_state[RUNNING],
                 on_click=lambda: st.session_state.update({RUNNING: False}), width="stretch")
    forward.button("Next step", key="lesson_next", disabled=index == len(lesson.steps) - 1, on_click=_go_to,
                   args=(index + 1,), width="stretch")
    with speed:
        speed_control("lesson_speed")
    draw_controls(lesson.steps[index].controls, "lesson", SIM, MARKS, ERROR)
    st.fragment(_tick, run_every=TICK_S if st.session_state[RUNNING] else None)()
