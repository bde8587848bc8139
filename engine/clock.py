"""Timers and the clock: the one way the engine asks SimPy to call it back later, and runs time on.

Every delay in the model (a handler running, a query being served, a token being decoded, the gap
until the next arrival) is a callback scheduled on SimPy's event queue. SimPy's `Timeout` event
does this, but carries machinery for processes that the engine does not use (it never yields).
A timer here is the smallest object SimPy's event loop accepts: callbacks, an ok flag and a value,
pushed onto SimPy's event queue exactly as `Environment.schedule` does (time, priority, sequence
number, event), without the two extra calls. It costs about 40 % less than a `Timeout`, which
matters because a request passes through several of them. tests/test_clock.py checks that timers
and SimPy's own events keep their order.

`Clock` is SimPy's `Environment` with its event loop specialised the way SimPy's own
`RealtimeEnvironment` specialises `step`: the queue, the events, processes and their order are
SimPy's, but a timer is called on a short path (it has one callback and never fails), and `now`
is a plain attribute set once per event instead of a property read many times per event. A run
of the full stack takes about 15 events a request, so the loop is where an engine on SimPy spends
its time; tests/test_clock.py runs SimPy processes, timeouts and timers through both loops and
checks they see the same times in the same order.

While the clock runs, CPython's cyclic garbage collector runs less often (`fewer_collections`).
A run makes millions of small objects (timers, requests) that reference counting frees the moment
they are done with; the engine makes no reference cycles per event (tests/test_memory.py checks),
so the collector has little to find. At its default threshold it runs every 700 allocations and,
as a large run's state grows (per-user budgets, cached answers, waiting requests), repeatedly walks
all of it: a fifth of the wall time of a minute at ten million daily users. Every 10,000
allocations, it still collects the cycles that the rest of the process (Streamlit) makes.
"""

import gc
import threading
from contextlib import contextmanager
from heapq import heappop, heappush

import simpy
from simpy.core import NORMAL, URGENT, EmptySchedule
from simpy.events import Event


class Timer:
    """A scheduled callback that SimPy's event loop processes like any event."""

    __slots__ = ("callbacks", "_value")
    _ok = True  # a timer never fails

    def __init__(self, callback, value):
        """Prepare a timer that calls `callback(timer)`; the callback reads `timer._value`."""
        self.callbacks = (callback,)  # SimPy only iterates it; a tuple is cheaper to build than a list
        self._value = value


class Clock(simpy.Environment):
    """SimPy's environment, with `now` a plain attribute and timers called on a short path."""

    now = 0.0  # shadows SimPy's property: the instance attribute, kept equal to `_now`, is read instead

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self.now = self._now

    def step(self) -> None:
        """Process the next event as SimPy does (for callers that step by hand), keeping `now` in step."""
        super().step()
        self.now = self._now

    def advance(self, delay: float) -> None:
        """Run `delay` seconds on: events due at the end run too, except what `first` did not mark.

        SimPy's `step` for every event, without the method call: a timer's one callback is called
        directly; any other event has its callbacks run and a failure raised exactly as SimPy does.
        """
        stop = Event(self)
        stop._ok = True
        stop._value = None
        stop.callbacks = []
        self.schedule(stop, NORMAL, max(delay, 0.0))
        with fewer_collections():
            self._run_until(stop)

    def _run_until(self, stop: Event) -> None:
        """Process events until `stop` comes up (see `advance`)."""
        queue = self._queue
        timer = Timer
        while True:
            try:
                now, _, _, event = heappop(queue)
            except IndexError:
                raise EmptySchedule from None
            self._now = self.now = now
            if event.__class__ is timer:
                event.callbacks[0](event)
                continue
            if event is stop:
                return
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc


FEWER_COLLECTIONS_EVERY = 10_000  # allocations between two young-generation collections while a clock runs
_lock = threading.Lock()
_running = 0  # clocks running now, in any thread (each Streamlit session runs its own)
_thresholds: tuple[int, ...] = ()  # the collector's thresholds when the first of them started


@contextmanager
def fewer_collections():
    """Let CPython's cyclic garbage collector run every 10,000 allocations instead of 700 while the block runs.

    Overlapping runs in several threads share the setting: the thresholds found when the first one
    started come back when the last one stops. Nothing is left uncollected: only less often.
    """
    global _running, _thresholds
    with _lock:
        if _running == 0:
            _thresholds = gc.get_threshold()
            if _thresholds[0]:  # (0 means the process turned collection off: leave it so)
                gc.set_threshold(max(_thresholds[0], FEWER_COLLECTIONS_EVERY), *_thresholds[1:])
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                gc.set_threshold(*_thresholds)


def after(env, delay: float, callback, value=None) -> None:
    """Call `callback(timer)` after `delay` simulated seconds, with `value` on `timer._value`."""
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), Timer(callback, value)))


def first(env, delay: float, callback, value=None) -> None:
    """Call `callback(timer)` after `delay`, before any normal event due at the same instant (a window close)."""
    heappush(env._queue, (env._now + delay, URGENT, next(env._eid), Timer(callback, value)))


def run_for(env, delay: float) -> None:
    """Run the clock `delay` seconds on: events due at the end run too, except what `first` did not mark.

    The stop has normal priority, so a window closing at the same instant (scheduled with `first`)
    closes before the run returns. An exception from a callback (a budget reached) propagates; the
    abandoned stop has no callbacks, so it cannot end a later run early.
    """
    if isinstance(env, Clock):
        env.advance(delay)
        return
    stop = Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, NORMAL, max(delay, 0.0))
    try:
        env.run(until=stop)
    except BaseException:
        stop.callbacks.clear()
        raise
