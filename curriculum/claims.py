"""Claims checked against the engine: a step's configuration before and after the change, on identical traffic.

A claim ("p95 falls by at least 40 %") is measured the way an experiment in a lab is: the step's
configuration is run, and run again with the change, with the same seed, so both runs see the very
same requests (common random numbers). Each run first warms up (its windows are not measured), then
is measured; with several seeds, every expectation must hold for each.
"""

from __future__ import annotations

import re

from curriculum.format import Claim, Lesson
from engine import Budget, Simulation, derive
from engine.controls import apply_control

CLAIM_BUDGET = Budget(max_requests=20_000_000, max_wall_s=120)


def build(lesson: Lesson, settings: dict, seed: int | None = None, budget: Budget = CLAIM_BUDGET) -> Simulation:
    """Return a simulation of the lesson at time 0 with `settings` (control values) applied."""
    scenario = lesson.build_scenario(settings.get("variant"))
    if seed is not None:
        scenario = derive(scenario, {"seed": seed}, f"{lesson.slug} with seed {seed}")
    sim = Simulation(scenario, budget)
    for control, value in settings.items():
        if control != "variant":
            apply_control(sim, control, value)
    return sim


def measure(lesson: Lesson, settings: dict, claim: Claim, seed: int) -> dict:
    """Run the lesson with `settings` past the claim's warm-up and return the summary of the measured part."""
    sim = build(lesson, settings, seed)
    if claim.warmup_s:
        sim.advance(claim.warmup_s)
        sim.restart_summary()
    return sim.run(claim.measure_s)


def check_claim(lesson: Lesson, index: int, seeds: int | None = None) -> list[dict]:
    """Measure step `index`'s claim; return one row per replication and expectation, with whether it held.

    `seeds` replaces the claim's own number of replications (seeds 1..n), to read the spread.
    """
    claim = lesson.steps[index].experiment.claim
    before = {**lesson.settings_at(index), **claim.before}
    after = {**before, **claim.after}
    rows = []
    for seed in range(1, (seeds or claim.replications) + 1):
        measured_before, measured_after = measure(lesson, before, claim, seed), measure(lesson, after, claim, seed)
        for expect in claim.expect:
            b, a = measured_before[expect.metric], measured_after[expect.metric]
            rows.append({"seed": seed, "claim": expect.describe(), "before": b, "after": a, "holds": expect.holds(b, a)})
    return rows


NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(%)?")


def numbers_in(text: str) -> list[tuple[float, bool]]:
    """Return the numbers a sentence states, each with whether it is a percentage."""
    return [(float(value.replace(",", "")), bool(percent)) for value, percent in NUMBER.findall(text)]


def spread(rows: list[dict]) -> list[dict]:
    """Sum up check_claim's rows per expectation across seeds: the range of the change and whether it held.

    `change` is (after - before) / before, the relative move a learner reads; `sign_flips` says the
    direction itself differs between seeds, which no wording of a claim survives.
    """
    by_claim: dict[str, list[dict]] = {}
    for row in rows:
        by_claim.setdefault(row["claim"], []).append(row)
    summary = []
    for claim, group in by_claim.items():
        changes = [(r["after"] - r["before"]) / r["before"] for r in group
                   if r["before"] not in (None, 0) and r["after"] is not None]
        signs = {(c > 0) - (c < 0) for c in changes if abs(c) > 0.01}  # a move under 1 % has no direction to flip
        summary.append({"claim": claim, "seeds": len(group), "held": sum(r["holds"] for r in group),
                        "afters": [r["after"] for r in group],
                        "change_min": min(changes) if changes else None,
                        "change_max": max(changes) if changes else None,
                        "sign_flips": len(signs) > 1})
    return summary
