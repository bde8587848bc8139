"""Timers and the clock: the one way the engine asks SimPy to call it back later, and runs time on.

Every delay in the model (a handler running, a query being served, a token being decoded, the gap
until the next arrival) is a callback scheduled on SimPy's event queue. SimPy's `Timeout` event
does this, but carries machinery for processes that the engine does not use (it never yields).
A timer here is the least SimPy's queue can hold: an entry ordered like every other (time,
priority, sequence number) that carries the callback and its value instead of an event object,
pushed exactly where `Environment.schedule` would put it. It costs half of what the smallest
event object would, which matters because a request passes through ten of them.

`Clock` is SimPy's `Environment` with its event loop specialised the way SimPy's own
`RealtimeEnvironment` specialises `step`: the queue, the events, processes and their order are
SimPy's, but a timer's callback is called straight from its queue entry, and `now` is a plain
attribute set once per event instead of a property read many times per event. A run of the full
stack takes about ten events a request, so the loop is where an engine on SimPy spends its time;
tests/test_clock.py runs SimPy processes, timeouts and timers through SimPy's loop and this one
and checks they see the same times in the same order.

While the clock runs, CPython's cyclic garbage collector runs less often (`fewer_collections`).
A run makes millions of small objects (requests, queue entries) that reference counting frees the
moment they are done with; the engine makes no reference cycles per event (tests/test_memory.py
checks), so the collector has little to find. At its default threshold it runs every 700
allocations and, as a large run's state grows (per-user budgets, cached answers, waiting
requests), repeatedly walks all of it: a fifth of the wall time of a minute at ten million daily
users. Every 10,000 allocations, it still collects the cycles that the rest of the process
(Streamlit) makes.

This is the one module that touches SimPy's internals (its event queue, sequence counter and
clock), so a new SimPy version can break the engine only here: the simulation runs its clock with
`env.advance`, schedules with `after` and `first`, and reads the time as `env.now`.
"""

import gc
import threading
from contextlib import contextmanager
from heapq import heappop, heappush

import simpy
from simpy.core import NORMAL, URGENT, EmptySchedule
from simpy.events import Event


WATCH_EVERY = 8192  # events between two calls of a clock's watchdog


class Clock(simpy.Environment):
    """SimPy's environment, with `now` a plain attribute and timers called on a short path.

    `watchdog`, if set, is called every WATCH_EVERY events while the clock runs: however a run
    spends its events (many at one instant, none moving time on), its owner gets to check the
    wall clock and stop it by raising.
    """

    now = 0.0  # shadows SimPy's property: the instance attribute, kept equal to `_now`, is read instead

    def __init__(self, initial_time: float = 0.0, watchdog=None):
        super().__init__(initial_time)
        self.now = self._now
        self.watchdog = watchdog

    def step(self) -> None:
        """Process the next event or timer (for callers that step by hand, and SimPy's own `run`)."""
        try:
            entry = self._queue[0]
        except IndexError:
            raise EmptySchedule from None
        if len(entry) == 5:  # a timer: (time, priority, sequence number, callback, value)
            heappop(self._queue)
            self._now = self.now = entry[0]
            entry[3](entry[4])
            return
        self.now = entry[0]  # the time of the event SimPy's step pops next, set before its callbacks read it
        super().step()

    def advance(self, delay: float) -> None:
        """Run `delay` seconds on: events due at the end run too, except what `first` did not mark.

        The stop has normal priority, so a window closing at the same instant (scheduled with `first`)
        closes before the run returns. An exception from a callback (a budget reached) propagates; the
        abandoned stop has no callbacks, so it cannot end a later run early. Each event is processed as
        SimPy's `step` would, without the method call: a timer's callback is called with its value; any
        other event has its callbacks run and a failure raised exactly as SimPy does.
        """
        stop = Event(self)
        stop._ok = True
        stop._value = None
        stop.callbacks = []
        self.schedule(stop, NORMAL, max(delay, 0.0))
        with fewer_collections():
            self._run_until(stop)

    def _run_until(self, stop: Event) -> None:
        """Process events until `stop` comes up (see `advance`), calling the watchdog every WATCH_EVERY events."""
        queue = self._queue
        watchdog = self.watchdog
        countdown = WATCH_EVERY
        while True:
            countdown -= 1
            if not countdown:  # before the next event is taken: a watchdog that raises leaves the queue whole
                countdown = WATCH_EVERY
                if watchdog is not None:
                    watchdog()
            try:
                entry = heappop(queue)
            except IndexError:
                raise EmptySchedule from None
            self._now = self.now = entry[0]
            if len(entry) == 5:  # a timer
                entry[3](entry[4])
                continue
            event = entry[3]
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


def after(env: Clock, delay: float, callback, value=None) -> None:
    """Call `callback(value)` after `delay` simulated seconds."""
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), callback, value))


def first(env: Clock, delay: float, callback, value=None) -> None:
    """Call `callback(value)` after `delay`, before any normal event due at the same instant (a window close)."""
    heappush(env._queue, (env._now + delay, URGENT, next(env._eid), callback, value))

