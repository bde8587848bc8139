"""The player: one way every live page plays a simulation (start, pause, reset, speed, span, ticks).

The live page, the lessons and the sandbox all play a `Playback` (curriculum/playback.py) the same
way, through one `Player` kept in the session under the page's key:

- A fragment ticks every TICK_S seconds while playing. Each tick advances the simulation by the
  wall time that really passed times the chosen speed (a late tick catches up instead of slowing
  the run), within a wall-clock share of the tick, then redraws the live view in place.
- When the engine cannot simulate that fast, the run goes on as fast as it can and the view says
  so: "running at 3.1x, behind the chosen 10x".
- Changes from the controls, a new version of the architecture, a reset: the widget callbacks only
  queue them; the page then carries them out where a progress bar can show (a warm-up or a replay
  may take a moment), and the view is never wiped.

The simulation lives in the session, never in a cache: SimPy cannot be pickled and every learner
needs their own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from weakref import WeakKeyDictionary

import streamlit as st

from curriculum.playback import SPEEDS, TICK_S, Playback
from dashboard.view import frame as frames, live_view
from dashboard.view.series import DEFAULT_SPAN, SPAN_LABELS, SPANS, point
from dashboard.view.text import as_text
from engine import BudgetExceeded, Simulation

TICK_WORK_S = 0.6 * TICK_S  # wall seconds of simulation one tick may do; the rest draws
DEFAULT_SPEED = "2.5x"
BEHIND = 0.85  # measured speed below this share of the chosen one is reported
LEAD_S = 30.0  # simulated seconds of the warm-up still drawn: a short steady line before anything changes
_CATCH_UP_TICKS = 3  # a late tick simulates at most this many ticks' worth of time


class Player:
    """One page's simulation player: its playback, play state, speed, span and pending changes."""

    def __init__(self, key: str, build: Callable[[], Playback], warm_up_s: float = 0.0,
                 speed: str = DEFAULT_SPEED):
        """Play what `build()` returns (it is called again on reset), warmed up `warm_up_s` before the first draw."""
        self.key = key
        self.build = build
        self.warm_up_s = warm_up_s
        self.speed = speed
        self.span = DEFAULT_SPAN
        self.running = False
        self.playback: Playback | None = None
        self.errors: list[str] = []  # shown once, above the view
        self.watched: tuple[str, ...] = ()  # metrics the page asks the learner to watch (headline, first)
        self._pending: list[tuple[str, tuple]] = []  # queued by callbacks, carried out by `settle`
        self._last_tick: float | None = None
        self.stopped = False  # the last tick stopped the run (at the request budget)
        self.shown_from = 0.0  # simulated time the charts start at: the end of the warm-up, less a short lead
        self._pace: deque[tuple[float, float]] = deque(maxlen=16)  # (wall seconds, simulated seconds) per tick
        self._points: WeakKeyDictionary = WeakKeyDictionary()  # Simulation -> deque of its points
        self.request("reset")

    # --- queueing what widgets ask for --------------------------------------------------------

    def request(self, action: str, *args) -> None:
        """Queue an action ("reset", "change", "switch", "forget") for `settle` to carry out."""
        self._pending.append((action, args))

    def settle(self, place=None) -> set[str]:
        """Carry out what was queued, showing progress in `place` where a warm-up or a replay takes a moment;
        return the actions carried out.

        `place` (a container the page always draws, at a fixed position) keeps what comes after it,
        the live view among it, where it was: an element that comes and goes above the live view
        would make the browser build the view again from scratch.
        """
        done = set()
        while self._pending:
            action, args = self._pending.pop(0)
            done.add(action)
            slot = (place or st).empty()

            def progress(fraction: float, text: str = "Simulating…") -> None:
                slot.progress(min(max(fraction, 0.0), 1.0), text=text)

            try:
                if action == "reset":
                    self._reset(progress)
                elif action == "change":
                    self.playback.change(*args, progress=lambda f: progress(f, "Playing the run again without your "
                                                                                 "change, to compare…"))
                    self.errors += self.playback.notes
                    self.playback.notes = []
                elif action == "switch":
                    shown = self.points(self.playback.now.sim)
                    self.playback.switch(*args, progress=lambda f: progress(f, "Playing the new version up to now…"))
                    self.seed_points(self.playback.now.sim, shown)  # before the switch, the old version ran
                    self.errors += self.playback.notes
                    self.playback.notes = []
                elif action == "forget":
                    self.playback.forget_before()
            except (ValueError, BudgetExceeded) as exc:
                self.errors.append(str(exc))
            slot.empty()
        return done

    def _reset(self, progress) -> None:
        """Build the playback afresh and warm it up, paused."""
        self.running = False
        self._last_tick = None
        self._pace.clear()
        self.playback = self.build()
        if self.warm_up_s:
            self.playback.warm_up(self.warm_up_s, lambda f: progress(f, "Warming up: simulating the minutes "
                                                                        "before this step opens…"))
        self.errors += self.playback.notes  # a warm-up cut short, a history kept shorter
        self.playback.notes = []
        self.shown_from = max(0.0, self.playback.t - LEAD_S)

    # --- playing ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Play from where the run stands."""
        self.running, self._last_tick = True, None
        self._pace.clear()

    def pause(self) -> None:
        """Stop playing; the run keeps where it stands."""
        self.running = False

    def tick(self) -> None:
        """Advance the run by the wall time since the last tick times the speed (if playing)."""
        if not self.running or self.playback is None:
            return
        wall = time.perf_counter()
        # A late tick catches up (within a few ticks' worth); a tick is never worth less than one, so a
        # run the page makes in between (a click) moves the simulation one step, as a test's run does.
        elapsed = TICK_S if self._last_tick is None else \
            min(max(wall - self._last_tick, TICK_S), _CATCH_UP_TICKS * TICK_S)
        self._last_tick = wall
        try:
            advanced = self.playback.advance(SPEEDS[self.speed] * elapsed, max_wall_s=TICK_WORK_S)
        except BudgetExceeded as exc:
            self.running = False
            self.errors.append(str(exc))
            self.stopped = True
            return
        self._pace.append((elapsed, advanced))

    def pace(self) -> float | None:
        """Return the simulated seconds per wall second of the last few ticks (None until there are some)."""
        if len(self._pace) < 4:
            return None
        wall = sum(w for w, _ in self._pace)
        return sum(s for _, s in self._pace) / wall if wall else None

    def notices(self) -> list[str]:
        """Return what the learner should know about the run's pace."""
        pace, chosen = self.pace(), SPEEDS[self.speed]
        if self.running and pace is not None and pace < BEHIND * chosen:
            return [f"Running at {pace:.1f}x, behind the chosen {self.speed}: this machine cannot simulate this "
                    "much traffic faster. Every request is still simulated; choose a slower speed to match."]
        return []

    # --- drawing -----------------------------------------------------------------------------------

    def points(self, sim: Simulation) -> list[dict]:
        """Return the points of `sim`'s windows, computing only those that closed since the last call."""
        known = self._points.get(sim)
        if known is None:
            known = self._points[sim] = deque(maxlen=sim.recorder.history.maxlen)
        last = known[-1]["t_end_s"] if known else float("-inf")
        fresh = []
        for record in reversed(sim.windows):
            if record["t_end_s"] <= last:
                break
            fresh.append(point(record))
        known.extend(reversed(fresh))
        return [p for p in known if p["t_end_s"] > self.shown_from]

    def seed_points(self, sim: Simulation, points: list[dict]) -> None:
        """Make `points` the history drawn for `sim` up to their end (what really ran then, or what a room drew)."""
        self._points[sim] = deque(points, maxlen=sim.recorder.history.maxlen)

    def frame(self, presenter: bool = False) -> dict:
        """Return the live view's frame as the run stands."""
        playback = self.playback
        before = self.points(playback.before.sim) if playback.before is not None else []
        return frames.of_playback(playback, self.points(playback.now.sim), before, span=self.span,
                                  watched=self.watched, presenter=presenter, notices=self.notices())

    def draw_buttons(self, extra: Callable[[], None] | None = None) -> None:
        """Draw start, pause, reset, speed and span in a row that wraps (nothing is ever cut)."""
        with st.container(horizontal=True, vertical_alignment="bottom", key=f"{self.key}_buttons"):
            st.button("Start", key=f"{self.key}_start", type="primary", disabled=self.running, on_click=self.start,
                      icon=":material/play_arrow:")
            st.button("Pause", key=f"{self.key}_pause", disabled=not self.running, on_click=self.pause,
                      icon=":material/pause:")
            st.button("Reset", key=f"{self.key}_reset", on_click=self.request, args=("reset",),
                      icon=":material/restart_alt:", help="Start again from the beginning, paused.")
            if self.playback is not None and self.playback.before is not None:
                st.button("End comparison", key=f"{self.key}_forget", on_click=self.request, args=("forget",),
                          icon=":material/compare:", help="Stop the faded 'before' run; the next change starts a "
                                                          "new comparison.")
            if extra is not None:
                extra()
            self._choice("Speed", list(SPEEDS), "speed", "Simulated time per real second. Every simulated request "
                                                         "is still simulated at every speed.")
            self._choice("Average over", list(SPANS), "span", "The headline and the lines show the last 1, 10 or 60 "
                                                              "simulated seconds; each second stays faint behind.",
                         SPAN_LABELS.get)

    def _choice(self, label: str, options: list[str], attribute: str, help_: str, format_func=None) -> None:
        """Draw a segmented choice bound to one of the player's attributes."""
        key = f"{self.key}_{attribute}"
        st.session_state[key] = getattr(self, attribute)
        st.segmented_control(label, options, key=key, required=True, help=help_, format_func=format_func,
                             on_change=lambda: setattr(self, attribute, st.session_state[key]))

    def draw_view(self, after: Callable[["Player", dict], None] | None = None, presenter: bool = False,
                  controls: Callable[[], None] | None = None, page_follows_changes: bool = False) -> None:
        """Draw `controls()` and the live view in a fragment that ticks while playing; `after(player, frame)` runs each tick.

        The controls live in the fragment: moving one reruns only the fragment, which carries the
        change out and draws it at once, without drawing the whole page again. (Each control sets
        its box only when what runs differs from it, so a tick never overwrites what is being typed.)
        With `page_follows_changes`, a live change draws the whole page again once it is carried out:
        for a page whose other parts (a share link, a download) must say what runs now.
        """

        def view() -> None:
            if st.session_state.pop(f"{self.key}_stalled", False) and self.running:
                st.rerun(scope="app")  # the whole page again: it sets the timer that ticks this view
            place = st.container()  # always drawn: the elements after it keep their place
            if "change" in self.settle(place) and page_follows_changes:
                st.rerun(scope="app")
            self.show_errors(place)
            if controls is not None:
                controls()
            self.stopped = False
            self.tick()
            if self.stopped:
                st.rerun()  # a stopped run: the full page shows why and turns the timer off
            frame = self.frame(presenter)
            frame["playing"] = self.running
            live_view.draw(frame, key=f"{self.key}_view",
                           on_stalled=lambda: st.session_state.__setitem__(f"{self.key}_stalled", True))
            if after is not None:
                after(self, frame)

        st.fragment(view, run_every=TICK_S if self.running else None)()

    def show_errors(self, place=None) -> None:
        """Show, once, what went wrong since the last full run (in `place`: see `settle`)."""
        for error in self.errors:
            (place or st).error(as_text(error))
        self.errors = []


def player(key: str, build: Callable[[], Playback], **options) -> Player:
    """Return this session's player for page `key`, making it (with `build`) the first time."""
    if key not in st.session_state:
        st.session_state[key] = Player(key, build, **options)
    return st.session_state[key]
