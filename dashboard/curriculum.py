"""The curriculum's format: lessons as data, and the claims each one makes, checked against the engine.

A lesson is a folder in lessons/ (the format is documented in lessons/README.md): goals, a scenario
to start from, and steps. A step tells part of the story in markdown and may set up an experiment:
what to change, what to watch, what the learner should see. Each experiment carries a claim in
numbers ("p95 falls by at least 40 %"): `check_claim` runs the step's configuration before and after
the change on identical traffic (common random numbers), past a warm-up, and says whether every
expectation held. tests/test_lessons.py checks every claim of every lesson, so a lesson cannot
promise what the simulation does not do.

This module is plain Python (no Streamlit): the lesson player, the tests and the CLI share it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine import Budget, ScenarioError, Simulation, load_preset, load_scenario, parse_scenario, scenario_to_data
from engine.loading import patch_data
from engine.metrics import METRICS
from engine.paths import ROOT

LESSONS_DIR = ROOT / "lessons"
CLAIM_BUDGET = Budget(max_requests=20_000_000, max_wall_s=120)

# The controls a step may offer. Most act on the running simulation (engine/controls.py); `variant`
# restarts it from one of the lesson's named versions of its scenario, for knobs that cannot change
# mid-run (an instance size, a database kind, a cache threshold).
Control = Literal["rate_rps", "web_replicas", "load_balancer", "web_workers", "db_read_replicas", "zipf_skew",
                  "llm_replicas", "down", "variant"]
LIVE_CONTROLS = ("rate_rps", "web_replicas", "load_balancer", "web_workers", "db_read_replicas", "zipf_skew",
                 "llm_replicas", "down")


def set_down(sim: Simulation, names: list[str]) -> None:
    """Take the components in `names` down and bring every other one up."""
    unknown = [name for name in names if name not in sim.component_names()]
    if unknown:
        raise ValueError(f"down: {', '.join(map(repr, unknown))} is not allowed: choose from "
                         f"{', '.join(sim.component_names())}")
    for name in sim.component_names():
        sim.set_component_up(name, name not in names)


# How each live control changes a running simulation.
APPLY = {
    "rate_rps": Simulation.set_arrival_rate,
    "web_replicas": Simulation.set_web_replicas,
    "load_balancer": Simulation.set_load_balancer,
    "web_workers": Simulation.set_web_workers,
    "db_read_replicas": Simulation.set_db_read_replicas,
    "zipf_skew": lambda sim, value: sim.set_prompt_keys(zipf_skew=value),
    "llm_replicas": Simulation.set_llm_replicas,
    "down": set_down,
}

Value = float | int | str | list[str]
Changes = dict[Control, Value]

# Short names for the metrics claims talk about most; others are shown by their metric name.
LABELS = {
    "latency_p50_s": "median latency", "latency_p95_s": "p95 latency", "latency_p99_s": "p99 latency",
    "latency_mean_s": "mean latency", "ttft_p95_s": "p95 time to first token", "error_rate": "error rate",
    "throughput_rps": "throughput", "usd_tokens": "token spend", "usd_total": "spend", "usd_per_month": "USD per month",
    "usd_per_1k_requests": "USD per 1,000 requests", "cache_hit_rate": "cache hit rate",
    "web_utilisation": "web tier utilisation", "db_primary_utilisation": "database primary utilisation",
    "stale_reads": "stale reads", "dropped": "503s", "failed": "failed requests", "rate_limited": "429s",
    "llm_429s": "provider 429s", "false_hits": "wrong answers from the cache", "timed_out": "timed-out requests",
}


class Expect(BaseModel):
    """One number a claim promises: how a metric moves from before to after the change, or where it ends up."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    metric: str
    falls_by_at_least: float | None = Field(None, gt=0, le=1, description="(before - after) / before")
    rises_by_at_least: float | None = Field(None, gt=0, le=1000, description="(after - before) / before")
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
        label = LABELS.get(self.metric, self.metric)
        name, value = self.test
        if name in ("falls_by_at_least", "rises_by_at_least"):
            return f"{label} {name.split('_')[0]} by at least {value:.0%}"
        shown = f"{value:.0%}" if self.metric.endswith(("_rate", "utilisation")) else f"{value:g}"
        where = {"at_most": "ends at most", "at_least": "ends at least", "before_at_most": "starts at most",
                 "before_at_least": "starts at least"}[name]
        return f"{label} {where} {shown}"

    def holds(self, before: float | None, after: float | None) -> bool:
        """Return whether the expectation holds for these measured values."""
        name, value = self.test
        if name == "falls_by_at_least":
            return before is not None and after is not None and before > 0 and (before - after) / before >= value
        if name == "rises_by_at_least":
            return before is not None and after is not None and before > 0 and (after - before) / before >= value
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


class Experiment(BaseModel):
    """What the learner changes, what to watch, and what they should see (with the claim that proves it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    do: str = Field(min_length=1, max_length=500)
    watch: str = Field(min_length=1, max_length=300)
    see: str = Field(min_length=1, max_length=600)
    claim: Claim


class Quiz(BaseModel):
    """A check-your-understanding question with the answer explained."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    question: str = Field(min_length=1, max_length=600)
    choices: list[str] = Field(min_length=2, max_length=6)
    answer: int = Field(ge=0, description="index of the right choice")
    why: str = Field(min_length=1, max_length=1500)

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> "Quiz":
        if self.answer >= len(self.choices):
            raise ValueError(f"answer: {self.answer} is not allowed: choose 0 to {len(self.choices) - 1}")
        return self


class Step(BaseModel):
    """One step of a lesson: a text, the controls it offers, the settings it starts from, maybe an experiment."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.md$")
    controls: list[Control] = Field(default_factory=list)
    changes: Changes = Field(default_factory=dict)
    experiment: Experiment | None = None


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


def build(lesson: Lesson, settings: dict, seed: int | None = None, budget: Budget = CLAIM_BUDGET) -> Simulation:
    """Return a simulation of the lesson at time 0 with `settings` (control values) applied."""
    scenario = lesson.build_scenario(settings.get("variant"))
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    sim = Simulation(scenario, budget)
    for control, value in settings.items():
        if control != "variant":
            APPLY[control](sim, value)
    return sim


def measure(lesson: Lesson, settings: dict, claim: Claim, seed: int) -> dict:
    """Run the lesson with `settings` past the claim's warm-up and return the summary of the measured part."""
    sim = build(lesson, settings, seed)
    if claim.warmup_s:
        sim.advance(claim.warmup_s)
        sim.restart_summary()
    return sim.run(claim.measure_s)


def check_claim(lesson: Lesson, index: int) -> list[dict]:
    """Measure step `index`'s claim; return one row per replication and expectation, with whether it held."""
    claim = lesson.steps[index].experiment.claim
    before = {**lesson.settings_at(index), **claim.before}
    after = {**before, **claim.after}
    rows = []
    for seed in range(1, claim.replications + 1):
        measured_before, measured_after = measure(lesson, before, claim, seed), measure(lesson, after, claim, seed)
        for expect in claim.expect:
            b, a = measured_before[expect.metric], measured_after[expect.metric]
            rows.append({"seed": seed, "claim": expect.describe(), "before": b, "after": a, "holds": expect.holds(b, a)})
    return rows


NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(%)?")


def numbers_in(text: str) -> list[tuple[float, bool]]:
    """Return the numbers a sentence states, each with whether it is a percentage."""
    return [(float(value.replace(",", "")), bool(percent)) for value, percent in NUMBER.findall(text)]


def main(argv: list[str] | None = None) -> int:
    """Check the claims of the lessons named (default: all) and print what each measured; exit 1 if one fails."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m dashboard.curriculum",
                                     description="Run every experiment's claim of the lessons and print the figures.")
    parser.add_argument("lessons", nargs="*", help="lesson folder names (default: every lesson)")
    args = parser.parse_args(argv)
    failed = 0
    for folder in args.lessons or lesson_folders():
        try:
            lesson = load_lesson(LESSONS_DIR / folder)
        except ValueError as exc:
            print(exc)
            failed += 1
            continue
        for index, step in enumerate(lesson.steps):
            if step.experiment is None:
                continue
            for row in check_claim(lesson, index):
                failed += not row["holds"]
                shown = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in (row["before"], row["after"])]
                print(f"{folder} step {index + 1} seed {row['seed']}: {row['claim']}: "
                      f"before {shown[0]}, after {shown[1]}: {'holds' if row['holds'] else 'FAILS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
