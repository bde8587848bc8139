"""Timers go through SimPy's event queue in the same order as SimPy's own events."""

import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

from engine.clock import after


def test_timers_and_simpy_events_fire_in_time_then_creation_order():
    env = simpy.Environment()
    fired = []

    def note(event):
        fired.append((env.now, event._value))

    after(env, 2.0, note, "timer at 2")
    Timeout(env, 1.0, "simpy at 1").callbacks.append(note)
    after(env, 1.0, note, "timer at 1")
    Timeout(env, 2.0, "simpy at 2").callbacks.append(note)
    after(env, 0.0, note, "timer now")
    env.run(until=5)
    assert fired == [(0.0, "timer now"), (1.0, "simpy at 1"), (1.0, "timer at 1"),
                     (2.0, "timer at 2"), (2.0, "simpy at 2")]
    assert env.now == 5


def test_a_timer_is_scheduled_like_environment_schedule_would():
    env = simpy.Environment()
    after(env, 3.0, lambda event: None)
    when, priority, _, timer = env._queue[0]
    assert (when, priority) == (3.0, NORMAL)
    assert timer._ok is True and timer.callbacks
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
