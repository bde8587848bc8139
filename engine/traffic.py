"""Traffic: when requests arrive, who sends them and how many tokens each one carries.

Users act independently, so arrivals at a steady rate form a Poisson process: the gaps between
requests are exponential. Real traffic is not steady for long: it ramps up after a launch, spikes
when a link goes viral, and follows the sun. Those patterns are a rate that changes with time,
simulated exactly by thinning (draw candidates at the peak rate, keep each with probability
rate(t) / peak). Or a real trace is replayed: its timestamps, sped up or slowed down, and its
token counts, row by row.

Benchmarks of LLM servers load them differently: a fixed number of users (the concurrency), each
sending its next request as soon as the last one has an outcome, perhaps after a think time. The
rate then follows the server: a slower server gets fewer requests (a closed loop).

Each request carries a user id (drawn uniformly from the user population: repeated users are what
make stale reads and, later, caches possible), a prompt length and an output length. Lengths are
drawn together from the rows of a real trace, by default the Azure LLM inference trace 2023
(conversation), because prompt and output lengths in real traffic are skewed and unrelated, which a
single average hides.
"""

from __future__ import annotations

import math

import numpy as np

from engine.clock import after
from engine.randomness import BLOCK, endless, stream
from engine.scenario import FixedTokens, Traffic
from engine.traces import find_trace

ERROR_BACKOFF_S = 0.5  # the official SDKs' first back-off before a retry (docs/sources.md, Provider limits)

def load_trace(file_name: str, field: str = "traffic.trace.file") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the trace a scenario names (assets/ or uploaded): (seconds from the first request, prompt tokens,
    output tokens)."""
    trace = find_trace(file_name, field)
    return trace.times, trace.prompts, trace.outputs


def _token_block(traffic: Traffic, seed: int, draw: bool):
    """Return a function making the next block of (prompt tokens list, output tokens list)."""
    spec = traffic.tokens
    if not draw or isinstance(spec, FixedTokens):
        prompt, output = (spec.prompt_tokens, spec.output_tokens) if draw else (0, 1)
        return lambda: ([prompt] * BLOCK, [output] * BLOCK)
    _, prompts, outputs = load_trace(spec.file, "traffic.tokens.file")
    rng = stream(seed, "tokens")

    def block():
        rows = rng.integers(0, len(prompts), BLOCK)
        return prompts[rows].tolist(), outputs[rows].tolist()

    return block


def heavy_user_count(traffic: Traffic) -> int:
    """Return how many users are heavy users (ids 0 .. count - 1); 0 without heavy users."""
    heavy = traffic.heavy_users
    return 0 if heavy is None else max(1, min(traffic.population() - 1, round(heavy.share_of_users * traffic.population())))


def _user_block(traffic: Traffic, seed: int, draw: bool):
    """Return a function making the next block of user ids (numpy), heavy users first if there are any."""
    population = traffic.population()
    if not draw:
        return lambda: np.zeros(BLOCK, dtype=np.int64)
    rng = stream(seed, "users")
    heavy = traffic.heavy_users
    if heavy is None:
        return lambda: rng.integers(0, population, BLOCK)
    heavy_count = heavy_user_count(traffic)
    share_rng = stream(seed, "users.heavy")

    def block():
        from_heavy = share_rng.random(BLOCK) < heavy.share_of_requests
        return np.where(from_heavy, rng.integers(0, heavy_count, BLOCK), rng.integers(heavy_count, population, BLOCK))

    return block


def request_sampler(traffic: Traffic, seed: int, needs_tokens: bool = True, needs_users: bool = True):
    """Return a function giving the next request's (prompt tokens, output tokens, user id).

    Tokens and users come from their own streams, zipped a block at a time so that a request costs
    one call. What nothing downstream reads (tokens without an LLM, users without a database) is
    not drawn; since every stream is separate, skipping one changes no other number.
    """
    heavy = traffic.heavy_users
    tokens = _token_block(traffic, seed, needs_tokens)
    users = _user_block(traffic, seed, needs_users or heavy is not None)
    if heavy is None:
        return endless(lambda: list(zip(*tokens(), users().tolist())))
    heavy_count = heavy_user_count(traffic)

    def block():
        prompts, outputs = tokens()
        ids = users()
        prompts = np.where(ids < heavy_count, np.rint(np.asarray(prompts) * heavy.prompt_multiplier), prompts)
        return list(zip(prompts.astype(np.int64).tolist(), outputs, ids.tolist()))

    return endless(block)


def user_sampler(traffic: Traffic, seed: int):
    """Return a function giving the next user id (for trace rows, which bring their own tokens)."""
    users = _user_block(traffic, seed, True)
    return endless(lambda: users().tolist())


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


class Chat:
    """One conversation: its user, every turn's own question and answer lengths (drawn when it starts, so the
    traffic is the same whatever the architecture), the next turn, and the history the app re-sends."""

    __slots__ = ("user", "turns", "next", "history")

    def __init__(self, user: int, turns: list[tuple[int, int]]):
        """Start a conversation of `turns` (prompt tokens, output tokens) pairs."""
        self.user = user
        self.turns = turns
        self.next = 0
        self.history = 0  # tokens of the earlier questions and answers


class Arrivals:
    """Generates arrivals into `on_arrival(prompt_tokens, output_tokens, user)` as simulated time passes."""

    def __init__(self, env, traffic: Traffic, seed: int, on_arrival, needs_tokens: bool = True,
                 needs_users: bool = True):
        """Set up the arrival stream of `traffic` under `seed`; call `start()` to begin.

        Token counts and user ids are drawn only if something downstream reads them (an LLM, a
        database); see `request_sampler`.
        """
        self.env = env
        self.traffic = traffic
        self.on_arrival = on_arrival
        self._next_request = request_sampler(traffic, seed, needs_tokens, needs_users)
        self._users = user_sampler(traffic, seed)  # for trace rows, which bring their own tokens
        self._generation = 0
        gap_rng, coin_rng = stream(seed, "arrivals"), stream(seed, "arrivals.thinning")
        self._unit_gap = endless(lambda: gap_rng.exponential(1.0, BLOCK).tolist())
        self._coin = endless(lambda: coin_rng.random(BLOCK).tolist())
        self.base_rate_rps = traffic.base_rate_rps()
        self.closed_loop = traffic.closed_loop is not None
        self.conversation = traffic.conversation
        # Conversations start at rate / turns, so their questions arrive at about the rate.
        self._per_start = traffic.conversation.turns if traffic.conversation is not None else 1
        self._peak = peak_multiplier(traffic.pattern)
        self._thinned = traffic.pattern.kind != "steady"
        # Candidates come at the pattern's peak rate; thinning keeps rate(t) / peak of them.
        self._envelope_rps = (self.base_rate_rps or 0.0) * self._peak / self._per_start
        if traffic.trace is not None:
            self._trace_times, self._trace_prompts, self._trace_outputs = load_trace(traffic.trace.file)
            self.speedup = traffic.trace.speedup
            self._trace_row = 0
            self._trace_offset = 0.0
            self._anchor = (env.now, 0.0)  # a (simulated time, trace time) pair tying the two clocks
            self.base_rate_rps = len(self._trace_times) / max(float(self._trace_times[-1]), 1e-9)

    def start(self) -> None:
        """Schedule the first arrival (closed loop: every user's first request, now)."""
        if self.closed_loop:
            for _ in range(self.traffic.closed_loop.users):
                after(self.env, 0.0, self._closed_arrival)
        else:
            self._schedule_next()

    def user_done(self, error: bool = False) -> None:
        """Closed loop: a request has its outcome; its user sends the next one after the think time.

        After an error the user backs off first, at least ERROR_BACKOFF_S, as the official SDKs do
        before a retry: a request refused at once (a full accept queue) would otherwise be followed
        by the next at the same instant, forever, and simulated time would never move.
        """
        think = self.traffic.closed_loop.think_time_s
        after(self.env, max(think, ERROR_BACKOFF_S) if error else think, self._closed_arrival)

    def _closed_arrival(self, _) -> None:
        """A closed-loop user sends a request."""
        prompt, output, user = self._next_request()
        self.on_arrival(prompt, output, user)

    def set_rate(self, rate_rps: float) -> None:
        """Change the base rate from now on (for a trace: its speed-up, so the mean rate matches)."""
        if rate_rps <= 0:
            raise ValueError(f"rate_rps: {rate_rps!r} is not allowed: must be greater than 0")
        if self.closed_loop:
            raise ValueError("rate_rps: is not allowed with closed_loop traffic: its rate follows the server")
        if self.traffic.trace is not None:
            self._anchor = (self.env.now, self._trace_position())
            self.speedup = rate_rps / self.base_rate_rps
        else:
            self.base_rate_rps = rate_rps
            self._envelope_rps = rate_rps * self._peak / self._per_start
        self._schedule_next()

    def rate_setting_rps(self) -> float:
        """Return the base rate a learner set, before any pattern multiplies it (for a trace: its sped-up mean; closed loop: None)."""
        if self.closed_loop:
            return None
        if self.traffic.trace is not None:
            return self.base_rate_rps * self.speedup
        return self.base_rate_rps

    def _schedule_next(self) -> None:
        """Schedule the next arrival; a newer schedule makes older pending ones void."""
        self._generation += 1
        if self.traffic.trace is not None:
            delay = self._next_trace_delay()
            if delay is not None:
                after(self.env, delay, self._trace_arrival, self._generation)
        else:
            after(self.env, self._unit_gap() / self._envelope_rps, self._poisson_arrival, self._generation)

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

    def _poisson_arrival(self, generation) -> None:
        """Schedule the next candidate, then deliver this one unless thinning rejects it."""
        if generation != self._generation:
            return  # a rate change rescheduled the arrivals
        self._generation += 1
        after(self.env, self._unit_gap() / self._envelope_rps, self._poisson_arrival, self._generation)
        if self._thinned and self._coin() * self._peak > rate_multiplier(self.traffic.pattern, self.env.now):
            return
        if self.conversation is not None:
            first = self._next_request()
            turns = [first[:2]] + [self._next_request()[:2] for _ in range(self.conversation.turns - 1)]
            self._ask(Chat(first[2], turns))
            return
        prompt, output, user = self._next_request()
        self.on_arrival(prompt, output, user)

    def _ask(self, chat: Chat) -> None:
        """The conversation's next question goes out, with as much of the history as the app keeps."""
        prompt, output = chat.turns[chat.next]
        chat.next += 1
        keep = self.conversation.keep_history_tokens
        history = chat.history if keep is None else min(chat.history, keep)
        self.on_arrival(prompt + history, output, chat.user, chat, history)

    def turn_done(self, chat: Chat, answered: bool) -> None:
        """A conversation's question has its outcome: an answer joins the history; the user asks the next after thinking."""
        if answered:
            prompt, output = chat.turns[chat.next - 1]
            chat.history += prompt + output
        if chat.next < len(chat.turns):
            after(self.env, self.conversation.think_time_s, self._next_turn, chat)

    def _next_turn(self, chat) -> None:
        """The user has read the answer and typed the next question."""
        self._ask(chat)

    def _trace_arrival(self, generation) -> None:
        """Deliver the trace's next row and schedule the one after."""
        if generation != self._generation:
            return
        row = self._trace_row
        self._trace_row += 1
        self._schedule_next()
        self.on_arrival(int(self._trace_prompts[row]), int(self._trace_outputs[row]), self._users())
