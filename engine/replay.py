"""Replay: a run is its scenario plus the changes made to it, at the simulated times they were made.

Every random source of a simulation has its own seeded stream (engine/randomness.py), and time
moves only when `advance` moves it. So the same scenario with the same changes applied at the same
simulated times is the same run, window for window, however the time in between was stepped. That
is what lets a live view show the road not taken: the run as it would have gone without the
learner's last change (or with the previous version of the architecture) is played again up to
now, then both go on side by side on identical arrivals. A presenter who reloads the page resumes
the room's run the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.controls import apply_control
from engine.scenario import Scenario
from engine.simulation import Budget, Simulation

_PROGRESS_EVERY_S = 5.0  # simulated seconds between progress reports


@dataclass(frozen=True)
class Change:
    """A live control set to `value` at simulated time `t_s`."""

    t_s: float
    control: str
    value: object

    def as_data(self) -> list:
        """Return the change as JSON-compatible data: [t_s, control, value]."""
        return [self.t_s, self.control, self.value]

    @classmethod
    def from_data(cls, data) -> "Change":
        """Read a change written by `as_data`; raise ValueError if it is not one."""
        if not (isinstance(data, (list, tuple)) and len(data) == 3 and isinstance(data[0], (int, float))
                and not isinstance(data[0], bool) and data[0] >= 0 and isinstance(data[1], str)):
            raise ValueError(f"change: {str(data)[:80]} is not allowed: must be [time in s, control, value]")
        return cls(float(data[0]), data[1], data[2])


def advance_to(sim: Simulation, t_s: float) -> None:
    """Advance `sim` to simulated time `t_s` (nothing if it is there already)."""
    if t_s > sim.now:
        sim.advance(t_s - sim.now)


def replay(scenario: Scenario, changes: Iterable[Change], until_s: float, *, budget: Budget = Budget(),
           history_windows: int = 3600, rolling_s: tuple[float, ...] = (),
           progress: Callable[[float], None] | None = None,
           refused: list[tuple[Change, str]] | None = None, since_s: float | None = None) -> Simulation:
    """Return a simulation of `scenario` with `changes` applied at their times, advanced to `until_s`.

    Changes at or before `until_s` are applied in time order (those made at the same time, in the
    order given). A change the simulation refuses raises ValueError, as it did live, unless a
    `refused` list is given: then it is skipped and listed there with the reason (a version of the
    architecture without a database has no read replicas to set). `budget.max_wall_s` bounds the
    whole replay and `budget.max_requests` each step of it (BudgetExceeded past either);
    `progress(fraction)` is called as it goes. With `since_s`, the rolling "since" figures start at that
    time, as they did live (Simulation.start_since).
    """
    deadline = time.perf_counter() + budget.max_wall_s
    sim = Simulation(scenario, budget, history_windows=history_windows, rolling_s=rolling_s)
    steps = sorted((change for change in changes if change.t_s <= until_s), key=lambda change: change.t_s)
    if since_s is not None and since_s <= until_s:
        steps.append(Change(since_s, "", None))  # the moment the "since" figures start
        steps.sort(key=lambda change: change.t_s)
    for change in steps:
        _advance_reporting(sim, change.t_s, until_s, progress, deadline)
        if not change.control:
            sim.start_since()
            continue
        try:
            apply_control(sim, change.control, change.value)
        except ValueError as exc:
            if refused is None:
                raise
            refused.append((change, str(exc)))
    _advance_reporting(sim, until_s, until_s, progress, deadline)
    sim.budget = budget
    return sim


def _advance_reporting(sim: Simulation, t_s: float, until_s: float, progress, deadline: float) -> None:
    """Advance to `t_s` by `deadline` (a perf_counter time), reporting the fraction of `until_s` done on the way."""
    while sim.now < t_s:
        sim.budget = Budget(sim.budget.max_requests, max(deadline - time.perf_counter(), 1e-3))
        advance_to(sim, t_s if progress is None else min(t_s, sim.now + _PROGRESS_EVERY_S))
        if progress is not None:
            progress(sim.now / until_s if until_s else 1.0)
