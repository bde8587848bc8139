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
the prompt and searches the stored answers for the nearest one, and serves it if its question is
similar enough (cosine similarity at least a threshold). Each stored question is its own candidate:
the same question in other words passes with the probability measured on real reworded pairs, and
every related but different question of the same topic stored beside it passes with the
probability measured on real related pairs. With n such neighbours stored and nothing else, at
least one passes with probability 1 - (1 - p)^n: a false hit, the answer to another question.
When the rewording is stored too, the nearest candidate wins, so the neighbours take a share of
the lookups the rewording would have answered. Both rates come from a similarity curve
(engine/curves.py): the Quora one in assets/semantic_cache_curve.csv (scripts/semantic_cache_curve.py)
unless the scenario names one a team measured on its own questions. A lower threshold finds more
rewordings and serves more wrong answers, and a topic with more stored questions serves more.

Answers expire: every lookup first drops the answers whose time to live has passed (oldest first,
as Redis's active expiry does), so a topic's count of stored questions is always its live count.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from engine.clock import after
from engine.curves import CURVE_FILE, DEFAULT, Curve, find_curve  # noqa: F401 (CURVE_FILE: imported from here before)
from engine.distributions import sampler
from engine.randomness import BLOCK, endless, stream
from engine.request import Lookup
from engine.scenario import PromptKeys, ResponseCache as CacheSpec


def semantic_rates(threshold: float, curve: Curve | None = None) -> tuple[float, float]:
    """Return (hit rate among rewordings, false-hit rate among related questions) at a cosine threshold, on
    `curve` (None: the Quora curve)."""
    return (DEFAULT if curve is None else curve).rates(threshold)


def search_outcomes(threshold: float, neighbours: int, curve: Curve | None = None) -> tuple[float, float, float]:
    """Return what a vector search at `threshold` serves with `neighbours` related questions stored, on `curve`
    (None: the Quora curve).

    Returns (P(the stored rewording is served), P(a neighbour is served) when the rewording is stored,
    P(a neighbour is served) when it is not). Each stored question's similarity to the prompt is
    drawn independently from its pair kind's distribution (the curve is its survival function); the
    nearest one at or above the threshold is served. Trapezoids on a fine grid: the two shares of a
    stored rewording add up exactly to P(something passes).
    """
    curve = DEFAULT if curve is None else curve
    thresholds, hits, false_hits = curve.thresholds, curve.hit_rate, curve.false_hit_rate
    grid = np.append(np.linspace(threshold, 1.0, 1 + max(1, int(round((1.0 - threshold) / 0.0005)))), 1.0)
    reworded = 1.0 - np.interp(grid, thresholds, hits)      # P(a rewording's similarity < x)
    related = 1.0 - np.interp(grid, thresholds, false_hits)  # P(a related question's similarity < x)
    reworded[-1] = related[-1] = 1.0                        # the last step holds what scores exactly 1
    nearest_related = related ** neighbours                  # P(every neighbour < x)
    correct = float(np.sum(np.diff(reworded) * (nearest_related[:-1] + nearest_related[1:]) / 2))
    wrong = float(np.sum(np.diff(nearest_related) * (reworded[:-1] + reworded[1:]) / 2))
    return correct, wrong, float(1.0 - nearest_related[0])


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

    def __init__(self, env, spec: CacheSpec, keys: PromptKeys, seed: int, window_of, lookup: Lookup):
        """Create an empty cache; lookups end in `lookup.hit(request)` or `lookup.miss(request)` after their latency."""
        self.env = env
        self.spec = spec
        self.keys = keys
        self._window_of = window_of
        self._on_hit = lookup.hit
        self._on_miss = lookup.miss
        self._lookup_time = sampler(spec.lookup_ms, stream(seed, "cache.lookup"))
        self._ttl_s = spec.ttl_s if spec.ttl_s is not None else float("inf")
        # prompt key -> (expiry time, stored in the question's usual wording), least recently used first
        self._entries: OrderedDict[int, tuple[float, bool]] = OrderedDict()
        # (expiry time, key) in the order answers were stored: one time to live for all, so oldest first.
        # Entries for keys since refilled or evicted are skipped when they come up.
        self._expiries: deque[tuple[float, int]] | None = deque() if spec.ttl_s is not None else None
        wording_rng = stream(seed, "prompt_keys.wording")
        self._wording_coin = endless(lambda: wording_rng.random(BLOCK).tolist())
        self.semantic = spec.semantic
        if spec.semantic is not None:
            self._curve = find_curve(spec.semantic.curve)
            self._search_time = _sum_of(sampler(spec.semantic.embed_ms, stream(seed, "cache.embed")),
                                        sampler(spec.semantic.search_ms, stream(seed, "cache.search")))
            self._outcomes: dict[int, tuple[float, float, float]] = {}  # neighbours stored -> search_outcomes
            match_rng = stream(seed, "cache.similarity")
            self._match_coin = endless(lambda: match_rng.random(BLOCK).tolist())
            self._topics: dict[int, int] = {}  # topic -> how many of its questions are stored

    def __len__(self) -> int:
        """Return how many answers the cache holds (expired ones go at the next lookup or fill)."""
        return len(self._entries)

    def lookup(self, request) -> None:
        """Ask the cache for the request's prompt, in whichever wording this user chose."""
        request.reworded = self._wording_coin() < self.keys.paraphrase_share
        after(self.env, self._lookup_time(), self._answered, request)

    def _expire(self) -> None:
        """Drop every answer whose time to live has passed (amortised: each stored answer is looked at once)."""
        expiries = self._expiries
        if not expiries:
            return
        now = self.env.now
        entries = self._entries
        while expiries and expiries[0][0] <= now:
            expiry, key = expiries.popleft()
            entry = entries.get(key)
            if entry is not None and entry[0] == expiry:  # not refilled since
                self._forget(key)

    def _answered(self, request) -> None:
        """The exact lookup came back: the same question in the same words is a hit."""
        self._expire()
        entry = self._entries.get(request.prompt_key)
        if entry is not None and entry[1] and not request.reworded:
            self._entries.move_to_end(request.prompt_key)
            self._window_of().cache_hits += 1
            self._on_hit(request)
        elif self.semantic is not None:
            after(self.env, self._search_time(), self._searched, request)
        else:
            self._window_of().cache_misses += 1
            self._on_miss(request)

    def _searched(self, request) -> None:
        """The vector search came back: the nearest stored question, if similar enough, is served."""
        key = request.prompt_key
        window = self._window_of()
        self._expire()
        stored = key in self._entries
        neighbours = self._topics.get(key // self.keys.questions_per_topic, 0) - stored
        outcomes = self._outcomes.get(neighbours)
        if outcomes is None:
            outcomes = search_outcomes(self.semantic.threshold, neighbours, self._curve)
            self._outcomes[neighbours] = outcomes
        correct, wrong_beside, wrong_alone = outcomes
        coin = self._match_coin()
        if stored and coin < correct:
            self._entries.move_to_end(key)
            window.semantic_hits += 1
            self._on_hit(request)
        elif coin < (correct + wrong_beside if stored else wrong_alone):
            window.false_hits += 1
            self._on_hit(request)
        else:
            window.cache_misses += 1
            self._on_miss(request)

    def fill(self, request) -> None:
        """Store the answer the LLM just gave, evicting the least recently used answer if full."""
        self._expire()
        entries = self._entries
        key = request.prompt_key
        stored = entries.get(key)
        usual_wording = not request.reworded or (stored is not None and stored[1])
        expiry = self.env.now + self._ttl_s
        entries[key] = (expiry, usual_wording)
        entries.move_to_end(key)
        if self._expiries is not None:
            self._expiries.append((expiry, key))
            if len(self._expiries) > 2 * len(entries) + 1024:  # mostly refilled or evicted keys: rebuild
                self._expiries = deque(sorted((e[0], k) for k, e in entries.items()))
        if stored is None and self.semantic is not None:
            topic = key // self.keys.questions_per_topic
            self._topics[topic] = self._topics.get(topic, 0) + 1
        if len(entries) > self.spec.capacity_entries:
            self._forget(next(iter(entries)))
            self._window_of().cache_evictions += 1

    def _forget(self, key: int) -> None:
        """Drop the answer for `key` (evicted or expired)."""
        del self._entries[key]
        if self.semantic is not None:
            topic = key // self.keys.questions_per_topic
            left = self._topics[topic] - 1
            if left:
                self._topics[topic] = left
            else:
                del self._topics[topic]


def _sum_of(first, second):
    """Return a function giving the sum of two samplers' next values (embedding, then search)."""
    return lambda: first() + second()
