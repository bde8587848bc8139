"""Timers go through SimPy's event queue in the same order as SimPy's own events."""

import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

import pytest

from engine.clock import Clock, after, first


def test_timers_and_simpy_events_fire_in_time_then_creation_order():
    env = Clock()
    fired = []

    def note(value):
        fired.append((env.now, value))

    after(env, 2.0, note, "timer at 2")
    Timeout(env, 1.0, "simpy at 1").callbacks.append(lambda event: note(event.value))
    after(env, 1.0, note, "timer at 1")
    Timeout(env, 2.0, "simpy at 2").callbacks.append(lambda event: note(event.value))
    after(env, 0.0, note, "timer now")
    env.run(until=5)  # SimPy's own run, stepping through the clock's step
    assert fired == [(0.0, "timer now"), (1.0, "simpy at 1"), (1.0, "timer at 1"),
                     (2.0, "timer at 2"), (2.0, "simpy at 2")]
    assert env.now == 5


def test_a_timer_is_scheduled_like_environment_schedule_would():
    env = Clock()
    Timeout(env, 3.0)
    after(env, 3.0, print, "value")
    simpy_entry, timer_entry = sorted(env._queue)
    assert timer_entry[:2] == simpy_entry[:2] == (3.0, NORMAL) and timer_entry[2] == simpy_entry[2] + 1
    assert timer_entry[3:] == (print, "value")
    assert env.peek() == 3.0


def test_only_the_clock_touches_simpy_internals():
    # SimPy's private event queue, sequence counter and clock are used in engine/clock.py alone.
    import re
    from pathlib import Path

    engine = Path(__file__).resolve().parent.parent / "engine"
    private = re.compile(r"\.(_now|_queue|_eid)\b|\bimport simpy\b|\bfrom simpy\b")
    offenders = [f"{path.name}:{number}" for path in sorted(engine.glob("*.py")) if path.name != "clock.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1) if private.search(line)]
    assert offenders == []


def _story(env, seen, timers=True):
    """A SimPy process, a resource, a failing event that is defused and (on a clock) timers, on one environment."""
    counter = simpy.Resource(env, capacity=1)

    def customer(name, arrive, hold):
        yield env.timeout(arrive)
        with counter.request() as turn:
            yield turn
            seen.append((env.now, name, "served"))
            yield env.timeout(hold)
        seen.append((env.now, name, "left"))

    for name, arrive, hold in (("a", 0.5, 2.0), ("b", 1.0, 1.0), ("c", 1.0, 0.25)):
        env.process(customer(name, arrive, hold))
    failed = env.event()
    failed.fail(ValueError("expected"))
    failed.defused = True
    failed.callbacks.append(lambda event: seen.append((env.now, "failure seen", type(event.value).__name__)))
    if timers:
        after(env, 1.0, lambda value: seen.append((env.now, "timer", value)), "at 1")
        first(env, 3.5, lambda value: seen.append((env.now, "window", value)), "at 3.5")


def test_the_clock_runs_simpy_processes_and_timers_as_simpy_does():
    # Clock.advance is SimPy's event loop with a short path for timers: SimPy's own events see the
    # same times in the same order as under SimPy's Environment.run, and the clock stepped by
    # SimPy's run (Clock.step) and run by advance agree on everything, timers included.
    plain, by_simpy = simpy.Environment(), []
    _story(plain, by_simpy, timers=False)
    plain.run(until=10)
    stepped, by_steps = Clock(), []
    _story(stepped, by_steps)
    stepped.run(until=10)
    clock, by_clock = Clock(), []
    _story(clock, by_clock)
    clock.advance(3.5)  # a window due at the end (scheduled with `first`) runs; the run stops there
    assert clock.now == 3.5 and by_clock[-1] == (3.5, "window", "at 3.5")
    clock.advance(6.5)
    assert by_clock == by_steps
    assert [entry for entry in by_clock if entry[1] not in ("timer", "window")] == by_simpy
    assert len(by_simpy) == 7 and clock.now == plain.now == 10 and by_clock[0] == (0, "failure seen", "ValueError")


def test_an_undefused_failure_stops_the_clock_as_it_stops_simpy():
    clock = Clock()
    event = clock.event()
    event.fail(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        clock.advance(1)


def test_a_run_stopped_by_an_error_does_not_end_the_next_run_early():
    clock, seen = Clock(), []

    def budget_reached(timer):
        raise RuntimeError("budget")

    after(clock, 1, budget_reached)
    after(clock, 3, lambda value: seen.append(clock.now))
    with pytest.raises(RuntimeError):
        clock.advance(2)  # its stop, at 2, is left behind in the queue
    clock.advance(5)
    assert seen == [3] and clock.now == 6


def test_a_running_clock_collects_garbage_less_often_and_restores_the_setting_after():
    import gc
    import threading

    from engine.clock import FEWER_COLLECTIONS_EVERY

    original = gc.get_threshold()
    seen = []
    clock = Clock()
    after(clock, 1, lambda value: seen.append(gc.get_threshold()))

    def budget_reached(timer):
        raise RuntimeError("budget")

    after(clock, 2, budget_reached)
    clock.advance(1.5)
    assert seen == [(FEWER_COLLECTIONS_EVERY, *original[1:])] and gc.get_threshold() == original
    with pytest.raises(RuntimeError):
        clock.advance(1)
    assert gc.get_threshold() == original  # restored when a run stops on an error too

    # Runs in two threads (two Streamlit sessions) overlap: the setting comes back when both have stopped.
    first_inside, second_done = threading.Event(), threading.Event()

    def slow(timer):
        first_inside.set()
        second_done.wait(10)

    one, two = Clock(), Clock()
    after(one, 1, slow)
    thread = threading.Thread(target=one.advance, args=(2,))
    thread.start()
    first_inside.wait(10)
    two.advance(1)
    assert gc.get_threshold()[0] == FEWER_COLLECTIONS_EVERY  # the first run still goes on
    second_done.set()
    thread.join(10)
    assert gc.get_threshold() == original
