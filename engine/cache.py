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

People reword questions, and an exact match misses every rewording. A semantic cache then embeds
the prompt and searches the stored answers for one whose question is similar enough (cosine
similarity at least a threshold). If the same question is stored in other words, the two are
similar enough with the probability measured on real reworded question pairs; if only a related
but different question of the same topic is stored, the cache serves its answer, a false hit,
with the probability measured on real related pairs. Both come from
assets/semantic_cache_curve.csv (scripts/semantic_cache_curve.py): a lower threshold finds more
rewordings and serves more wrong answers.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from engine.clock import after
from engine.distributions import sampler
from engine.paths import ASSETS_DIR
from engine.randomness import BLOCK, endless, stream
from engine.scenario import PromptKeys, ResponseCache as CacheSpec

CURVE_FILE = ASSETS_DIR / "semantic_cache_curve.csv"


def semantic_rates(threshold: float) -> tuple[float, float]:
    """Return (hit rate among rewordings, false-hit rate among related questions) at a cosine threshold."""
    table = np.loadtxt(CURVE_FILE, delimiter=",", comments="#", skiprows=6)
    thresholds, hits, false_hits = table.T
    return float(np.interp(threshold, thresholds, hits)), float(np.interp(threshold, thresholds, false_hits))


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

    def __init__(self, env, spec: CacheSpec, keys: PromptKeys, seed: int, window_of, on_hit, on_miss):
        """Create an empty cache; lookups call `on_hit(request)` or `on_miss(request)` after their latency."""
        self.env = env
        self.spec = spec
        self.keys = keys
        self._window_of = window_of
        self._on_hit = on_hit
        self._on_miss = on_miss
        self._lookup_time = sampler(spec.lookup_ms, stream(seed, "cache.lookup"))
        self._ttl_s = spec.ttl_s if spec.ttl_s is not None else float("inf")
        # prompt key -> (expiry time, stored in the question's usual wording), least recently used first
        self._entries: OrderedDict[int, tuple[float, bool]] = OrderedDict()
        wording_rng = stream(seed, "prompt_keys.wording")
        self._wording_coin = endless(lambda: wording_rng.random(BLOCK).tolist())
        self.semantic = spec.semantic
        if spec.semantic is not None:
            self._search_time = _sum_of(sampler(spec.semantic.embed_ms, stream(seed, "cache.embed")),
                                        sampler(spec.semantic.search_ms, stream(seed, "cache.search")))
            self._match_rate, self._false_match_rate = semantic_rates(spec.semantic.threshold)
            match_rng = stream(seed, "cache.similarity")
            self._match_coin = endless(lambda: match_rng.random(BLOCK).tolist())
            self._topics: dict[int, set[int]] = {}  # topic -> keys stored

    def __len__(self) -> int:
        """Return how many answers the cache holds (expired ones included until they are touched)."""
        return len(self._entries)

    def lookup(self, request) -> None:
        """Ask the cache for the request's prompt, in whichever wording this user chose."""
        request.reworded = self._wording_coin() < self.keys.paraphrase_share
        after(self.env, self._lookup_time(), self._answered, request)

    def _live(self, key: int) -> tuple[float, bool] | None:
        """Return the entry for `key` if it has not expired; forget it if it has."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= self.env.now:
            self._forget(key)
            return None
        return entry

    def _answered(self, event) -> None:
        """The exact lookup came back: the same question in the same words is a hit."""
        request = event._value
        entry = self._live(request.prompt_key)
        if entry is not None and entry[1] and not request.reworded:
            self._entries.move_to_end(request.prompt_key)
            self._window_of().cache_hits += 1
            self._on_hit(request)
        elif self.semantic is not None:
            after(self.env, self._search_time(), self._searched, request)
        else:
            self._window_of().cache_misses += 1
            self._on_miss(request)

    def _searched(self, event) -> None:
        """The vector search came back: a rewording may match, a related question may falsely match."""
        request = event._value
        key = request.prompt_key
        window = self._window_of()
        if self._live(key) is not None:
            if self._match_coin() < self._match_rate:
                self._entries.move_to_end(key)
                window.semantic_hits += 1
                self._on_hit(request)
                return
        elif self._related_stored(key) is not None and self._match_coin() < self._false_match_rate:
            window.false_hits += 1
            self._on_hit(request)
            return
        window.cache_misses += 1
        self._on_miss(request)

    def _related_stored(self, key: int) -> int | None:
        """Return a live stored key of the same topic as `key`, other than `key`, if there is one."""
        for other in list(self._topics.get(key // self.keys.questions_per_topic, ())):
            if other != key and self._live(other) is not None:
                return other
        return None

    def fill(self, request) -> None:
        """Store the answer the LLM just gave, evicting the least recently used answer if full."""
        entries = self._entries
        key = request.prompt_key
        stored = entries.get(key)
        usual_wording = not request.reworded or (stored is not None and stored[1])
        entries[key] = (self.env.now + self._ttl_s, usual_wording)
        entries.move_to_end(key)
        if self.semantic is not None:
            self._topics.setdefault(key // self.keys.questions_per_topic, set()).add(key)
        if len(entries) > self.spec.capacity_entries:
            self._forget(next(iter(entries)))
            self._window_of().cache_evictions += 1

    def _forget(self, key: int) -> None:
        """Drop the answer for `key` (evicted or expired)."""
        del self._entries[key]
        if self.semantic is not None:
            topic = key // self.keys.questions_per_topic
            members = self._topics[topic]
            members.discard(key)
            if not members:
                del self._topics[topic]


def _sum_of(first, second):
    """Return a function giving the sum of two samplers' next values (embedding, then search)."""
    return lambda: first() + second()
