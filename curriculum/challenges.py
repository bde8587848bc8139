"""Challenges scored by the engine: a learner's architecture under a lesson's fixed traffic, on fixed seeds.

A challenge ("3 million daily users, p95 under 8 s, errors under 1 %, at most 0.05 USD per user a
month") is scored the way a claim is measured: each seed's run warms up, then is measured, and
every target must be met on every seed. The answer's whole traffic section is replaced by the challenge's
(the start's, with the challenge's changes), so an architecture cannot pass by serving fewer users,
shorter answers or more patient clients. Live changes made in the Sandbox (replicas,
workers, the balancer...) are applied to each run at time 0, as the controls apply them.
"""

from __future__ import annotations

from dataclasses import dataclass

from curriculum.format import PER_USER, Challenge, Lesson, Target
from engine import Budget, Scenario, Simulation, derive, parse_scenario, scenario_to_data
from engine.loading import patch_data
from engine.controls import CONTROLS, apply_control
from engine.labels import format_metric, label

SCORE_BUDGET = Budget(max_requests=5_000_000, max_wall_s=120)


@dataclass(frozen=True)
class Row:
    """One target of a scorecard: the worst value over the seeds, and whether every seed met it."""

    target: Target
    values: tuple[float | None, ...]
    met: bool

    @property
    def worst(self) -> float | None:
        """Return the value furthest from the target's side (None if a seed measured nothing)."""
        if any(v is None for v in self.values):
            return None
        return max(self.values) if self.target.at_most is not None else min(self.values)

    def describe(self) -> str:
        """Return the target as a learner reads it: 'p95 latency at most 8 s'."""
        name = "USD per user per month" if self.target.metric == PER_USER else label(self.target.metric)
        side = "at most" if self.target.at_most is not None else "at least"
        return f"{name} {side} {shown(self.target.metric, self.target.bound)}"


@dataclass(frozen=True)
class Scorecard:
    """A challenge's result for one architecture."""

    rows: tuple[Row, ...]

    @property
    def passed(self) -> bool:
        """Return whether every target was met on every seed."""
        return all(row.met for row in self.rows)


def shown(metric: str, value: float | None) -> str:
    """Write a challenge figure in its unit."""
    if metric == PER_USER:
        return "–" if value is None else f"${value:,.3f}"
    return format_metric(metric, value)


def challenge_traffic(lesson: Lesson) -> dict:
    """Return the whole traffic section every answer is scored on: the start's, with the challenge's changes."""
    start = scenario_to_data(start_scenario(lesson))["traffic"]
    return patch_data(start, lesson.challenge.traffic)


def scored_scenario(traffic: dict, answer: Scenario, seed: int) -> Scenario:
    """Return the answer with `traffic` in place of its own (all of it: rate, tokens, timeouts) and `seed`.

    Through the one validated door: an answer whose architecture cannot take that traffic (a cache
    without prompt keys) is refused with the usual message.
    """
    data = scenario_to_data(answer)
    data["traffic"], data["seed"] = traffic, seed
    return parse_scenario(data, "the answer, on the challenge's traffic")


def start_scenario(lesson: Lesson) -> Scenario:
    """Return the architecture the lesson's challenge starts from."""
    return lesson.build_scenario(lesson.challenge.start)


def solution_scenario(lesson: Lesson) -> Scenario:
    """Return the lesson's reference answer (the tests prove it meets every target)."""
    return derive(start_scenario(lesson), lesson.challenge.solution, f"{lesson.slug} challenge solution")


def _figure(target: Target, summary: dict, scenario: Scenario) -> float | None:
    """Return the summary's value for a target (USD per user per month computed from the daily users)."""
    if target.metric != PER_USER:
        return summary.get(target.metric)
    users = scenario.traffic.users
    if users is None or summary.get("usd_per_month") is None:
        return None
    return summary["usd_per_month"] / users.daily_active


def score(lesson: Lesson, answer: Scenario, settings: dict | None = None, budget: Budget = SCORE_BUDGET,
          seeds: int | None = None) -> Scorecard:
    """Score an architecture (with live `settings` as the controls apply them) against the lesson's challenge."""
    challenge = lesson.challenge
    traffic = challenge_traffic(lesson)
    values: dict[int, list] = {i: [] for i in range(len(challenge.targets))}
    for seed in range(1, (seeds or challenge.seeds) + 1):
        scenario = scored_scenario(traffic, answer, seed)
        sim = Simulation(scenario, budget)
        for control, value in (settings or {}).items():
            if value is None or control == "variant" or CONTROLS[control].field.startswith("traffic."):
                continue  # not applicable to this architecture, or the traffic, which is the challenge's
            apply_control(sim, control, value)
        if challenge.warmup_s:
            sim.advance(challenge.warmup_s)
            sim.restart_summary()
        summary = sim.run(challenge.measure_s)
        for i, target in enumerate(challenge.targets):
            values[i].append(_figure(target, summary, scenario))
    rows = tuple(Row(target, tuple(values[i]), all(target.met(v) for v in values[i]))
                 for i, target in enumerate(challenge.targets))
    return Scorecard(rows)
