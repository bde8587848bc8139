"""One timer watches many deadlines: each still takes effect at exactly its time, unless it is over first."""

import random

from engine.clock import Clock, after
from engine import deadlines as deadlines_module
from engine.deadlines import Deadlines


class _Call:
    def __init__(self, name, deadline):
        self.name, self.deadline, self.over = name, deadline, False


def test_each_deadline_fires_at_its_time_unless_over_and_few_timers_fire(monkeypatch):
    draw = random.Random(7)
    env = Clock()
    fired, timers = [], [0]
    deadlines = Deadlines(env, lambda call: fired.append((env.now, call.name)), over=lambda call: call.over)

    def counted_after(*args):
        timers[0] += 1
        after(*args)

    monkeypatch.setattr(deadlines_module, "after", counted_after)
    calls, expected = [], []
    for name in range(2_000):  # watched when the call starts, in no particular deadline order
        start = name * 0.01
        call = _Call(name, start + draw.uniform(20, 40))
        answered_after = draw.expovariate(1 / 3)  # most answers come long before the deadline
        after(env, start, lambda call: deadlines.watch(call.deadline, call), call)
        if start + answered_after < call.deadline:
            after(env, start + answered_after, lambda call: setattr(call, "over", True), call)
        else:
            expected.append((call.deadline, name))
        calls.append(call)
    env.advance(100)
    assert sorted(fired) == sorted(expected) and fired == sorted(fired)
    assert len(expected) < 50  # (few calls outlive their deadline here)
    assert timers[0] < len(expected) + 100, timers  # not a timer per call: 2,000 calls
    assert len(deadlines) == 0


def test_an_earlier_deadline_watched_later_still_fires_on_time():
    env = Clock()
    fired = []
    deadlines = Deadlines(env, lambda call: fired.append((env.now, call.name)), over=lambda call: call.over)
    deadlines.watch(10.0, _Call("late", 10.0))
    after(env, 1.0, lambda _: deadlines.watch(3.0, _Call("early", 3.0)))
    after(env, 2.0, lambda _: deadlines.watch(1.5, _Call("already past", 1.5)))  # due at once
    env.advance(20)
    assert fired == [(2.0, "already past"), (3.0, "early"), (10.0, "late")]
