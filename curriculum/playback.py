"""Playback: a live run a learner steers, shown beside the run it would have been, on identical traffic.

A lesson teaches by a change: raise the workers, switch the database, turn the cache on. The
learner should see what that change did, not guess it from a line that also moves with chance. So
the moment the learner first changes something, the run as it was is played again up to now
(engine/replay.py: same scenario, same seed, same earlier changes at the same times gives the same
run) and then goes on beside the changed one as the "before" line. Both see exactly the same
arrivals from then on (common random numbers), so where the lines part is the change's effect.

Switching to another version of the architecture (a lesson's variant, an edited scenario) cannot
happen inside a running simulation; the new version is played from time 0 with the same changes
up to now instead, so the time axis goes on and the old version keeps running as "before".

Later changes act on the "now" run only: "before" stays the run as it was when the comparison
began, which is what a lesson's claim compares. `forget_before` ends the comparison.

Plain Python: the dashboard's player drives it, the tests drive it the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import Budget, BudgetExceeded, Scenario, Simulation
from engine.controls import CONTROLS, apply_control, read_controls
from engine.replay import Change, replay

SPANS_S = (10.0, 60.0)  # rolling spans the live view offers besides the raw one-second window
# What the live view can average over: the raw window ("1"), the rolling spans, and everything since
# the change that started the comparison ("since").
SPANS = ("1", *(f"{span:g}" for span in SPANS_S), "since")
TICK_S = 0.2  # wall seconds between two steps of a playing run: five redraws a second, a margin over four
SPEEDS = {"1x": 1.0, "2.5x": 2.5, "10x": 10.0, "60x": 60.0}  # simulated seconds per wall second
HISTORY_WINDOWS = 300  # windows each run keeps: what the charts can show, and a bound on memory
MAX_TICK_REQUESTS = 2_000_000  # simulated arrivals one step may take before it is refused as far too much
REPLAY_WALL_S = 10.0  # wall-clock seconds a replay (a new "before", a new version, a room resumed) may take
WARM_UP_WALL_S = 8.0  # wall-clock seconds a step's warm-up may take before it opens where it got to
MAX_MARKS = 200  # change marks kept (the charts show a few minutes; a long session does not grow without end)
_HAIR = 1e-6  # relative step past a simulated instant (Simulation.advance snaps within 1e-9 of a window's end)


@dataclass
class Track:
    """One run on the live view: its version's name, its scenario, its simulation and what was done to it."""

    label: str
    scenario: Scenario
    sim: Simulation
    changes: list[Change] = field(default_factory=list)

    def as_data(self) -> dict:
        """Return what replays this track, given its scenario: its label and its changes."""
        return {"label": self.label, "changes": [change.as_data() for change in self.changes]}


class Playback:
    """A run that is changed while it plays, and the run as it was before the first change."""

    def __init__(self, scenario: Scenario, label: str = "", settings: dict | None = None, *,
                 history_windows: int = HISTORY_WINDOWS):
        """Start `scenario` (called `label`) at time 0 with control `settings` applied, paused.

        Raises ValueError when a setting is refused, naming the control and what is allowed.
        """
        self.history_windows = history_windows
        self.now = Track(label, scenario, self._simulation(scenario))
        self.before: Track | None = None
        self.since: float | None = None  # when the comparison began: where the two runs part
        self.marks: list[tuple[float, str]] = []  # (simulated time, what changed)
        self.notes: list[str] = []  # what the learner should know about the last change (refused parts)
        self.cannot_compare = False  # a "before" replay took too long: no comparison until a reset
        kept = self.now.sim.history_windows
        if kept < history_windows:  # engine/simulation.py, Budget.max_instance_windows
            self.notes.append(f"This architecture runs up to {scenario.most_instances():,} instances, each with its "
                              f"own figures in every window: the charts keep its last {kept:,} windows, not "
                              f"{history_windows:,}.")
        for control, value in (settings or {}).items():
            self._apply(self.now, control, value)

    # --- reading -----------------------------------------------------------------------------

    @property
    def t(self) -> float:
        """Return the simulated time of the run."""
        return self.now.sim.now

    def settings(self) -> dict:
        """Return every control's value as the run has it now (None where a control does not apply)."""
        return read_controls(self.now.sim)

    def tracks(self) -> list[tuple[str, Track]]:
        """Return ("now", track) and, while comparing, ("before", track)."""
        return [("now", self.now)] + ([("before", self.before)] if self.before is not None else [])

    # --- playing -----------------------------------------------------------------------------

    def advance(self, seconds: float, max_wall_s: float = 60.0) -> float:
        """Play `seconds` of simulated time on every run, within about `max_wall_s` of wall time.

        Returns the simulated seconds the run really advanced: less than asked when the wall-clock
        cap stopped it (the next call goes on from there). Raises BudgetExceeded when a step would
        simulate more than MAX_TICK_REQUESTS arrivals: a rate this machine cannot play live.
        """
        started, t0 = time.perf_counter(), self.t
        share = max_wall_s / (2 if self.before is not None else 1)
        self._step(self.now.sim, self.t + seconds, share)
        if self.before is not None:
            left = max(max_wall_s - (time.perf_counter() - started), share / 4)
            self._step(self.before.sim, self.t, left)
        return self.t - t0

    def warm_up(self, seconds: float, progress: Callable[[float], None] | None = None) -> None:
        """Play `seconds` before anything is drawn, reporting the fraction done (a step opening in steady state).

        The whole warm-up takes at most WARM_UP_WALL_S of wall time: a scenario too heavy for that
        opens where the warm-up got to, and `notes` says so.
        """
        end, deadline = self.t + seconds, time.perf_counter() + WARM_UP_WALL_S
        while self.t < end - 1e-9:
            left = deadline - time.perf_counter()
            if left <= 0:
                self.notes.append(f"The warm-up stopped after {self.t:,.0f} of {seconds:,.0f} simulated seconds: "
                                  f"this scenario is too heavy to play {seconds:,.0f} s in {WARM_UP_WALL_S:g} s here.")
                return
            self.advance(min(5.0, end - self.t), max_wall_s=left)
            if progress is not None:
                progress(min(1.0, 1 - (end - self.t) / seconds))

    @staticmethod
    def _step(sim: Simulation, target: float, max_wall_s: float) -> None:
        """Advance `sim` towards `target`; stop quietly at the wall-clock cap, loudly at the request cap.

        A run stopped by the clock stops between two events of one simulated instant; it then goes
        on a hair further, past that instant, so that a change made now happens where a replay to
        this moment would make it too (engine/replay.py relies on it).
        """
        if target <= sim.now:
            return
        sim.budget = Budget(max_requests=MAX_TICK_REQUESTS, max_wall_s=max_wall_s)
        try:
            sim.advance(target - sim.now)
        except BudgetExceeded as exc:
            if exc.limit != "max_wall_s":
                raise
            sim.budget = Budget(max_requests=MAX_TICK_REQUESTS, max_wall_s=REPLAY_WALL_S)
            sim.advance(_HAIR * max(1.0, sim.now))  # past the instant (more than advance's snapping to a window)

    # --- changing ----------------------------------------------------------------------------

    def change(self, control: str, value, progress: Callable[[float], None] | None = None) -> None:
        """Set a live control on the run from now on; the first change starts the "before" run.

        Raises ValueError (and changes nothing) when the simulation refuses the value.
        """
        before_changes = list(self.now.changes)
        self._apply(self.now, control, value)
        if self.before is None and not self.cannot_compare:
            self.before = self._replayed(self.now.label, self.now.scenario, before_changes, progress)
            if self.before is not None:
                self._compare_from_now()
            else:  # said once; trying again on every change would stall the page each time
                self.cannot_compare = True
                self.notes = [f"No 'before' line: playing {self.t:,.0f} simulated seconds again took longer than "
                              f"{REPLAY_WALL_S:g} s. Press Reset to compare from a fresh start."]
        name = CONTROLS[control].label
        self._mark(f"{name} = {_shown(value)}")

    def switch(self, scenario: Scenario, label: str, progress: Callable[[float], None] | None = None) -> None:
        """Go on as another version of the architecture: played from time 0 to now with the same changes.

        The version running until now goes on as "before" (unless a comparison is already under way).
        Changes the new version refuses are left out and listed in `notes`.
        """
        refused: list[tuple[Change, str]] = []
        track = self._replayed(label, scenario, self.now.changes, progress, refused)
        if track is None:
            raise ValueError(f"version {label!r}: replaying {self.t:,.0f} simulated seconds took longer than "
                             f"{REPLAY_WALL_S:g} s; press Reset to start it from the beginning")
        if self.before is None:
            self.before = self.now
            self.now = track
            self._compare_from_now()
        else:
            self.now = track  # replayed with the comparison's start: its "since" figures count from there too
        self.notes = [f"{CONTROLS[change.control].label}: {reason}" for change, reason in refused]
        self._mark(f"version: {label}")

    def _mark(self, text: str) -> None:
        """Remember a change at the current time, for the charts (the oldest go past MAX_MARKS)."""
        self.marks.append((self.t, text))
        del self.marks[:-MAX_MARKS]

    def _compare_from_now(self) -> None:
        """Begin the comparison now: both runs count their "since the change" figures from here."""
        self.since = self.t
        for _, track in self.tracks():
            track.sim.start_since()

    def forget_before(self) -> None:
        """End the comparison: the "before" run stops, the next change starts a new one."""
        self.before = self.since = None

    # --- saving and resuming -------------------------------------------------------------------

    def as_data(self) -> dict:
        """Return what replays this playback exactly, given a way to build each version's scenario."""
        return {"t": self.t, "now": self.now.as_data(), "since": self.since,
                "before": self.before.as_data() if self.before is not None else None,
                "marks": [[t, text] for t, text in self.marks]}

    @classmethod
    def from_data(cls, data: dict, scenario_of: Callable[[str], Scenario],
                  progress: Callable[[float], None] | None = None) -> "Playback":
        """Rebuild a playback from `as_data`'s output, replaying each run up to its time.

        `scenario_of(label)` returns the scenario of a version. Raises ValueError when the data is
        not a playback or a run cannot be replayed within the wall-clock budget.
        """
        try:
            t = float(data["t"])
            now = data["now"]
            marks = [(float(t_s), str(text)[:120]) for t_s, text in data.get("marks") or []][:500]
            tracks = {"now": now, "before": data.get("before")}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"playback: cannot be resumed ({type(exc).__name__}: {str(exc)[:80]})") from None
        playback = cls.__new__(cls)
        playback.history_windows = HISTORY_WINDOWS
        playback.marks, playback.notes, playback.before, playback.cannot_compare = marks[-MAX_MARKS:], [], None, False
        since = data.get("since")
        playback.since = float(since) if isinstance(since, (int, float)) and not isinstance(since, bool) else None
        for role, spec in tracks.items():
            if spec is None:
                continue
            label = str(spec.get("label", ""))
            changes = [Change.from_data(item) for item in spec.get("changes") or []]
            track = playback._replayed(label, scenario_of(label), changes, progress, until_s=t)
            if track is None:
                raise ValueError(f"playback: replaying {t:,.0f} simulated seconds took longer than {REPLAY_WALL_S:g} s")
            setattr(playback, role, track)
        if playback.before is None:
            playback.since = None
        return playback

    # --- inside ----------------------------------------------------------------------------------

    def _simulation(self, scenario: Scenario) -> Simulation:
        """Return a fresh simulation of `scenario` as the live view needs it (rolling spans, bounded history)."""
        return Simulation(scenario, Budget(max_requests=MAX_TICK_REQUESTS, max_wall_s=REPLAY_WALL_S),
                          history_windows=self.history_windows, rolling_s=SPANS_S)

    def _apply(self, track: Track, control: str, value) -> None:
        """Apply a control to `track`'s run now, and remember it so the run can be replayed."""
        apply_control(track.sim, control, value)
        track.changes.append(Change(track.sim.now, control, value))

    def _replayed(self, label: str, scenario: Scenario, changes: list[Change], progress,
                  refused: list | None = None, until_s: float | None = None) -> Track | None:
        """Return `scenario` replayed with `changes` up to now (or `until_s`), or None past the wall-clock budget."""
        until = self.t if until_s is None else until_s
        try:
            sim = replay(scenario, changes, until, budget=Budget(MAX_TICK_REQUESTS * 10, REPLAY_WALL_S),
                         history_windows=self.history_windows, rolling_s=SPANS_S, progress=progress,
                         refused=refused, since_s=self.since)
        except BudgetExceeded:
            return None
        kept = [change for change in changes if change.t_s <= until
                and not any(change is bad for bad, _ in (refused or []))]
        return Track(label, scenario, sim, kept)


def _shown(value) -> str:
    """Return a control value as a mark's label shows it."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
