"""A response cache: the same question, asked again, answered without the LLM.

Many users ask the same things, and some questions are far more popular than others. An exact-match
cache (Redis, say) keeps recent answers keyed by the prompt. Before calling the model the app looks
the prompt up; a hit returns the stored answer after a network round trip of a fraction of a
millisecond, with no tokens spent. A miss costs that round trip too, then the model is called and
its answer stored for next time (cache-aside). The cache holds a limited number of answers: when it
is full the least recently used one is evicted, and every answer expires after a time to live.

Nothing here decides the hit rate. It emerges from which prompts repeat (the traffic's prompt keys
and their popularity), the capacity and the time to live, which is why it can be checked against
the theory of LRU caches (Che's approximation, engine/theory.py).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from engine.clock import after
from engine.distributions import sampler
from engine.randomness import BLOCK, endless, stream
from engine.scenario import PromptKeys, ResponseCache as CacheSpec


def zipf_popularity(space: int, skew: float) -> np.ndarray:
    """Return the probability of each of `space` prompts, the k-th proportional to 1 / k^skew."""
    weights = np.arange(1, space + 1, dtype=np.float64) ** -skew
    return weights / weights.sum()


def prompt_key_sampler(spec: PromptKeys, rng: np.random.Generator):
    """Return a function giving the next request's prompt key (0 = the most popular prompt)."""
    cumulative = np.cumsum(zipf_popularity(spec.space, spec.zipf_skew))
    cumulative[-1] = 1.0
    return endless(lambda: np.searchsorted(cumulative, rng.random(BLOCK), side="right").tolist())


class Cache:
    """Answers by prompt key, least recently used first out, each valid until its expiry time."""

    def __init__(self, env, spec: CacheSpec, seed: int, window_of, on_hit, on_miss):
        """Create an empty cache; lookups call `on_hit(request)` or `on_miss(request)` after their latency."""
        self.env = env
        self.spec = spec
        self._window_of = window_of
        self._on_hit = on_hit
        self._on_miss = on_miss
        self._lookup_time = sampler(spec.lookup_ms, stream(seed, "cache.lookup"))
        self._ttl_s = spec.ttl_s if spec.ttl_s is not None else float("inf")
        self._entries: OrderedDict[int, float] = OrderedDict()  # prompt key -> expiry time, oldest use first

    def __len__(self) -> int:
        """Return how many answers the cache holds (expired ones included until they are touched)."""
        return len(self._entries)

    def lookup(self, request) -> None:
        """Ask the cache for the request's prompt."""
        after(self.env, self._lookup_time(), self._answered, request)

    def _answered(self, event) -> None:
        """The lookup came back: a live entry is a hit, anything else a miss."""
        request = event._value
        entries = self._entries
        expiry = entries.get(request.prompt_key)
        window = self._window_of()
        if expiry is not None and expiry > self.env.now:
            entries.move_to_end(request.prompt_key)
            window.cache_hits += 1
            self._on_hit(request)
            return
        if expiry is not None:
            del entries[request.prompt_key]  # expired: gone for good
        window.cache_misses += 1
        self._on_miss(request)

    def fill(self, request) -> None:
        """Store the answer the LLM just gave, evicting the least recently used answer if full."""
        entries = self._entries
        entries[request.prompt_key] = self.env.now + self._ttl_s
        entries.move_to_end(request.prompt_key)
        if len(entries) > self.spec.capacity_entries:
            entries.popitem(last=False)
            self._window_of().cache_evictions += 1
