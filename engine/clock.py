"""Timers: the one way the engine asks SimPy to call it back later.

Every delay in the model (a handler running, a query being served, a token being decoded, the gap
until the next arrival) is a callback scheduled on SimPy's event queue. SimPy's `Timeout` event
does this, but carries machinery for processes that the engine does not use (it never yields).
A timer here is the smallest object SimPy's event loop accepts: callbacks, an ok flag and a value,
pushed onto SimPy's event queue exactly as `Environment.schedule` does (time, priority, sequence
number, event), without the two extra calls. It costs about 40 % less than a `Timeout`, which
matters because a request passes through several of them. Time still moves only through
`env.run()`; tests/test_clock.py checks that timers and SimPy's own events keep their order.

This is the one module that touches SimPy's internals (its event queue, sequence counter and
clock), so a new SimPy version can break the engine only here: the simulation runs its clock with
`run_for`, schedules with `after` and `first`, and reads the time as `env.now`.
"""

from heapq import heappush
from operator import attrgetter

import simpy
from simpy.core import NORMAL, URGENT
from simpy.events import Event


class Clock(simpy.Environment):
    """SimPy's environment, whose `now` is read the fastest way Python allows (every station reads it)."""

    now = property(attrgetter("_now"))  # SimPy's own property runs a Python function on each read


class Timer:
    """A scheduled callback that SimPy's event loop processes like any event."""

    __slots__ = ("callbacks", "_value")
    _ok = True  # a timer never fails

    def __init__(self, callback, value):
        """Prepare a timer that calls `callback(timer)`; the callback reads `timer._value`."""
        self.callbacks = (callback,)  # SimPy only iterates it; a tuple is cheaper to build than a list
        self._value = value


def after(env, delay: float, callback, value=None) -> None:
    """Call `callback(timer)` after `delay` simulated seconds, with `value` on `timer._value`."""
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), Timer(callback, value)))


def first(env, delay: float, callback, value=None) -> None:
    """Call `callback(timer)` after `delay`, before any normal event due at the same instant (a window close)."""
    heappush(env._queue, (env._now + delay, URGENT, next(env._eid), Timer(callback, value)))


def run_for(env, delay: float) -> None:
    """Run the clock `delay` seconds on: events due at the end run too, except what `first` did not mark.

    The stop has normal priority, so a window closing at the same instant (scheduled with `first`)
    closes before the run returns. An exception from a callback (a budget reached) propagates, and
    the abandoned stop is disarmed so that it cannot end a later run early.
    """
    stop = Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, NORMAL, max(delay, 0.0))
    try:
        env.run(until=stop)
    except BaseException:
        stop.callbacks.clear()
        raise
