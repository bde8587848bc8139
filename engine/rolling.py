"""Rolling figures: what the last 10 (or 60) seconds looked like, instead of one second's noise.

One second of a simulation holds a handful of requests: its p95 is one slow request, its spend
jumps with each LLM call that ends in it, its cache hit rate swings between 0 and 1. A learner
reads a rolling window instead, the way a monitoring dashboard shows "the last minute": every
count summed over the last few windows, every rate and share taken over them, percentiles over
all their latencies together.

Each span is kept as running sums (a window enters, the one that falls out of the span leaves), so
a record over the last 60 windows costs the same as one over the last 10. One more span, "since",
grows from a moment the caller chooses (a change a learner made) and never lets a window go: the
figures since the change, which is what a lesson's claim measures. Latencies are kept as
counts in log-spaced buckets 2 % wide (the DDSketch idea, as engine/sketch.py), so a rolling
percentile is within 2 % of the exact one and memory does not grow with the request rate.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

_ACCURACY = 0.02
_GAMMA = (1 + _ACCURACY) / (1 - _ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
_LOW_S, _HIGH_S = 1e-4, 1e5  # latencies below count in the first bucket, above in the last
_OFFSET = math.ceil(math.log(_LOW_S) / _LOG_GAMMA)
_BUCKETS = math.ceil(math.log(_HIGH_S) / _LOG_GAMMA) - _OFFSET + 1
_VALUES = 2 * _GAMMA ** (np.arange(_BUCKETS) + _OFFSET) / (_GAMMA + 1)  # each bucket's representative value


def histogram(values: list[float]) -> np.ndarray:
    """Return the counts of `values` (seconds) in the log-spaced buckets."""
    if not values:
        return np.zeros(_BUCKETS, dtype=np.int64)
    clipped = np.clip(np.asarray(values, dtype=np.float64), _LOW_S, _HIGH_S)
    keys = np.ceil(np.log(clipped) / _LOG_GAMMA).astype(np.int64) - _OFFSET
    return np.bincount(keys, minlength=_BUCKETS)


def quantiles(counts: np.ndarray, qs: tuple[float, ...]) -> list[float | None]:
    """Return the values at quantiles `qs` of a histogram (None each when it is empty)."""
    total = int(counts.sum())
    if not total:
        return [None] * len(qs)
    cumulative = np.cumsum(counts)
    ranks = np.asarray(qs) * (total - 1)
    return _VALUES[np.searchsorted(cumulative, ranks, side="right")].tolist()


class _Span:
    """Running sums over the last `windows` windows."""

    def __init__(self, windows: int, counters: int):
        """Start empty."""
        self.windows = windows
        self.counts = [0] * counters
        self.tiers: dict[str, list[float]] = {}
        self.latencies = np.zeros(_BUCKETS, dtype=np.int64)
        self.ttfts = np.zeros(_BUCKETS, dtype=np.int64)
        self.latency_sum = self.ttft_sum = 0.0
        self.seconds = 0.0

    def add(self, entry: tuple, sign: int) -> None:
        """Add (sign 1) or take out (sign -1) one window's entry."""
        span, counts, tiers, latencies, ttfts, latency_sum, ttft_sum = entry
        self.seconds += sign * span
        self.counts = [total + sign * value for total, value in zip(self.counts, counts)]
        for tier, integrals in tiers.items():
            totals = self.tiers.setdefault(tier, [0.0] * len(integrals))
            for index, value in enumerate(integrals):
                totals[index] += sign * value
        if sign > 0:
            self.latencies += latencies
            self.ttfts += ttfts
        else:
            self.latencies -= latencies
            self.ttfts -= ttfts
        self.latency_sum += sign * latency_sum
        self.ttft_sum += sign * ttft_sum


class Rolling:
    """Records over the last few windows, one per span asked for, kept up to date as windows close."""

    def __init__(self, spans_s: tuple[float, ...], window_s: float, names: tuple[str, ...]):
        """Keep records over `spans_s` (seconds, each at least one window) of windows `window_s` long.

        `names` are the counters of a window, in the order `add` receives their values.
        """
        self.names = names
        self.spans: dict = {span: _Span(max(1, round(span / window_s)), len(names)) for span in spans_s}
        longest = max((s.windows for s in self.spans.values()), default=1)
        self._recent: deque[tuple] = deque(maxlen=longest + 1)

    def anchor(self) -> None:
        """Start the "since" span afresh: from the window being filled now on, nothing leaves it."""
        self.spans["since"] = _Span(10**12, len(self.names))

    def add(self, span_s: float, values: tuple, tiers: dict[str, tuple | None], latencies: list[float],
            ttfts: list[float]) -> None:
        """Take in a window that just closed: its length, counter values, tier integrals and raw latencies."""
        entry = (span_s, values, {t: i for t, i in tiers.items() if i is not None}, histogram(latencies),
                 histogram(ttfts), sum(latencies), sum(ttfts))
        self._recent.append(entry)
        for span in self.spans.values():
            span.add(entry, 1)
            if len(self._recent) > span.windows:
                span.add(self._recent[-span.windows - 1], -1)

    def record_spans(self) -> list:
        """Return the spans a record is given for: the fixed ones, and "since" once anchored."""
        return list(self.spans)

    def record(self, span_s, last: dict, derive) -> dict:
        """Return the record over the last `span_s` seconds (or "since" the anchor) ending with window record `last`.

        `derive(record, counts, seconds)` fills the ratios every record shares (engine/metrics.py).
        Levels (replicas, money so far, requests in flight) are those at the end of `last`.
        """
        from engine.metrics import TIERS, tier_figures  # the same formulas as every window

        span = self.spans[span_s]
        counts = dict(zip(self.names, span.counts))
        seconds = span.seconds
        record = {"t_start_s": last["t_end_s"] - seconds, "t_end_s": last["t_end_s"], **counts, "instances": None}
        for prefix, histogram_, total in (("latency", span.latencies, span.latency_sum),
                                          ("ttft", span.ttfts, span.ttft_sum)):
            n = int(histogram_.sum())
            record[f"{prefix}_mean_s"] = total / n if n else None
            record.update(zip((f"{prefix}_p50_s", f"{prefix}_p95_s", f"{prefix}_p99_s"),
                              quantiles(histogram_, (0.5, 0.95, 0.99))))
        record.update(tier_figures({tier: span.tiers.get(tier) for tier in TIERS}, seconds))
        derive(record, counts, seconds)
        for key in ("usd_cumulative", "usd_tokens_cumulative", "in_flight", "web_replicas", "web_replicas_ready",
                    "llm_replicas", "llm_replicas_ready"):
            record[key] = last.get(key)
        record["deployments"] = None
        return record

