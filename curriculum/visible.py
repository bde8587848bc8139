"""How soon a learner sees a step's effect: the claim checked on the live view, tick by tick.

A claim is checked in CI over minutes of simulated time (curriculum/claims.py). A learner gets
seconds. This plays a step the way the lesson player does: the step opens warmed up, the
experiment's change is made at once, the run plays at the step's speed in ticks of the player, and
after each tick the claim's expectations are read off the headline (the rolling span, "before" and
"now" on identical traffic). The effect is visible from the first tick at which every expectation
holds and keeps holding for a few more ticks.

Absolute thresholds on counts and money (at least 50 stale reads, at most $2 of tokens) are about
the claim's measured window; on the live view they are scaled to the span shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from curriculum.format import Claim, Expect, Lesson
from curriculum.playback import SPEEDS, TICK_S, Playback
from engine.labels import LABELS

HOLD_TICKS = 10  # the effect must stay visible this long (two seconds of wall time) to count
LIMIT_S = 30.0  # wall seconds within which every step's effect must show


@dataclass
class Visibility:
    """When a step's effect showed on the live view, and what it showed."""

    lesson: str
    step: int
    visible_after_s: float | None  # wall seconds at the step's speed, None if not within the limit
    simulated_s: float | None  # simulated seconds after the change
    speed: str
    here_s: float | None  # on this machine: the change itself (a replay) and each tick at least TICK_S, or longer
    opening_s: float  # how long this machine took to open the step (its warm-up), before the learner acts
    figures: list[tuple[str, float | None, float | None]]  # (claim, before, now) when it showed (or at the end)
    playback: Playback | None = field(default=None, repr=False)  # the run as it stood then


def _scaled(expect: Expect, value, claim: Claim, seconds: float):
    """Return a live value on the scale of the claim's threshold (counts and money over the claim's window)."""
    if value is None or LABELS[expect.metric].unit not in ("count", "tokens", "usd") or "_per_" in expect.metric:
        return value  # a level or a ratio (USD per 1,000 requests) reads the same over any span
    test, _ = expect.test
    if test in ("falls_by_at_least", "rises_by_at_least", "moves_by_at_most"):  # relative: no scale
        return value
    return value * claim.measure_s / seconds


def _holds(claim: Claim, before: dict, now: dict) -> tuple[bool, list]:
    """Return whether every expectation holds between two rolled records, and the figures read."""
    seconds = now["t_end_s"] - now["t_start_s"]
    figures, holds = [], True
    for expect in claim.expect:
        b = _scaled(expect, before.get(expect.metric), claim, seconds)
        a = _scaled(expect, now.get(expect.metric), claim, seconds)
        figures.append((expect.describe(), b, a))
        holds = holds and expect.holds(b, a)
    return holds, figures


def _at(record: dict, span) -> dict | None:
    """Return a window record over `span` (1.0: the window itself; None before the "since" span begins)."""
    return record if span == 1.0 else record["rolled"].get(span)


def live_figures(claim: Claim, playback: Playback, span: str) -> tuple[bool, list[tuple[str, float | None, float | None]]] | None:
    """Return whether the claim holds on the live run now, and (metric, before, now) for each metric it names.

    Read as the live view reads them at `span`; the figures are the span's own, as the headline shows
    them. None until the learner has made a change (no run goes on as "before") or the span has data
    on both sides.
    """
    if playback.before is None or not playback.now.sim.windows or not playback.before.sim.windows:
        return None
    key = "since" if span == "since" else float(span)
    now, before = (_at(track.sim.windows[-1], key) for track in (playback.now, playback.before))
    if now is None or before is None:
        return None
    holds, _ = _holds(claim, before, now)
    metrics = list(dict.fromkeys(expect.metric for expect in claim.expect))
    return holds, [(metric, before.get(metric), now.get(metric)) for metric in metrics]


def opened(lesson: Lesson, index: int) -> Playback:
    """Return step `index` as the lesson player opens it, warmed up (no Streamlit)."""
    playback = lesson.playback(lesson.opening_at(index))
    playback.warm_up(lesson.steps[index].opening_warmup_s())
    return playback


def make_change(lesson: Lesson, playback: Playback, changes: dict) -> None:
    """Make a claim's change on a playing step, as a learner does with the controls."""
    for control, value in changes.items():
        if control == "variant":
            playback.switch(lesson.build_scenario(value), value)
        else:
            playback.change(control, value)


def time_to_effect(lesson: Lesson, index: int, limit_s: float = LIMIT_S) -> Visibility:
    """Play step `index` with its experiment's change and return when its claim first showed on the live view."""
    step = lesson.steps[index]
    claim = step.experiment.claim
    speed = SPEEDS[step.speed]
    started = time.perf_counter()
    playback = opened(lesson, index)
    opening_s = time.perf_counter() - started
    started = time.perf_counter()
    make_change(lesson, playback, claim.after)
    here = [time.perf_counter() - started]  # wall time of the change, then of each tick as the player paces it
    first, streak, figures = None, 0, []
    ticks = int(limit_s / TICK_S) + HOLD_TICKS
    span = "since" if step.span == "since" else float(step.span)
    for tick in range(1, ticks + 1):
        started = time.perf_counter()
        playback.advance(speed * TICK_S, max_wall_s=120)
        here.append(max(TICK_S, time.perf_counter() - started))
        now, before = (_at(track.sim.windows[-1], span) for track in (playback.now, playback.before))
        holds, figures_now = _holds(claim, before, now) if now and before else (False, figures)
        if holds:
            if first is None:
                first, figures = tick, figures_now
            streak += 1
            if streak >= HOLD_TICKS:
                break
        else:
            first, streak, figures = None, 0, figures_now
    shown = first is not None and streak >= HOLD_TICKS and first * TICK_S <= limit_s
    return Visibility(lesson.slug, index, first * TICK_S if shown else None,
                      first * TICK_S * speed if shown else None, step.speed,
                      sum(here[:first + 1]) if shown else None, opening_s, figures, playback)


def report_line(folder: str, index: int, result: Visibility) -> str:
    """Return one printed line: when the step's effect showed, and the figures read then."""
    shown = "not in 30 s" if result.visible_after_s is None else f"{result.visible_after_s:.1f} s"
    simulated = "" if result.simulated_s is None else f"{result.simulated_s:.1f} s"
    here = "" if result.here_s is None else f"{result.here_s:.1f} s"
    figures = "; ".join(f"{c}: {_f(b)} -> {_f(a)}" for c, b, a in result.figures)
    return (f"| {folder} | {index + 1} | {result.speed} | {shown} | {simulated} | {here} | {result.opening_s:.1f} s "
            f"| {figures} |")


REPORT_HEADER = ("| lesson | step | speed | visible after | simulated | here | opening | what showed (before -> now) |\n"
                 "|---|---:|---|---:|---:|---:|---:|---|")


def _f(value) -> str:
    """Write a figure briefly."""
    return "-" if value is None else f"{value:.3g}"
