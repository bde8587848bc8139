"""One LLM serving replica, scheduled as vLLM schedules: admission by KV-cache room, chunked prefill, continuous batching.

A self-hosted replica works as vLLM's scheduler does. A call waits in a first-come, first-served
line until the replica can admit it: fewer than `max_batch` sequences run (vLLM's max_num_seqs),
and its tokens fit in the GPU memory left for the KV cache (`kv_cache_tokens`). Each admitted call
reserves its prompt plus its whole answer, so it never needs more memory later and nothing is
preempted; longer prompts therefore mean fewer sequences at once. The engine runs in iterations:
each decodes one token for every running sequence and spends what is left of a token budget
(`max_num_batched_tokens`) on prompts waiting for prefill, oldest first (chunked prefill). An
iteration takes itl + (KV tokens of the decoding sequences) x kv read time + (prefill tokens) /
prefill rate, so tokens come out more slowly while prompts are prefilled and while the batch
holds many long contexts.

Nothing here schedules an event per token or per iteration. Between two *phase changes* (a call
admitted, a prompt prefilled, an answer finished, a call aborted) the iteration time is constant,
so the replica keeps two fluid counters: tokens decoded per sequence (a sequence that joins when
the clock reads V and needs n tokens finishes at V + n, egalitarian processor sharing) and prefill
tokens left for the oldest prompt. Only the next phase change is scheduled; it is recomputed, and
older timers made void, whenever the pace changes. Within an iteration this is exact; spreading a
prompt's last partial chunk over the iteration is the only approximation (at most one iteration).

A hosted API's replica is the provider's fleet seen from outside: one very wide replica whose pace
does not depend on your traffic (no shared prefill, no KV limit).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from itertools import count

from engine.clock import after
from engine.scenario import HostedLLM, SelfHostedLLM

# A sequence's place in a replica: [key, order, request, kv tokens, phase]. The key is the token
# clock at which it finishes (decoding) or the prompt tokens left to prefill. An aborted entry has
# its request set to None and is skipped when it reaches the front.
_WAITING, _PREFILL, _DECODE = 0, 1, 2


class LLMReplica:
    """One serving instance: an admission line, a prefill line and a decoding batch sharing one GPU."""

    def __init__(self, env, name: str, spec: HostedLLM | SelfHostedLLM, on_done, on_gone):
        """Create replica `name`; `on_done(request)` when an answer is complete, `on_gone(request)` for a call dropped at admission."""
        self.env = env
        self.name = name
        self.hosted = hosted = isinstance(spec, HostedLLM)
        self._on_done = on_done
        self._on_gone = on_gone
        self._cancel = spec.cancel_on_disconnect
        self._cached_share = spec.prompt_cache_share
        self._prefill_s_per_token = 1.0 / spec.prefill_tokens_per_s
        self._itl_s = spec.itl_ms / 1000
        if hosted:
            self.max_seqs, self.kv_capacity, self._budget, self._kv_s = spec.max_concurrency, math.inf, 0, 0.0
        else:
            self.max_seqs, self.kv_capacity = spec.max_batch, spec.kv_cache_tokens
            self._budget = spec.max_num_batched_tokens
            self._kv_s = spec.decode_ns_per_kv_token * 1e-9
        self.up = True
        self.draining = False
        self.warming = False
        self._waiting: deque[list] = deque()
        self._prefilling: deque[list] = deque()  # admitted, prompt not yet read (self-hosted), oldest first
        self._batch: list[list] = []  # decoding, a heap on the finishing clock
        self.n_waiting = self.n_prefill = self.n_decode = self.running = 0
        self.kv_used = self.kv_decode = 0
        self._clock = 0.0  # tokens decoded per sequence since the batch was last empty
        self._t = env.now
        self._generation = 0  # a timer set for an earlier generation is void
        self._due_at: float | None = None  # when the valid timer fires, if one is set
        self._order = count()
        self.batch_area = self._busy_area = self._capacity_area = self._queue_area = self._wait_sum = 0.0
        self._started = 0
        self._t_window = env.now

    # --- what routing and the metrics see ------------------------------------------------------

    def in_system(self) -> int:
        """Return the calls inside: admitted or waiting to be (the router's 'load')."""
        return self.running + self.n_waiting

    def idle(self) -> bool:
        """Return True when no call is admitted here or waiting to be."""
        return self.running + self.n_waiting == 0

    def step_s(self) -> float:
        """Return how long one iteration takes now: itl + KV read of the decoding batch + prefill chunk."""
        step = self._itl_s + self._kv_s * self.kv_decode
        if self.n_prefill:
            step += max(self._budget - self.n_decode, 0) * self._prefill_s_per_token
        return step

    def close_window(self) -> tuple[tuple, float, float]:
        """Return (name, station integrals), the batch-size integral and the time alive since the last call."""
        self._catch_up()
        stats = (self.name, (self._busy_area, self._capacity_area, self._queue_area, self._wait_sum, self._started))
        area = self.batch_area
        self.batch_area = self._busy_area = self._capacity_area = self._queue_area = self._wait_sum = 0.0
        self._started = 0
        alive, self._t_window = self.env.now - self._t_window, self.env.now
        return stats, area, alive

    # --- the fluid clocks ----------------------------------------------------------------------

    def _catch_up(self) -> None:
        """Advance the token clock, the oldest prompt's prefill and the integrals to now at the current pace."""
        now = self.env.now
        elapsed = now - self._t
        if not elapsed:
            return
        self._t = now
        if self.running or self.n_waiting:
            step = self.step_s() if not self.hosted else self._itl_s
            if self.n_decode:
                self._clock += elapsed / step
                self.batch_area += self.n_decode * elapsed
            if self.n_prefill and not self.hosted:
                self._prefilling[0][0] -= elapsed * max(self._budget - self.n_decode, 0) / step
            self._busy_area += self.running * elapsed
            self._queue_area += self.n_waiting * elapsed
        self._capacity_area += self._capacity() * elapsed

    def _capacity(self) -> float:
        """Return how many sequences fit at once at the current sequence lengths (slots, or KV cache if it binds first)."""
        if self.kv_used and self.kv_capacity != math.inf:
            return min(self.max_seqs, self.kv_capacity * self.running / self.kv_used)
        return self.max_seqs

    def _schedule(self) -> None:
        """Schedule the next phase change (an answer finishing or a prompt prefilled), unless it is already set.

        When the next change is still the one the timer is set for, at the same pace (a hosted call
        joining behind others, whose pace a batch does not change), the timer stands; otherwise it
        is replaced and the earlier one becomes void.
        """
        batch = self._batch
        while batch and batch[0][2] is None:
            heapq.heappop(batch)
        prefilling = self._prefilling
        while prefilling and prefilling[0][2] is None:
            prefilling.popleft()
        delay = math.inf
        if batch or prefilling and not self.hosted:
            step = self.step_s() if not self.hosted else self._itl_s
            if batch:
                delay = (batch[0][0] - self._clock) * step
            if prefilling and not self.hosted:
                left = prefilling[0][0]
                chunk = self._budget - self.n_decode
                if left <= 0:
                    delay = 0.0
                elif chunk > 0:
                    delay = min(delay, left * step / chunk)
        if delay == math.inf:
            self._generation += 1
            self._due_at = None
            return
        now = self.env.now
        due_at = now + max(delay, 0.0)
        armed = self._due_at
        if armed is not None and abs(due_at - armed) <= 1e-12 * max(1.0, armed):
            return  # the same change at the same time (to rounding): the timer set for it stands
        self._generation += 1
        self._due_at = due_at
        after(self.env, due_at - now, self._due, self._generation)

    def _due(self, generation) -> None:
        """A phase change is due: finish answers, move a prefilled prompt into the batch, admit, reschedule."""
        if generation != self._generation:
            return
        self._due_at = None
        self._catch_up()
        done = []
        batch = self._batch
        # The timer was set for a phase change: take the one nearer to due even if rounding left it a
        # hair short (waiting for the clock to catch up could spin at a fixed instant).
        step = self.step_s() if not self.hosted else self._itl_s
        decode_left = (batch[0][0] - self._clock) * step if batch else math.inf
        prefill_left = math.inf
        if self._prefilling and not self.hosted:
            chunk = self._budget - self.n_decode
            left = self._prefilling[0][0]
            prefill_left = 0.0 if left <= 0 else (left * step / chunk if chunk > 0 else math.inf)
        if decode_left <= prefill_left:
            self._clock = max(self._clock, batch[0][0])
            while batch and batch[0][0] <= self._clock * (1 + 1e-12):
                entry = heapq.heappop(batch)
                if entry[2] is not None:
                    self._leave(entry)
                    done.append(entry[2])
                    entry[2] = None
        else:
            self._prefilled(self._prefilling.popleft(), done)
        if not self.n_decode:
            batch.clear()
            self._clock = 0.0  # restart the count so it never grows large enough to lose precision
        gone = self._admit()
        self._schedule()
        for request in done:
            self._on_done(request)
        for request in gone:
            self._on_gone(request)

    def _leave(self, entry: list) -> None:
        """Take a decoding sequence out of the batch's books (its answer is complete, or it was aborted)."""
        self.n_decode -= 1
        self.kv_decode -= entry[3]
        self.running -= 1
        self.kv_used -= entry[3]

    def _prefilled(self, entry: list, done: list) -> None:
        """The prompt is read and the first token is out: the sequence joins the decoding batch."""
        request = entry[2]
        self.n_prefill -= 1
        request.t_first_token = self.env.now
        if request.streams:
            request.deadline = math.inf  # the first token reached the client, which now reads on to the last
        remaining = request.output_tokens - 1
        if remaining > 0:
            entry[0] = self._clock + remaining
            entry[4] = _DECODE
            self.n_decode += 1
            self.kv_decode += entry[3]
            heapq.heappush(self._batch, entry)
        else:
            self.running -= 1
            self.kv_used -= entry[3]
            entry[2] = None
            done.append(request)

    # --- calls arriving, admitted, aborted, failed ---------------------------------------------

    def arrive(self, request) -> None:
        """Queue a call for admission (first come, first served) and admit what fits."""
        self._catch_up()
        kv = request.prompt_tokens + request.output_tokens
        entry = [0.0, next(self._order), request, kv, _WAITING]
        request.llm_seq = entry
        request.t_queued = self.env.now
        self._waiting.append(entry)
        self.n_waiting += 1
        gone = self._admit()
        if entry[4] != _WAITING or gone:
            self._schedule()
        for dropped in gone:
            self._on_gone(dropped)

    def _admit(self) -> list:
        """Admit waiting calls in order while a slot and KV room are free; return the ones whose client has gone."""
        waiting = self._waiting
        now = self.env.now
        gone = []
        while waiting:
            entry = waiting[0]
            request = entry[2]
            if request is None:
                waiting.popleft()
                continue
            if self._cancel and now > request.deadline:  # its client has left: drop it at the door
                waiting.popleft()
                self.n_waiting -= 1
                self._wait_sum += now - request.t_queued
                entry[2] = None
                gone.append(request)
                continue
            if self.running >= self.max_seqs or self.kv_used + entry[3] > self.kv_capacity:
                break
            waiting.popleft()
            self.n_waiting -= 1
            self.running += 1
            self.kv_used += entry[3]
            self._started += 1
            self._wait_sum += now - request.t_queued
            entry[4] = _PREFILL
            prefill = request.prompt_tokens * (1 - self._cached_share)
            if self.hosted:
                after(self.env, prefill * self._prefill_s_per_token, self._hosted_prefilled, entry)
            else:
                entry[0] = prefill
                self._prefilling.append(entry)
                self.n_prefill += 1
        return gone

    def _hosted_prefilled(self, entry) -> None:
        """A hosted call's prompt is read (the provider prefills in parallel): it joins the batch."""
        if entry[2] is None:
            return  # aborted or failed meanwhile
        self._catch_up()
        self.n_prefill += 1  # _prefilled counts it out again
        done = []
        self._prefilled(entry, done)
        self._schedule()
        for request in done:
            self._on_done(request)

    def abort(self, request) -> tuple[bool, int] | None:
        """Abort `request` if it is here: free its slot and KV cache; return (prefill started, tokens generated)."""
        entry = getattr(request, "llm_seq", None)
        if entry is None or entry[2] is not request:
            return None
        self._catch_up()
        phase = entry[4]
        entry[2] = None
        generated = 0
        if phase == _WAITING:
            self.n_waiting -= 1
        elif phase == _PREFILL:
            if not self.hosted:
                self.n_prefill -= 1
            self.running -= 1
            self.kv_used -= entry[3]
        else:
            generated = request.output_tokens - math.ceil(entry[0] - self._clock - 1e-9)
            self._leave(entry)
            if not self.n_decode:
                self._batch.clear()
                self._clock = 0.0
        gone = self._admit()
        self._schedule()
        for dropped in gone:
            self._on_gone(dropped)
        return phase != _WAITING, generated

    def fail_all(self) -> list:
        """The replica crashed: forget every call it holds and return them, oldest first."""
        self._catch_up()
        entries = list(self._waiting) + list(self._prefilling) + sorted(self._batch, key=lambda e: e[1])
        failed = [entry[2] for entry in entries if entry[2] is not None]
        for entry in entries:
            entry[2] = None
        self._waiting.clear()
        self._prefilling.clear()
        self._batch.clear()
        self.n_waiting = self.n_prefill = self.n_decode = self.running = self.kv_used = self.kv_decode = 0
        self._clock = 0.0
        self._generation += 1
        self._due_at = None
        return failed
