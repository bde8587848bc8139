"""Search: the cheapest architecture that meets a latency and error target.

A team sizing a design asks one question: what is the cheapest way to serve this traffic well
enough? "Well enough" is a service-level objective (p95 latency at most 10 s, at most 1 % errors,
perhaps the first token within 2 s); "this traffic" is a rate, daily users or a trace; and the
ways are a declared space of choices: replicas, instance sizes, async workers, read replicas, a
cache and its threshold, LLM deployments, models and quotas. Every combination is a candidate.

Running every candidate for long enough on enough seeds is what LLM-serving simulators do when the
space is small; it grows as the product of the choices. So the search runs successive halving
(Jamieson and Talwalkar, 2016; the rung schedule of Hyperband, Li et al., 2018): every candidate
gets a short run on one seed, and only the most promising share goes on to a longer run on more
seeds, round after round. "Promising" here is what the question asks: first the candidates that
meet the objective, cheapest first, then those that miss it by the least. Early rounds are short
and noisy, so they judge with slack (a candidate within 25 % of every target is kept as meeting
it); the last round judges strictly, on every seed (at least 3): the winner is the cheapest
candidate that meets every target on every seed of the last round. Short runs can mislead: a
candidate dropped early that looked as if it met the objective, and costs less than the winner (or
there is no winner), gets the last round's runs too before the search ends.

Every run is independent, so each round's runs go to an executor at once (engine/executors.py:
local processes, or a Dask cluster). All candidates of a round run on the same seeds, so they see
identical traffic (common random numbers) and differ only in architecture.

A spec is data (YAML), read through the same door as a scenario, and each candidate is made from
the base scenario through `derive`: a combination the scenario format refuses (a cache on traffic
without prompt keys) is left out and counted, never run. Every candidate is built (and validated)
before the first run, so the space's size times a candidate's size is bounded up front
(MAX_SPACE_BYTES), and the building counts against the search's wall-clock budget.
"""

from __future__ import annotations

import itertools
import json
import math
import reprlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from engine.attachments import attached, hold
from engine.loading import (MAX_SCENARIO_BYTES, ScenarioError, derive, list_presets, load_preset, parse_scenario,
                            read_scenario_text, scenario_to_data, validate_data)
from engine.plain_text import TextRefused, plain_field, read_file
from engine.scenario import MAX_SEED, Scenario
from engine.scenario_base import Strict
from engine.simulation import Budget, BudgetExceeded, Simulation

MAX_POINTS = 2_000  # candidates a space may declare
# Candidates x the size of one (its scenario as JSON), at most: building and validating every candidate
# before the first run takes time and memory in proportion (about 0.13 s and 5-8 MB of memory an MB).
# 2,000 candidates of 5 kB (every preset and template is under 4 kB), or 100 of 100 kB: about 1.5 s, 80 MB.
MAX_SPACE_BYTES = 10_000_000
MAX_CHOICES = 12  # dimensions of a space
MAX_VALUES = 24  # values one dimension may take
SLACK = 0.25  # early rounds keep a candidate within this share of every target: short runs are noisy
RUN_BUDGET = Budget(max_requests=3_000_000, max_wall_s=120.0)  # one run; past it, the candidate misses the SLO
TARGETS = ("latency_p95_s", "error_rate", "ttft_p95_s")
SET_BY_THE_SEARCH = ("name", "description", "seed")  # a candidate's own: not choices to try
_SHORT = reprlib.Repr()  # a value named in a message, never written out whole (aliases can make it huge)
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = 4
_SHORT.maxlevel = 2


class Slo(Strict):
    """The service-level objective: each target a figure the whole measured run must not exceed."""

    latency_p95_s: float | None = Field(10.0, gt=0, le=3600, description="s; p95 of request latency, at most")
    error_rate: float | None = Field(0.01, ge=0, le=1, description="share of requests that fail, at most")
    ttft_p95_s: float | None = Field(None, gt=0, le=3600, description="s; p95 time to the first token, at most "
                                     "(with an LLM); null = not a target")

    @model_validator(mode="after")
    def _some_target(self) -> "Slo":
        if all(getattr(self, name) is None for name in TARGETS):
            raise ValueError("give at least one target: latency_p95_s, error_rate or ttft_p95_s")
        return self


class Round(Strict):
    """One rung of successive halving: how long each surviving candidate runs, and on how many seeds."""

    seconds: float = Field(gt=0, le=3600, description="simulated seconds measured, after the warm-up")
    seeds: int = Field(ge=1, le=10)


class SearchSpec(Strict):
    """What to search: a base architecture and its traffic, a target, and the choices to try."""

    name: str = Field("search", min_length=1, max_length=120)
    base: str | None = Field(None, max_length=80, description="a preset's name; or give scenario")
    scenario: dict | None = Field(None, description="a whole scenario, inline; or give base")
    changes: dict = Field(default_factory=dict, description="changes to the base first: its traffic, say")
    slo: Slo = Field(default_factory=Slo)
    space: dict[str, list[Any]] = Field(description="a field's dotted path (web.replicas) -> the values to try; "
                                                    "null removes an optional part (cache: [null, {...}])")
    rounds: list[Round] = Field(default_factory=lambda: [Round(seconds=60, seeds=1), Round(seconds=180, seeds=2),
                                                         Round(seconds=300, seeds=3)], min_length=1, max_length=6)
    keep: float = Field(1 / 3, gt=0, le=1, description="share of candidates each round passes to the next")
    warmup_s: float = Field(60.0, ge=0, le=3600, description="simulated seconds before each run is measured")
    seed: int = Field(1, ge=0, le=MAX_SEED, description="first seed; a round with k seeds uses seed .. seed + k - 1")
    max_wall_s: float = Field(1800.0, gt=0, le=86_400, description="s of wall-clock time the whole search may take; "
                              "past it, it stops with what the finished runs showed")

    def points(self) -> int:
        """Return how many combinations the space declares (valid or not)."""
        return math.prod(len(values) for values in self.space.values())

    @model_validator(mode="after")
    def _coherent(self) -> "SearchSpec":
        plain_field(self.name)
        problems = []
        if (self.base is None) == (self.scenario is None):
            problems.append("give exactly one of base (a preset's name) or scenario")
        presets = [name for name, _ in list_presets()]
        if self.base is not None and self.base not in presets:
            problems.append(f"base: {self.base[:40]!r} is not allowed: choose one of {', '.join(presets)}")
        if not 1 <= len(self.space) <= MAX_CHOICES:
            problems.append(f"space: {len(self.space)} choices is not allowed: 1 to {MAX_CHOICES}")
        for path, values in self.space.items():
            if path in SET_BY_THE_SEARCH:
                problems.append(f"space: {path!r} is not allowed: the search sets each candidate's {path} itself")
            if not path or len(path) > 80 or not all(part.isidentifier() for part in path.split(".")):
                problems.append(f"space: {path[:80]!r} is not allowed: a field's dotted path, such as web.replicas")
            if not 1 <= len(values) <= MAX_VALUES:
                problems.append(f"space.{path[:80]}: {len(values)} values is not allowed: 1 to {MAX_VALUES}")
        points = self.points()
        if points > MAX_POINTS:
            problems.append(f"space: {points:,} candidates is not allowed: at most {MAX_POINTS:,}")
        if self.rounds[-1].seeds < 3:
            problems.append(f"rounds: the last round's {self.rounds[-1].seeds} seed(s) is not allowed: at least 3, "
                            "so the winner meets the target on 3 seeds or more")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def read_spec(text: str | bytes, source: str = "search spec") -> SearchSpec:
    """Read a search spec from YAML or JSON text through the scenario door, or raise ScenarioError."""
    return validate_data(SearchSpec, read_scenario_text(text, source), source)


def load_spec(path: str | Path) -> SearchSpec:
    """Read a search spec file through the scenario file's door (engine.plain_text.read_file), with the same words."""
    try:
        raw = read_file(path, MAX_SCENARIO_BYTES)
    except TextRefused as exc:
        raise ScenarioError([f"(file): {exc}"], str(path)) from None
    return read_spec(raw, str(path))


# --- candidates -----------------------------------------------------------------------------------------------

def _nested(path: str, value) -> dict:
    """Return {"a": {"b": value}} for path "a.b"."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _merge(into: dict, more: dict) -> dict:
    """Merge nested mapping `more` into `into` (in place) and return it."""
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


@dataclass
class Candidate:
    """One architecture of the space: the choices that make it, its scenario, and what its runs measured."""

    index: int
    choice: dict  # dotted path -> value
    scenario: Scenario
    runs: dict = field(default_factory=dict)  # round -> list of figures, one per seed
    reached: int = -1  # the last round it ran in

    def figures(self, round_index: int | None = None) -> list[dict]:
        return self.runs.get(self.reached if round_index is None else round_index, [])


def base_scenario(spec: SearchSpec) -> Scenario:
    """Return the architecture the search starts from, with the spec's changes."""
    base = load_preset(spec.base) if spec.base is not None else parse_scenario(spec.scenario, "search scenario")
    return derive(base, spec.changes, f"{spec.name}: the base with its changes") if spec.changes else base


def candidate_bytes(spec: SearchSpec, base_data: dict) -> int:
    """Return how large one candidate may be, in bytes: the base's data as JSON plus each choice's largest value
    (building and validating a candidate takes time and memory in proportion)."""
    return len(json.dumps(base_data)) + sum(max(len(repr(value)) for value in values) for values in spec.space.values())


def _build(spec: SearchSpec, should_stop: Callable[[], bool] | None = None
           ) -> tuple[list[Candidate], list[str], bool]:
    """Return (the valid candidates, why each other combination was left out, whether every combination was
    built); `should_stop` is asked before each one. A space too large to build is refused first."""
    base = base_scenario(spec)
    base_data = scenario_to_data(base)  # once: each candidate is derived from the base's data, not dumped again
    points, size = spec.points(), candidate_bytes(spec, base_data)
    if points * size > MAX_SPACE_BYTES:
        raise ScenarioError([f"space: {points:,} candidates of up to {size:,} bytes each is not allowed: at most "
                             f"{MAX_SPACE_BYTES:,} bytes of candidates in all ({max(MAX_SPACE_BYTES // size, 1):,} "
                             "candidates of this size): fewer values, or a smaller scenario"], spec.name)
    paths = list(spec.space)
    found, refused = [], []
    for values in itertools.product(*(spec.space[path] for path in paths)):
        if should_stop is not None and should_stop():
            return found, refused, False
        choice = dict(zip(paths, values))
        changes = {}
        for path, value in choice.items():
            _merge(changes, _nested(path, value))
        described = ", ".join(f"{path}={_SHORT.repr(value)}" for path, value in choice.items())
        try:
            scenario = derive(base_data, {**changes, "name": f"{spec.name} #{len(found) + 1}"[:120],
                                          "description": f"Candidate {len(found) + 1} of the search {spec.name!r}: "
                                                         f"{base.name} with {described}."[:4000]}, described)
        except ScenarioError as exc:
            refused.append(f"{described}: {exc.problems[0]}")
            continue
        found.append(Candidate(len(found), choice, scenario))
    return found, refused, True


def candidates(spec: SearchSpec) -> tuple[list[Candidate], list[str]]:
    """Return every valid candidate of the space, and why each other combination was left out; refuse a space whose
    candidates would take more than MAX_SPACE_BYTES in all (ScenarioError)."""
    found, refused, _ = _build(spec)
    return found, refused


# --- one run ----------------------------------------------------------------------------------------------------

def evaluate(task: dict) -> dict:
    """Run one candidate on one seed and return the figures the search judges (runs in a worker process).

    `task`: {"scenario": data, "seed", "warmup_s", "seconds", "attachments": {name: CSV}}; a
    run past its work budget comes back as `stopped` (it misses every target).

    The cost is what serving this traffic costs a month: the instances, and the tokens of an answer to
    every request that arrived. Tokens are billed when an answer is finished, so a design that drops
    requests, or is still working on many when the run ends, would otherwise look cheaper for it. The
    instances' part is exact; the tokens' part is an estimate from the answers the run finished, and
    with long-tailed answer lengths it varies from run to run by a few % (docs/search.md).
    """
    hold(task.get("attachments", {}), "search task", ours=True)  # uploaded traces and curves travel with it
    scenario = derive(parse_scenario(task["scenario"], "search task"), {"seed": task["seed"]}, "search task")
    sim = Simulation(scenario, task.get("budget", RUN_BUDGET), history_windows=1)
    try:
        if task["warmup_s"]:
            sim.advance(task["warmup_s"])
            sim.restart_summary()
        summary = sim.run(task["seconds"])
    except BudgetExceeded as exc:
        return {"stopped": str(exc)}
    month = 30 * 86_400 / task["seconds"]
    completions = summary["completions"]
    per_answer = summary["usd_tokens"] / completions if completions else 0.0
    infra, tokens = summary["usd_infra"] * month, per_answer * summary["arrivals"] * month
    return {"stopped": None, "usd_per_month": infra + tokens, "usd_infra_per_month": infra,
            "usd_tokens_per_month": tokens,
            **{name: summary.get(name) for name in (*TARGETS, "throughput_rps", "arrivals", "latency_p50_s")}}


def meets(slo: Slo, figures: list[dict], slack: float = 0.0) -> bool:
    """Return whether every run meets every target (each within `slack` of it)."""
    return bool(figures) and violation(slo, figures) <= 1.0 + slack


def violation(slo: Slo, figures: list[dict], targets: tuple[str, ...] = TARGETS) -> float:
    """Return the worst run's worst ratio of a figure to its target, over `targets` (<= 1: all met; infinite: a
    run stopped)."""
    worst = 0.0
    for run in figures:
        if run.get("stopped"):
            return math.inf
        for name in targets:
            target, value = getattr(slo, name), run.get(name)
            if target is None:
                continue
            if value is None:
                if name == "ttft_p95_s":
                    continue  # no LLM answered in this run: no first token to wait for
                return math.inf
            worst = max(worst, value / target if target > 0 else (0.0 if value <= 0 else math.inf))
    return worst


def cost(figures: list[dict], part: str = "usd_per_month") -> float:
    """Return a candidate's mean USD per month over its runs (infinite with none); `part`: usd_infra_per_month or
    usd_tokens_per_month for the instances' or the tokens' share."""
    values = [run[part] for run in figures if run and run.get(part) is not None]
    return sum(values) / len(values) if values else math.inf


def worst(figures: list[dict], name: str) -> float | None:
    """Return the worst (largest) figure over a candidate's runs."""
    values = [run[name] for run in figures if run and run.get(name) is not None]
    return max(values) if values else None


# --- the search -----------------------------------------------------------------------------------------------

class Cancelled(Exception):
    """The search was cancelled, or ran out of its time budget: its result so far comes with it (args[0])."""

    def __str__(self) -> str:
        result = self.args[0] if self.args else None
        if not isinstance(result, Result):
            return super().__str__()
        return f"the search {result.stopped or 'stopped'} ({result.runs:,} runs finished)"  # never the whole result


@dataclass
class Result:
    """What a search found: the winner (None if no candidate met the objective), every candidate, the rounds."""

    spec: SearchSpec
    candidates: list[Candidate]
    refused: list[str]
    winner: Candidate | None
    runs: int  # simulations run
    cancelled: bool = False
    stopped: str | None = None  # why it ended early, in words: cancelled, or its time budget

    def front(self) -> list[Candidate]:
        """Return the Pareto front of cost against worst p95 latency among the candidates of the last round (the
        others were measured on shorter runs, and fewer seeds, than a front should compare).

        Only candidates that meet the objective's other targets (errors, first token) are on it: a design
        that fails its users is not a cheaper trade-off, and it bills fewer tokens for the answers it drops.
        """
        last = len(self.spec.rounds) - 1
        seeds = self.spec.rounds[-1].seeds  # a search stopped early may have some of a finalist's seeds only
        measured = [c for c in self.candidates if c.reached == last and len(c.figures()) == seeds
                    and not any(r.get("stopped") for r in c.figures())
                    and worst(c.figures(), "latency_p95_s") is not None
                    and violation(self.spec.slo, c.figures(), ("error_rate", "ttft_p95_s")) <= 1.0]
        points = sorted(measured, key=lambda c: (cost(c.figures()), worst(c.figures(), "latency_p95_s")))
        front, best = [], math.inf
        for candidate in points:
            p95 = worst(candidate.figures(), "latency_p95_s")
            if p95 < best:
                front.append(candidate)
                best = p95
        return front


def rank(spec: SearchSpec, alive: list[Candidate], round_index: int, slack: float) -> list[Candidate]:
    """Order candidates for the next round: those meeting the objective (with slack) cheapest first, then the
    rest by how far they miss it. The last round's first is the winner."""
    def key(candidate: Candidate):
        figures = candidate.runs[round_index]
        if meets(spec.slo, figures, slack):  # equal bills (to the cent): the one further inside the targets first
            return (0, round(cost(figures), 2), violation(spec.slo, figures), candidate.index)
        return (1, violation(spec.slo, figures), cost(figures), candidate.index)

    return sorted(alive, key=key)


def search(spec: SearchSpec, executor: Executor, progress: Callable[[dict], None] | None = None,
           cancel: threading.Event | None = None) -> Result:
    """Run successive halving over the spec's space on `executor`; return what it found.

    `progress` is called after every finished run with {round, rounds, done, total, alive, best}; setting
    `cancel` stops the search at the next finished run (Cancelled carries the result so far). The time
    budget (spec.max_wall_s) starts before the candidates are built: building them counts.
    """
    deadline = time.monotonic() + spec.max_wall_s
    pool, refused, built = _build(spec, lambda: (cancel is not None and cancel.is_set()) or time.monotonic() > deadline)
    if not built:
        cancelled = cancel is not None and cancel.is_set()
        why = "cancelled" if cancelled else f"stopped at its time budget of {spec.max_wall_s:,g} s"
        raise Cancelled(Result(spec, pool, refused, None, 0, cancelled=True,
                               stopped=f"{why} while building its candidates ({len(pool) + len(refused):,} of "
                                       f"{spec.points():,} built, no run started)"))
    if not pool:
        raise ScenarioError([f"space: no candidate is a valid scenario ({len(refused)} refused); the first: "
                             f"{refused[0] if refused else 'none'}"], spec.name)
    state = {"runs": 0, "best": None}
    last_index = len(spec.rounds) - 1

    def stop(pending, alive: list[Candidate], round_index: int) -> None:
        """End the search if it was cancelled or is out of time, with what the finished runs showed."""
        cancelled = cancel is not None and cancel.is_set()
        if not cancelled and time.monotonic() <= deadline:
            return
        for future in pending:
            future.cancel()
        for candidate in alive:  # what did not finish is not judged
            candidate.runs[round_index] = [r for r in candidate.runs.get(round_index, []) if r is not None]
        why = "cancelled" if cancelled else f"stopped at its time budget of {spec.max_wall_s:,g} s"
        raise Cancelled(Result(spec, pool, refused, state["best"], state["runs"], cancelled=True, stopped=why))

    def run_round(alive: list[Candidate], round_index: int, stage: str) -> None:
        """Run every candidate of `alive` at round `round_index`'s length and seeds, reporting and obeying cancel."""
        rung = spec.rounds[round_index]
        tasks = {}
        for candidate in alive:
            stop(tasks, alive, round_index)
            candidate.runs[round_index] = [None] * rung.seeds
            candidate.reached = round_index
            data, carried = scenario_to_data(candidate.scenario), attached(candidate.scenario)
            for offset in range(rung.seeds):
                # A run stops with the search: its own budget never outlasts the search's.
                budget = Budget(max_requests=RUN_BUDGET.max_requests,
                                max_wall_s=max(min(RUN_BUDGET.max_wall_s, deadline - time.monotonic()), 0.001))
                task = {"scenario": data, "seed": spec.seed + offset, "warmup_s": spec.warmup_s,
                        "seconds": rung.seconds, "attachments": carried, "budget": budget}
                tasks[executor.submit(evaluate, task)] = (candidate, offset)
        pending, total = set(tasks), len(tasks)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                candidate, offset = tasks[future]
                candidate.runs[round_index][offset] = future.result()
                state["runs"] += 1
            stop(pending, alive, round_index)
            if progress is not None and done:
                best = state["best"]
                progress({"round": round_index + 1, "rounds": len(spec.rounds), "stage": stage,
                          "done": total - len(pending), "total": total, "alive": len(alive),
                          "best_usd_per_month": cost(best.runs[last_index]) if best is not None else None})

    def judge() -> None:
        """The winner so far: the first, by rank, of the candidates run at the last round that meet the objective."""
        finalists = rank(spec, [c for c in pool if c.reached == last_index], last_index, 0.0)
        state["best"] = next((c for c in finalists if meets(spec.slo, c.runs[last_index])), None)

    alive = list(pool)
    for round_index in range(len(spec.rounds)):
        run_round(alive, round_index, "halving")
        if round_index < last_index:
            ranked = rank(spec, alive, round_index, SLACK)
            alive = ranked[:max(1, math.ceil(len(ranked) * spec.keep))]
    judge()
    # Halving judged the dropped candidates on short, noisy runs. Any of them that looked as if it met
    # the objective and cost less than the winner (or there is no winner yet) gets the last round's
    # runs too, cheapest first, a batch at a time, until none is left that could still win.
    batch = max(1, len(alive))
    while True:
        def bill(candidate: Candidate) -> float:
            return cost(candidate.runs[candidate.reached])

        best = state["best"]
        waiting = sorted((c for c in pool if c.reached < last_index and meets(spec.slo, c.runs[c.reached], SLACK)
                          and (best is None or bill(c) < cost(best.runs[last_index]))), key=bill)
        if not waiting:
            break
        run_round(waiting[:batch], last_index, "checking candidates dropped early")
        judge()
    return Result(spec, pool, refused, state["best"], state["runs"])


def exhaustive(spec: SearchSpec, executor: Executor) -> Result:
    """Run every candidate at the last round's length and seeds (the check successive halving must pass)."""
    data = {**spec.model_dump(mode="json"), "rounds": [spec.rounds[-1].model_dump()]}
    return search(validate_data(SearchSpec, data, spec.name), executor)
