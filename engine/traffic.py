"""Traffic: when requests arrive, who sends them and how many tokens each one carries.

Users act independently, so arrivals at a steady rate form a Poisson process: the gaps between
requests are exponential. Real traffic is not steady for long: it ramps up after a launch, spikes
when a link goes viral, and follows the sun. Those patterns are a rate that changes with time,
simulated exactly by thinning (draw candidates at the peak rate, keep each with probability
rate(t) / peak). Or a real trace is replayed: its timestamps, sped up or slowed down, and its
token counts, row by row.

Each request carries a user id (drawn uniformly from the user population: repeated users are what
make stale reads and, later, caches possible), a prompt length and an output length. Lengths are
drawn together from the rows of a real trace, by default the Azure LLM inference trace 2023
(conversation), because prompt and output lengths in real traffic are skewed and unrelated, which a
single average hides.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from functools import lru_cache

import numpy as np
from simpy.events import Timeout

from engine.paths import ASSETS_DIR
from engine.randomness import stream
from engine.scenario import FixedTokens, ScenarioError, Traffic

_BLOCK = 1024  # draws per numpy call: big enough to amortise the call, small enough to stay cache-friendly
TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


@lru_cache(maxsize=8)
def load_trace(file_name: str, field: str = "traffic.trace.file") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read an Azure-format trace from assets/: (seconds from the first request, prompt tokens, output tokens)."""
    path = ASSETS_DIR / file_name
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in ASSETS_DIR.glob("*.csv")))
        raise ScenarioError([f"{field}: {file_name!r} is not allowed: no such file in assets/ (have: {available})"])
    times, prompts, outputs = [], [], []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in TRACE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ScenarioError([f"{field}: {file_name!r} is not allowed: missing column(s) {', '.join(missing)}; "
                                 f"expected {', '.join(TRACE_COLUMNS)}"])
        for line, row in enumerate(reader, start=2):
            try:
                times.append(datetime.fromisoformat(row["TIMESTAMP"][:26]).timestamp())
                prompts.append(int(row["ContextTokens"]))
                outputs.append(int(row["GeneratedTokens"]))
            except (TypeError, ValueError):
                raise ScenarioError([f"{field}: {file_name!r} line {line} is not allowed: "
                                     f"expected a timestamp and two token counts, got {dict(row)}"]) from None
    if not times:
        raise ScenarioError([f"{field}: {file_name!r} is not allowed: the trace has no rows"])
    start = times[0]
    return (np.asarray(times) - start, np.asarray(prompts, dtype=np.int64), np.maximum(np.asarray(outputs, dtype=np.int64), 1))


class TokenSampler:
    """Draws (prompt tokens, output tokens) pairs: fixed, or whole rows of an empirical trace."""

    def __init__(self, traffic: Traffic, seed: int):
        """Prepare the sampler for `traffic.tokens` on the `tokens` stream of `seed`."""
        spec = traffic.tokens
        self._pairs: list[tuple[int, int]] = []
        self._index = 0
        if isinstance(spec, FixedTokens):
            self._fixed = (spec.prompt_tokens, spec.output_tokens)
            return
        self._fixed = None
        _, self._prompts, self._outputs = load_trace(spec.file, "traffic.tokens.file")
        self._rng = stream(seed, "tokens")

    def __call__(self) -> tuple[int, int]:
        """Return the next request's (prompt tokens, output tokens)."""
        if self._fixed is not None:
            return self._fixed
        if self._index == len(self._pairs):
            rows = self._rng.integers(0, len(self._prompts), _BLOCK)
            self._pairs = list(zip(self._prompts[rows].tolist(), self._outputs[rows].tolist()))
            self._index = 0
        pair = self._pairs[self._index]
        self._index += 1
        return pair


class UserSampler:
    """Draws user ids uniformly from a population of `population` users."""

    def __init__(self, population: int, seed: int):
        """Prepare draws from the `users` stream of `seed`."""
        self._population = population
        self._rng = stream(seed, "users")
        self._ids: list[int] = []
        self._index = 0

    def __call__(self) -> int:
        """Return the next request's user id."""
        if self._index == len(self._ids):
            self._ids = self._rng.integers(0, self._population, _BLOCK).tolist()
            self._index = 0
        user = self._ids[self._index]
        self._index += 1
        return user


def rate_multiplier(pattern, t: float) -> float:
    """Return the pattern's rate multiplier at simulated time `t`."""
    kind = pattern.kind
    if kind == "ramp":
        progress = min(max((t - pattern.start_s) / pattern.over_s, 0.0), 1.0)
        return 1.0 + (pattern.to_multiplier - 1.0) * progress
    if kind == "spike":
        return pattern.multiplier if pattern.at_s <= t < pattern.at_s + pattern.duration_s else 1.0
    if kind == "diurnal":
        return 1.0 + pattern.amplitude * math.sin(2 * math.pi * t / pattern.period_s)
    return 1.0


def peak_multiplier(pattern) -> float:
    """Return the largest multiplier the pattern ever reaches (the thinning envelope)."""
    kind = pattern.kind
    if kind == "ramp":
        return max(1.0, pattern.to_multiplier)
    if kind == "spike":
        return max(1.0, pattern.multiplier)
    if kind == "diurnal":
        return 1.0 + pattern.amplitude
    return 1.0


class Arrivals:
    """Generates arrivals into `on_arrival(prompt_tokens, output_tokens, user)` as simulated time passes."""

    def __init__(self, env, traffic: Traffic, seed: int, on_arrival):
        """Set up the arrival stream of `traffic` under `seed`; call `start()` to begin."""
        self.env = env
        self.traffic = traffic
        self.on_arrival = on_arrival
        self._tokens = TokenSampler(traffic, seed)
        self._users = UserSampler(traffic.population(), seed)
        self._generation = 0
        self._gaps: list[float] = []
        self._coins: list[float] = []
        self._gap_index = self._coin_index = 0
        self._gap_rng = stream(seed, "arrivals")
        self._coin_rng = stream(seed, "arrivals.thinning")
        self.base_rate_rps = traffic.base_rate_rps()
        if traffic.trace is not None:
            self._trace_times, self._trace_prompts, self._trace_outputs = load_trace(traffic.trace.file)
            self.speedup = traffic.trace.speedup
            self._trace_row = 0
            self._trace_offset = 0.0
            self._anchor = (env.now, 0.0)  # a (simulated time, trace time) pair tying the two clocks
            self.base_rate_rps = len(self._trace_times) / max(float(self._trace_times[-1]), 1e-9)

    def start(self) -> None:
        """Schedule the first arrival."""
        self._schedule_next()

    def set_rate(self, rate_rps: float) -> None:
        """Change the base rate from now on (for a trace: its speed-up, so the mean rate matches)."""
        if rate_rps <= 0:
            raise ValueError(f"rate_rps: {rate_rps!r} is not allowed: must be greater than 0")
        if self.traffic.trace is not None:
            self._anchor = (self.env.now, self._trace_position())
            self.speedup = rate_rps / self.base_rate_rps
        else:
            self.base_rate_rps = rate_rps
        self._schedule_next()

    def rate_setting_rps(self) -> float:
        """Return the base rate a learner set, before any pattern multiplies it (for a trace: its sped-up mean)."""
        if self.traffic.trace is not None:
            return self.base_rate_rps * self.speedup
        return self.base_rate_rps

    def current_rate_rps(self) -> float:
        """Return the expected arrival rate at the current simulated time."""
        if self.traffic.trace is not None:
            return self.base_rate_rps * self.speedup
        return self.base_rate_rps * rate_multiplier(self.traffic.pattern, self.env.now)

    def _unit_gap(self) -> float:
        """Return the next exponential gap with mean 1 from the arrivals stream."""
        if self._gap_index == len(self._gaps):
            self._gaps = self._gap_rng.exponential(1.0, _BLOCK).tolist()
            self._gap_index = 0
        gap = self._gaps[self._gap_index]
        self._gap_index += 1
        return gap

    def _coin(self) -> float:
        """Return the next uniform number from the thinning stream."""
        if self._coin_index == len(self._coins):
            self._coins = self._coin_rng.random(_BLOCK).tolist()
            self._coin_index = 0
        coin = self._coins[self._coin_index]
        self._coin_index += 1
        return coin

    def _schedule_next(self) -> None:
        """Schedule the next arrival; a newer schedule makes older pending ones void."""
        self._generation += 1
        if self.traffic.trace is not None:
            delay = self._next_trace_delay()
            if delay is None:
                return
        else:
            delay = self._unit_gap() / (self.base_rate_rps * peak_multiplier(self.traffic.pattern))
        Timeout(self.env, delay, self._generation).callbacks.append(self._arrive)

    def _trace_position(self) -> float:
        """Return the trace time that corresponds to the current simulated time."""
        sim_start, trace_start = self._anchor
        return trace_start + (self.env.now - sim_start) * self.speedup

    def _next_trace_delay(self) -> float | None:
        """Return the wait until the trace's next row, or None when the trace is over."""
        if self._trace_row >= len(self._trace_times):
            if not self.traffic.trace.loop:
                return None
            self._trace_offset += float(self._trace_times[-1]) + 1.0 / self.base_rate_rps
            self._trace_row = 0
        trace_time = self._trace_offset + float(self._trace_times[self._trace_row])
        sim_start, trace_start = self._anchor
        return max(sim_start + (trace_time - trace_start) / self.speedup - self.env.now, 0.0)

    def _arrive(self, event) -> None:
        """Deliver an arrival (unless a newer schedule replaced this one) and schedule the next."""
        if event._value != self._generation:
            return
        if self.traffic.trace is not None:
            row = self._trace_row
            self._trace_row += 1
            self._schedule_next()
            self.on_arrival(int(self._trace_prompts[row]), int(self._trace_outputs[row]), self._users())
            return
        pattern = self.traffic.pattern
        self._schedule_next()
        if pattern.kind != "steady" and self._coin() * peak_multiplier(pattern) > rate_multiplier(pattern, self.env.now):
            return
        prompt, output = self._tokens()
        self.on_arrival(prompt, output, self._users())
