"""The LLM backend: where most of a GenAI request's time and money go.

An LLM call has two phases. *Prefill* reads the whole prompt at once and produces the first token
(time to first token, TTFT = network and API overhead + waiting to be admitted + prefill). *Decode*
then produces one token per step for every sequence in the batch (continuous batching). How one
replica schedules both, within its GPU memory, is engine/llm_replica.py (vLLM's scheduler).

A deployment is a fleet of such replicas behind a least-loaded router. A call whose client has
gone is aborted, as vLLM aborts a request when its HTTP client disconnects: its slot and KV cache
are freed and the tokens it already produced are billed (`abort`). A crashed replica fails every
call it holds (`set_up(name, False)`); a gateway then retries them elsewhere.

A hosted API is the same machinery seen from outside: the provider's fleet is one very wide
replica whose pace does not depend on your traffic, and you pay per token instead of per hour.
"""

from __future__ import annotations

import math

from engine.clock import after
from engine.fleet import Fleet
from engine.llm_replica import LLMReplica
from engine.randomness import BLOCK, endless, stream
from engine.request import Outcomes
from engine.scenario import HostedLLM, SelfHostedLLM


class LLMDeployment:
    """One model deployment: replicas behind a least-loaded router, calling back when answers are done."""

    def __init__(self, env, spec: HostedLLM | SelfHostedLLM, window_of, outcomes: Outcomes, prefix: str = "llm",
                 seed: int = 0):
        """Build the replicas, named `prefix`-N; `window_of()` returns the metrics window that tokens and spend go to.

        Calls end in `outcomes.done` (answered), `outcomes.failed` (no replica up, an error, a crash)
        or `outcomes.gone` (aborted because the client left).
        """
        self.env = env
        self.spec = spec
        self.prefix = prefix
        self.hosted = isinstance(spec, HostedLLM)
        self._window_of = window_of
        self._on_done = outcomes.done
        self._on_fail = outcomes.failed
        self._on_gone = outcomes.gone
        self._cancel = spec.cancel_on_disconnect
        self._overhead_s = spec.overhead_ms / 1000
        self._cached_share = spec.prompt_cache_share
        self._error_rate = getattr(spec, "error_rate", 0.0)
        # The longest call it takes: the model's context window, and for a replica of ours its whole KV cache.
        self._max_call_tokens = min(spec.context_window_tokens, math.inf if self.hosted else spec.kv_cache_tokens)
        if self._error_rate:
            rng = stream(seed, f"llm.errors.{spec.name}")
            self._coin = endless(lambda: rng.random(BLOCK).tolist())
        # Per prompt token: the uncached share at the input price, the cached share at the cached price.
        self._price_in = ((1 - self._cached_share) * spec.price_input_per_m_usd
                          + self._cached_share * spec.price_cached_input_per_m_usd) / 1e6 if self.hosted else 0.0
        self._price_out = spec.price_output_per_m_usd / 1e6 if self.hosted else 0.0
        self.fleet = Fleet(lambda index: LLMReplica(env, f"{prefix}-{index}", spec, self._decoded, self._on_gone),
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
        """Mark replica `name` up or down; return False if there is no such replica. A replica going down fails its calls."""
        if not self.fleet.set_up(name, up):
            return False
        if not up:
            for replica in self.fleet.serving():
                if replica.name == name:
                    for request in replica.fail_all():
                        self._on_fail(request)
        return True

    def call(self, request) -> None:
        """Send a request to the model: it crosses the network, then waits to be admitted."""
        request.llm_seq = None
        if self._overhead_s:
            after(self.env, self._overhead_s, self._arrived, request)
        else:
            self._route(request)

    def _arrived(self, request) -> None:
        """The call reached the serving side."""
        self._route(request)

    def _route(self, request) -> None:
        """Give the call to the least-loaded replica that is up, or fail it if none is (or the provider errs)."""
        if self._cancel and self.env.now > request.deadline:
            self._on_gone(request)  # the client left while the call was on its way
            return
        routable = self.fleet.routable
        if request.prompt_tokens + request.output_tokens > self._max_call_tokens:
            self._window_of().too_long += 1  # refused at once: OpenAI's 400 context_length_exceeded, vLLM's refusal
            self._on_fail(request)
            return
        if not routable or (self._error_rate and self._coin() < self._error_rate):
            self._on_fail(request)
            return
        replica = routable[0] if len(routable) == 1 else min(routable, key=_load)
        request.llm_replica = replica
        replica.arrive(request)

    def _decoded(self, request) -> None:
        """The answer is complete: bill the tokens, return to the web server."""
        self._bill(request, True, request.output_tokens)
        self._on_done(request)

    def _bill(self, request, prompt_read: bool, generated: int) -> None:
        """Count the tokens the call used (the prompt once prefill started, the output generated) and their price."""
        window = self._window_of()
        if prompt_read:
            window.input_tokens += request.prompt_tokens
            window.history_tokens += request.history
            window.cached_input_tokens += round(request.prompt_tokens * self._cached_share)
        window.output_tokens += generated
        window.usd_tokens += (request.prompt_tokens * self._price_in if prompt_read else 0.0) + generated * self._price_out

    def abort(self, request) -> bool:
        """Abort the call of a client who has gone (vLLM's abort): free its slot and KV cache, bill what was generated.

        Returns False if the deployment keeps such calls (cancel_on_disconnect false) or does not hold
        this one (still on the network, or not called): those are dropped when they reach a replica.
        """
        if not self._cancel:
            return False
        replica = getattr(request, "llm_replica", None)
        result = replica.abort(request) if replica is not None else None
        if result is None:
            return False
        self._bill(request, *result)
        self._on_gone(request)
        return True

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
    """Return the calls inside a replica: admitted or waiting to be."""
    return replica.running + replica.n_waiting
