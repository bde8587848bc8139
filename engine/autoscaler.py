"""Autoscaling: the web tier grows when it is busy and shrinks when it is idle, a little late.

An autoscaler looks at the tier every few seconds. If each ready replica is busier than the target
(say 70 % of its workers), it asks for as many replicas as would bring them back to the target:
desired = ceil(ready replicas x measured / target), within a minimum and a maximum. New replicas
are billed from the moment they launch but take traffic only after they have warmed up (booted,
started the app, passed a health check). Scaling down is stabilised as Kubernetes does it: the
tier shrinks only to the largest size recommended during the last cooldown window, so a short lull
does not throw away capacity that will be needed again. The lesson is the lag: during a spike,
latency rises first, the new replicas arrive later, then latency recovers.
"""

from __future__ import annotations

import math

from collections import deque

from engine.clock import after
from engine.scenario import Autoscale


class Autoscaler:
    """Target tracking for one fleet, reading per-replica figures from the closed metrics windows."""

    def __init__(self, env, spec: Autoscale, fleet, windows, on_resize):
        """Start evaluating every `spec.evaluate_every_s`; `on_resize()` runs after every change."""
        self.env = env
        self.spec = spec
        self._fleet = fleet
        self._windows = windows
        self._on_resize = on_resize
        self._last_evaluation = env.now
        self._recommendations: deque[tuple[float, int]] = deque()  # (time, desired) within the cooldown window
        after(env, spec.evaluate_every_s, self._evaluate)

    def _measured(self) -> float | None:
        """Return the metric per ready replica, averaged over the windows since the last evaluation."""
        ready = {member.name for member in self._fleet.routable}
        values = []
        for instances in self._windows.instances_since(self._last_evaluation):
            values += [figures[self.spec.metric] for name, figures in instances.items() if name in ready]
        return sum(values) / len(values) if values else None

    def _evaluate(self, _) -> None:
        """Compare the metric with its target and add or drain replicas."""
        spec, fleet, now = self.spec, self._fleet, self.env.now
        after(self.env, spec.evaluate_every_s, self._evaluate)
        measured = self._measured()
        self._last_evaluation = now
        ready = len(fleet.routable)
        if measured is None or not ready:
            return
        current = len(fleet.serving())
        desired = min(max(math.ceil(ready * measured / spec.target - 1e-9), spec.min_replicas), spec.max_replicas)
        recommendations = self._recommendations
        recommendations.append((now, desired))
        while recommendations[0][0] < now - spec.scale_down_cooldown_s:
            recommendations.popleft()
        if desired > current:
            for member in fleet.resize(desired, warming=True):
                after(self.env, spec.warmup_s, self._warmed, member)
        else:
            stable = max(size for _, size in recommendations)  # never below what the window still asked for
            if stable >= current:
                return
            fleet.resize(stable)
        self._on_resize()

    def _warmed(self, member) -> None:
        """A new replica has started and passed its health check."""
        if not member.draining:
            self._fleet.ready(member)
