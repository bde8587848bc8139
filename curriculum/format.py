"""The curriculum's format: lessons as data, each step a text, the controls it offers and the claim it makes.

A lesson is a folder in lessons/ (the format is documented in lessons/README.md): goals, a scenario
to start from, and steps. A step tells part of the story in markdown and may set up an experiment:
what to change, what to watch, what the learner should see. Each experiment carries a claim in
numbers ("p95 falls by at least 40 %"), which curriculum/claims.py checks against the engine and
tests/test_lessons.py asserts, so a lesson cannot promise what the simulation does not do.

This package is plain Python (no Streamlit): the lesson player, the tests and the CLI share it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curriculum.playback import SPANS, SPEEDS, Playback
from engine import ScenarioError, load_preset, load_scenario, parse_scenario, scenario_to_data
from engine.controls import CONTROLS
from engine.labels import LABELS, label
from engine.loading import patch_data
from engine.metrics import METRICS
from engine.paths import ROOT

LESSONS_DIR = ROOT / "lessons"

# The controls a step may offer: every live control of the engine's registry, plus `variant`, which
# restarts the simulation as one of the lesson's named versions of its scenario, for knobs that
# cannot change mid-run (an instance size, a database kind, a cache threshold).
Control = Literal[tuple(CONTROLS) + ("variant",)]  # type: ignore[valid-type]

Value = float | int | str | list[str]
Changes = dict[Control, Value]
Speed = Literal[tuple(SPEEDS)]  # type: ignore[valid-type]  # the player's speeds, simulated s per real s
Span = Literal[SPANS]  # type: ignore[valid-type]  # what the live view averages over
MIN_WARMUP_S = 60.0  # a step opens at least this far into its run, past the start-up of an empty system


class Expect(BaseModel):
    """One number a claim promises: how a metric moves from before to after the change, or where it ends up."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    metric: str
    falls_by_at_least: float | None = Field(None, gt=0, le=1, description="(before - after) / before")
    rises_by_at_least: float | None = Field(None, gt=0, le=1000, description="(after - before) / before")
    moves_by_at_most: float | None = Field(
        None, gt=0, le=1, description="|after - before| / before: a claim that something barely moves, in numbers"
    )
    at_most: float | None = Field(None, description="after the change")
    at_least: float | None = Field(None, description="after the change")
    before_at_most: float | None = None
    before_at_least: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> "Expect":
        if self.metric not in METRICS:
            raise ValueError(f"metric: {self.metric!r} is not allowed: choose a metric `python -m engine metrics` lists")
        given = [name for name in type(self).model_fields if name != "metric" and getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one test per expectation (got {', '.join(given) or 'none'})")
        return self

    @property
    def test(self) -> tuple[str, float]:
        """Return (the test's name, its threshold)."""
        name = next(n for n in type(self).model_fields if n != "metric" and getattr(self, n) is not None)
        return name, getattr(self, name)

    def describe(self) -> str:
        """Return the expectation as a sentence a learner reads."""
        name, value = self.test
        text = label(self.metric)
        if name in ("falls_by_at_least", "rises_by_at_least"):
            return f"{text} {name.split('_')[0]} by at least {value:.0%}"
        if name == "moves_by_at_most":
            return f"{text} moves by at most {value:.0%}"
        shown = f"{value:.0%}" if LABELS[self.metric].unit == "share" else f"{value:g}"
        where = {"at_most": "ends at most", "at_least": "ends at least", "before_at_most": "starts at most",
                 "before_at_least": "starts at least"}[name]
        return f"{text} {where} {shown}"

    def holds(self, before: float | None, after: float | None) -> bool:
        """Return whether the expectation holds for these measured values."""
        name, value = self.test
        if name == "falls_by_at_least":
            return before is not None and after is not None and before > 0 and (before - after) / before >= value
        if name == "rises_by_at_least":
            return before is not None and after is not None and before > 0 and (after - before) / before >= value
        if name == "moves_by_at_most":
            return before is not None and after is not None and before > 0 and abs(after - before) / before <= value
        measured = before if name.startswith("before") else after
        if measured is None:
            return False
        return measured <= value if name.endswith("at_most") else measured >= value


class Claim(BaseModel):
    """A change and what it must do to the numbers, measured on identical traffic past a warm-up."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    before: Changes = Field(default_factory=dict, description="applied on top of the step's configuration")
    after: Changes = Field(description="the learner's change, on top of `before`")
    expect: list[Expect] = Field(min_length=1, max_length=10)
    warmup_s: float = Field(60.0, ge=0, le=86_400)
    measure_s: float = Field(240.0, gt=0, le=86_400)
    replications: int = Field(2, ge=1, le=10, description="seeds 1..n; every expectation must hold for each")


class MultipleChoice(BaseModel):
    """A question with a few choices, the right one, and why: the lesson's quiz and each experiment's prediction."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    question: str = Field(min_length=1, max_length=600)
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=2, max_length=6)
    answer: int = Field(ge=0, description="index of the right choice")
    why: str = Field(min_length=1, max_length=1500)

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> "MultipleChoice":
        if self.answer >= len(self.choices):
            raise ValueError(f"answer: {self.answer} is not allowed: choose 0 to {len(self.choices) - 1}")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices: two choices are the same")
        return self


class Prediction(MultipleChoice):
    """What the learner predicts before making the change: a few short choices and one sentence on why."""

    question: str = Field(min_length=1, max_length=200)
    choices: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(min_length=2, max_length=4)
    why: str = Field(min_length=1, max_length=300, description="one sentence, shown with the measured figures")


class Experiment(BaseModel):
    """What the learner changes, predicts, watches, and should see (with the claim that proves it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    do: str = Field(min_length=1, max_length=500)
    predict: Prediction
    watch: str = Field(min_length=1, max_length=300)
    see: str = Field(min_length=1, max_length=600)
    claim: Claim


class Quiz(MultipleChoice):
    """A check-your-understanding question at the end of a lesson, with the answer explained."""


PER_USER = "usd_per_user_per_month"  # a challenge's own figure: USD per month / daily active users


class Target(BaseModel):
    """One figure a challenge's answer must reach on every seed: a metric at most or at least a value."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    metric: str
    at_most: float | None = None
    at_least: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> "Target":
        if self.metric not in METRICS and self.metric != PER_USER:
            raise ValueError(f"metric: {self.metric!r} is not allowed: choose a metric `python -m engine metrics` "
                             f"lists, or {PER_USER}")
        if (self.at_most is None) == (self.at_least is None):
            raise ValueError("give exactly one of at_most and at_least")
        return self

    @property
    def bound(self) -> float:
        """Return the target's threshold."""
        return self.at_most if self.at_most is not None else self.at_least

    def met(self, value: float | None) -> bool:
        """Return whether a measured value reaches the target (a missing one does not)."""
        if value is None:
            return False
        return value <= self.at_most if self.at_most is not None else value >= self.at_least


class Challenge(BaseModel):
    """The lesson's closing challenge: a goal under fixed traffic, scored by the engine on fixed seeds.

    The learner starts from the lesson's scenario (or one of its variants) and builds an answer in
    the Sandbox; every answer is scored on the challenge's traffic (the start's, with `traffic`'s
    changes), whatever traffic it carries.
    `solution` is a reference answer, as changes to the start: the tests prove it meets every target
    and that the start does not.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    goal: str = Field(min_length=1, max_length=400)
    start: str | None = Field(None, description="a variant of the lesson; null = the lesson's own scenario")
    traffic: dict = Field(description="changes to the start's traffic section: the whole result replaces every "
                          "answer's own traffic when it is scored")
    targets: list[Target] = Field(min_length=1, max_length=5)
    solution: dict = Field(description="a reference answer: changes to the start scenario")
    hint: str = Field(min_length=1, max_length=300)
    seeds: int = Field(3, ge=1, le=5)
    warmup_s: float = Field(60.0, ge=0, le=3600)
    measure_s: float = Field(120.0, gt=0, le=3600)


class Step(BaseModel):
    """One step of a lesson: a text, the controls it offers, the settings it starts from, maybe an experiment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.md$")
    controls: list[Control] = Field(default_factory=list)
    changes: Changes = Field(default_factory=dict)
    experiment: Experiment | None = None
    speed: Speed = Field("2.5x", description="how fast the step plays at first: its effect must show within 30 s")
    span: Span = Field("10", description="what the headline and the lines average over at first: the last 1, 10 or "
                       "60 simulated seconds, or everything since the change (for an effect that comes and goes)")
    warmup_s: float | None = Field(None, ge=0, le=3600, description="simulated before the step is first drawn, so "
                                   "it opens in steady state; default: the claim's warm-up, at least 60 s")

    def opening_warmup_s(self) -> float:
        """Return the simulated seconds played before the step is first drawn."""
        if self.warmup_s is not None:
            return self.warmup_s
        return max(self.experiment.claim.warmup_s if self.experiment else 0.0, MIN_WARMUP_S)

    def watched(self) -> list[str]:
        """Return the metrics the step's claim is about: what the learner watches (the headline shows them first)."""
        return list(dict.fromkeys(e.metric for e in self.experiment.claim.expect)) if self.experiment else []


class Lesson(BaseModel):
    """A lesson folder's lesson.yaml."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1, max_length=300)
    goals: list[str] = Field(min_length=2, max_length=3)
    scenario: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    variants: dict[str, dict] = Field(default_factory=dict, description="name: changes to the scenario")
    steps: list[Step] = Field(min_length=1, max_length=50)
    quiz: Quiz
    challenge: Challenge | None = None
    instructor: str = Field("instructor.md", pattern=r"^[A-Za-z0-9_.-]+\.md$")
    sources: list[str] = Field(min_length=1, max_length=20)
    folder: Path = Field(exclude=True)

    @model_validator(mode="after")
    def _coherent(self) -> "Lesson":
        problems = [f"{name} not found in {self.folder.name}/" for name in
                    [step.text for step in self.steps] + [self.instructor] if not (self.folder / name).is_file()]
        experiments = sum(step.experiment is not None for step in self.steps)
        if not 2 <= experiments <= 5:
            problems.append(f"steps: {experiments} experiments is not allowed: a lesson has 2 to 5")
        for index, step in enumerate(self.steps):
            settings = [step.changes] + ([step.experiment.claim.before, step.experiment.claim.after]
                                         if step.experiment else [])
            for changes in settings:
                variant = changes.get("variant")
                if variant is not None and variant not in self.variants:
                    problems.append(f"steps.{index}: variant {variant!r} is not allowed: choose one of "
                                    f"{', '.join(self.variants) or '(none defined)'}")
        if self.challenge is not None and self.challenge.start is not None and self.challenge.start not in self.variants:
            problems.append(f"challenge.start: variant {self.challenge.start!r} is not allowed: choose one of "
                            f"{', '.join(self.variants) or '(none defined)'}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def slug(self) -> str:
        """Return the lesson's folder name."""
        return self.folder.name

    def read(self, name: str) -> str:
        """Return a markdown file of the lesson."""
        return (self.folder / name).read_text(encoding="utf-8")

    def build_scenario(self, variant: str | None = None):
        """Return the lesson's scenario (a file in its folder, or a preset), as the named variant if given."""
        path = self.folder / self.scenario
        base = load_scenario(path) if path.suffix in (".yaml", ".yml", ".json") else load_preset(self.scenario)
        if not variant:
            return base
        return parse_scenario(patch_data(scenario_to_data(base), self.variants[variant]),
                              f"{self.slug}: variant {variant}")

    def settings_at(self, index: int) -> dict:
        """Return the control values in force when step `index` opens, having come through every earlier step."""
        settings: dict = {}
        for step in self.steps[: index + 1]:
            settings.update(step.changes)
        return settings

    def playback(self, settings: dict) -> Playback:
        """Return the lesson's run at time 0 with these control settings (a variant among them), paused."""
        settings = dict(settings)
        variant = settings.pop("variant", None) or ""
        return Playback(self.build_scenario(variant or None), variant, settings)

    def opening_at(self, index: int) -> dict:
        """Return the settings step `index` opens with: the earlier steps' and its claim's starting point.

        A learner then makes the claim's change by hand and sees exactly what the claim measures.
        """
        step = self.steps[index]
        return {**self.settings_at(index), **(step.experiment.claim.before if step.experiment else {})}


def load_lesson(folder: Path) -> Lesson:
    """Read and validate one lesson folder; raise ValueError with readable lines if it is wrong."""
    try:
        # A lesson is the project's own data, written by instructors: YAML aliases are allowed there.
        data = yaml.safe_load((folder / "lesson.yaml").read_text(encoding="utf-8"))
        lesson = Lesson.model_validate({**(data or {}), "folder": folder})
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{folder.name}/lesson.yaml: {exc}") from None
    except ValidationError as exc:
        lines = [f"{folder.name}/lesson.yaml: {'.'.join(map(str, e['loc'])) or '(lesson)'}: {e['msg']}"
                 for e in exc.errors()]
        raise ValueError("\n".join(lines)) from None
    try:
        window_s = lesson.build_scenario().window_s
        for name in lesson.variants:
            lesson.build_scenario(name)
    except ScenarioError as exc:
        raise ValueError(f"{folder.name}/lesson.yaml: {exc}") from None
    for index, step in enumerate(lesson.steps):
        warmup = step.experiment.claim.warmup_s if step.experiment else 0.0
        if abs(warmup / window_s - round(warmup / window_s)) > 1e-9:
            raise ValueError(f"{folder.name}/lesson.yaml: steps.{index}.experiment.claim.warmup_s: {warmup:g} is not "
                             f"allowed: a whole number of the scenario's {window_s:g} s windows")
    return lesson


def lesson_folders() -> list[str]:
    """Return the lesson folder names in order."""
    return sorted(p.name for p in LESSONS_DIR.iterdir() if (p / "lesson.yaml").is_file())
