"""The LLM backend: where most of a GenAI request's time and money go.

An LLM call has two phases. *Prefill* reads the whole prompt at once; it is compute-bound, so its
time grows with the prompt (prompt tokens / prefill rate) and one replica prefills one prompt after
another. The first output token comes out at its end: time to first token (TTFT) = network and API
overhead + waiting for a free slot + waiting for and doing the prefill. *Decode* then produces one
token per step. A serving engine decodes many sequences together in one batch (continuous
batching): each step costs a little more with every sequence in the batch, so the inter-token
latency is ITL(b) = itl x (1 + growth x (b - 1)) with b sequences decoding. The batch is limited by
GPU memory (the KV cache): at most `max_batch` requests hold a slot, and the rest wait in line.

Decoding is simulated without one event per token. All sequences in a replica's batch advance at
the same pace, so the replica keeps one clock counting tokens decoded per sequence since it
started; a sequence that joins when that clock reads V and needs n tokens finishes when it reads
V + n. Only the next finish is scheduled, and it is rescheduled whenever the batch size (and so
the pace) changes: egalitarian processor sharing, computed exactly.

A hosted API is the same machinery seen from outside: the provider's fleet is one very wide
replica whose pace does not depend on your traffic, and you pay per token instead of per hour.
"""

from __future__ import annotations

import heapq
from itertools import count

from engine.clock import after
from engine.fleet import Fleet
from engine.randomness import BLOCK, endless, stream

from engine.scenario import HostedLLM, SelfHostedLLM
from engine.station import Station


class LLMReplica:
    """One serving instance: slots (the batch limit), a prefill line and a decoding batch."""

    def __init__(self, env, name: str, spec: HostedLLM | SelfHostedLLM, on_slot, on_prefill, on_decoded):
        """Create replica `name`; the callbacks receive requests as they pass each phase."""
        self.env = env
        self.name = name
        hosted = isinstance(spec, HostedLLM)
        width = spec.max_concurrency if hosted else spec.max_batch
        self.slots = Station(env, self.name, width, None, on_slot)
        self.prefill = Station(env, f"{self.name}-prefill", width if hosted else 1, None, on_prefill)
        self._on_decoded = on_decoded
        self._itl_s = spec.itl_ms / 1000
        self._growth = 0.0 if hosted else spec.itl_growth_per_sequence
        self.up = True
        self.draining = False
        self.warming = False
        self._batch: list[tuple[float, int, object]] = []
        self._clock = 0.0  # tokens decoded per sequence since the batch was last empty
        self._t_clock = env.now
        self._generation = 0
        self._order = count()
        self.batch_area = 0.0
        self._t_window = env.now

    def idle(self) -> bool:
        """Return True when no call holds or waits for a slot here."""
        return self.slots.in_system() == 0

    def itl_s(self, batch: int) -> float:
        """Return the inter-token latency in seconds with `batch` sequences decoding."""
        return self._itl_s * (1.0 + self._growth * (batch - 1))

    def _catch_up(self) -> None:
        """Move the token clock to the current time at the pace of the current batch."""
        now = self.env.now
        batch = len(self._batch)
        if batch:
            elapsed = now - self._t_clock
            self._clock += elapsed / self.itl_s(batch)
            self.batch_area += batch * elapsed
        self._t_clock = now

    def decode(self, request, tokens: int) -> None:
        """Add a request that still has `tokens` tokens to generate to the batch."""
        self._catch_up()
        heapq.heappush(self._batch, (self._clock + tokens, next(self._order), request))
        self._schedule()

    def _schedule(self) -> None:
        """Schedule the next finish at the current pace; earlier schedules become void."""
        self._generation += 1
        if self._batch:
            delay = max(self._batch[0][0] - self._clock, 0.0) * self.itl_s(len(self._batch))
            after(self.env, delay, self._finish_due, self._generation)

    def _finish_due(self, event) -> None:
        """Retire the sequence this timer was set for, and any finishing at the same instant; reschedule."""
        if event._value != self._generation:
            return
        self._catch_up()
        batch = self._batch
        # The timer was set for the head's finish: it is due even if rounding left the clock a hair
        # short, so it leaves unconditionally (waiting for the clock could spin at a fixed instant).
        head = heapq.heappop(batch)
        self._clock = max(self._clock, head[0])
        done = [head[2]]
        while batch and batch[0][0] <= self._clock * (1 + 1e-12):
            done.append(heapq.heappop(batch)[2])
        if not batch:
            self._clock = 0.0  # restart the count so it never grows large enough to lose precision
        self._schedule()
        for request in done:
            self._on_decoded(request)

    def close_window(self) -> tuple[tuple, float, float]:
        """Close the slot station's window; return its stats, the batch-size integral and the time alive since last call."""
        self._catch_up()
        area, self.batch_area = self.batch_area, 0.0
        alive, self._t_window = self.env.now - self._t_window, self.env.now
        return self.slots.close_window(), area, alive


class LLMDeployment:
    """One model deployment: replicas behind a least-loaded router, calling back when answers are done."""

    def __init__(self, env, spec: HostedLLM | SelfHostedLLM, window_of, on_done, on_fail, prefix: str = "llm",
                 seed: int = 0):
        """Build the replicas, named `prefix`-N; `window_of()` returns the metrics window that tokens and spend go to."""
        self.env = env
        self.spec = spec
        self.prefix = prefix
        self.hosted = isinstance(spec, HostedLLM)
        self._window_of = window_of
        self._on_done = on_done
        self._on_fail = on_fail
        self._overhead_s = spec.overhead_ms / 1000
        self._prefill_rate = spec.prefill_tokens_per_s
        self._cached_share = spec.prompt_cache_share
        self._error_rate = getattr(spec, "error_rate", 0.0)
        if self._error_rate:
            rng = stream(seed, f"llm.errors.{spec.name}")
            self._coin = endless(lambda: rng.random(BLOCK).tolist())
        # Per prompt token: the uncached share at the input price, the cached share at the cached price.
        self._price_in = ((1 - self._cached_share) * spec.price_input_per_m_usd
                          + self._cached_share * spec.price_cached_input_per_m_usd) / 1e6 if self.hosted else 0.0
        self._price_out = spec.price_output_per_m_usd / 1e6 if self.hosted else 0.0
        self.fleet = Fleet(lambda index: LLMReplica(env, f"{prefix}-{index}", spec, self._admitted,
                                                    self._prefill_start, self._decoded),
                           1 if self.hosted else spec.replicas)

    @property
    def replicas(self) -> list[LLMReplica]:
        """Return every replica still billed, draining ones included."""
        return self.fleet.members

    def set_replicas(self, count: int) -> None:
        """Grow to `count` serving replicas, or drain the newest down to `count`."""
        self.fleet.resize(count)

    def hourly_usd(self) -> float:
        """Return what the replicas cost per hour (nothing for a hosted API, paid per token)."""
        return 0.0 if self.hosted else len(self.replicas) * self.spec.price_per_hour_usd

    def set_up(self, name: str, up: bool) -> bool:
        """Mark replica `name` up or down; return False if there is no such replica."""
        return self.fleet.set_up(name, up)

    def call(self, request) -> None:
        """Send a request to the model: it crosses the network, then waits for a slot."""
        if self._overhead_s:
            after(self.env, self._overhead_s, self._arrived, request)
        else:
            self._route(request)

    def _arrived(self, event) -> None:
        """The call reached the serving side."""
        self._route(event._value)

    def _route(self, request) -> None:
        """Give the call to the least-loaded replica that is up, or fail it if none is (or the provider errs)."""
        routable = self.fleet.routable
        if not routable or (self._error_rate and self._coin() < self._error_rate):
            self._on_fail(request)
            return
        replica = routable[0] if len(routable) == 1 else min(routable, key=_load)
        request.llm_replica = replica
        replica.slots.arrive(request)

    def _admitted(self, request) -> None:
        """The request holds a batch slot: line up for prefill."""
        request.llm_replica.prefill.arrive(request)

    def _prefill_start(self, request) -> None:
        """Prefill the prompt, except the part already in the prefix cache."""
        after(self.env, request.prompt_tokens * (1 - self._cached_share) / self._prefill_rate, self._prefilled, request)

    def _prefilled(self, event) -> None:
        """The first token is out: free the prefill line and start decoding the rest."""
        request = event._value
        replica = request.llm_replica
        replica.prefill.release()
        request.t_first_token = self.env.now
        remaining = request.output_tokens - 1
        if remaining > 0:
            replica.decode(request, remaining)
        else:
            self._decoded(request)

    def _decoded(self, request) -> None:
        """The answer is complete: free the slot, bill the tokens, return to the web server."""
        request.llm_replica.slots.release()
        window = self._window_of()
        window.input_tokens += request.prompt_tokens
        window.cached_input_tokens += round(request.prompt_tokens * self._cached_share)
        window.output_tokens += request.output_tokens
        window.usd_tokens += self.price_usd(request)
        self._on_done(request)

    def price_usd(self, request) -> float:
        """Return what the provider bills for the request's tokens (0 when self-hosted: the GPUs are paid by the hour)."""
        return request.prompt_tokens * self._price_in + request.output_tokens * self._price_out

    def close_window(self) -> tuple[list[tuple], float, float]:
        """Close every replica's window: (slot stats, batch-size integral, replica-seconds alive)."""
        stats, area, alive = [], 0.0, 0.0
        for replica in self.replicas:
            slot_stats, batch_area, replica_alive = replica.close_window()
            if replica.warming:
                continue  # billed, but not serving yet: left out of the tier's figures
            stats.append(slot_stats)
            area += batch_area
            alive += replica_alive
        self.fleet.drop_drained()
        return stats, area, alive


def _load(replica: LLMReplica) -> int:
    """Return the calls inside a replica: holding a slot or waiting for one."""
    return replica.slots.in_system()
