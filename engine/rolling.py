"""Rolling figures: what the last 10 (or 60) seconds looked like, instead of one second's noise.

One second of a simulation holds a handful of requests: its p95 is one slow request, its spend
jumps with each LLM call that ends in it, its cache hit rate swings between 0 and 1. A learner
reads a rolling window instead, the way a monitoring dashboard shows "the last minute": every
count summed over the last few windows, every rate and share taken over them, percentiles over
all their latencies together.

Whole numbers (counts, and latencies kept as counts in log-spaced buckets 2 % wide: engine/sketch.py's
LogBuckets) are kept as running sums: a window enters, the one that falls out of the
span leaves, exactly. Amounts (seconds, money, time-integrals of busy servers) are summed afresh
from the span's windows each time, so no rounding builds up: a running sum of them that adds and
takes out for an hour left a tier that had gone reading -81 % busy. A tier counts in a span only
while one of its windows is in it. One more span, "since", grows from a moment the caller chooses
(a change a learner made) and never lets a window go: the figures since the change, which is what
a lesson's claim measures.
"""

from __future__ import annotations

import math

import numpy as np

from engine.sketch import LogBuckets

_BUCKETS = LogBuckets(0.02, low=1e-4, high=1e5)  # latencies, 2 % wide (engine/sketch.py)
_INTEGRALS = 5  # a tier's integrals per window: busy, capacity, queue, waits, started (engine/metrics.py)


class Rolling:
    """Records over the last few windows, one per span asked for, kept up to date as windows close."""

    def __init__(self, spans_s: tuple[float, ...], window_s: float, names: tuple[str, ...], tiers: tuple[str, ...]):
        """Keep records over `spans_s` (seconds, each at least one window) of windows `window_s` long.

        `names` are the counters of a window, in the order `add` receives their values; `tiers` the
        tiers whose station integrals it receives.
        """
        self.names, self.tiers = names, tiers
        self.spans: dict = {span: max(1, round(span / window_s)) for span in spans_s}  # span -> windows
        self._size = max(self.spans.values(), default=1)
        self._whole: np.ndarray | None = None  # which counters are whole numbers (from the first window)
        self._count = 0  # windows taken in
        # One row per recent window, a ring of `_size`: amounts (float) and whole numbers (int).
        self._amounts: np.ndarray | None = None
        self._wholes: np.ndarray | None = None
        self._latencies = np.zeros((self._size, _BUCKETS.size), dtype=np.int64)
        self._ttfts = np.zeros((self._size, _BUCKETS.size), dtype=np.int64)
        self._running = {span: None for span in self.spans}  # span -> (whole numbers, latencies, ttfts) summed
        self._since: tuple | None = None  # (amounts, whole numbers, latencies, ttfts) since the anchor

    def anchor(self) -> None:
        """Start the "since" span afresh: from the window being filled now on, nothing leaves it."""
        self._since = ()

    def _rows(self, values: tuple, tiers: dict, latencies: list[float], ttfts: list[float], span_s: float):
        """Return a window as (amounts, whole numbers): float counters, tier integrals and sums; counts, presence."""
        if self._whole is None:
            self._whole = np.array([not isinstance(value, float) for value in values])
        counters = np.asarray(values, dtype=np.float64)
        integrals = np.zeros(len(self.tiers) * _INTEGRALS)
        present = np.zeros(len(self.tiers), dtype=np.int64)
        for index, tier in enumerate(self.tiers):
            if tiers.get(tier) is not None:
                integrals[index * _INTEGRALS:(index + 1) * _INTEGRALS] = tiers[tier]
                present[index] = 1
        amounts = np.concatenate(([span_s, math.fsum(latencies), math.fsum(ttfts)], counters[~self._whole], integrals))
        wholes = np.concatenate((counters[self._whole].astype(np.int64), present))
        return amounts, wholes

    def add(self, span_s: float, values: tuple, tiers: dict[str, tuple | None], latencies: list[float],
            ttfts: list[float]) -> None:
        """Take in a window that just closed: its length, counter values, tier integrals and raw latencies."""
        amounts, wholes = self._rows(values, tiers, latencies, ttfts, span_s)
        lat, ttft = _BUCKETS.counts(latencies), _BUCKETS.counts(ttfts)
        if self._amounts is None:
            self._amounts = np.zeros((self._size, amounts.size))
            self._wholes = np.zeros((self._size, wholes.size), dtype=np.int64)
        slot = self._count % self._size
        for span, windows in self.spans.items():  # the window that falls out of each span leaves it
            running = self._running[span]
            if running is None:
                running = self._running[span] = [np.zeros_like(wholes), np.zeros_like(lat), np.zeros_like(ttft)]
            running[0] += wholes
            running[1] += lat
            running[2] += ttft
            if self._count >= windows:
                leaving = (self._count - windows) % self._size
                running[0] -= self._wholes[leaving]
                running[1] -= self._latencies[leaving]
                running[2] -= self._ttfts[leaving]
        self._amounts[slot], self._wholes[slot], self._latencies[slot], self._ttfts[slot] = amounts, wholes, lat, ttft
        self._count += 1
        if self._since is not None:
            if not self._since:
                self._since = (np.zeros_like(amounts), np.zeros_like(wholes), np.zeros_like(lat), np.zeros_like(ttft))
            for total, value in zip(self._since, (amounts, wholes, lat, ttft)):
                total += value  # only ever added: nothing cancels

    def record_spans(self) -> list:
        """Return the spans a record is given for: the fixed ones, and "since" once it holds a window."""
        return list(self.spans) + (["since"] if self._since else [])

    def record(self, span_s, last: dict, derive) -> dict:
        """Return the record over the last `span_s` seconds (or "since" the anchor) ending with window record `last`.

        `derive(record, counts, seconds)` fills the ratios every record shares (engine/metrics.py).
        Levels (replicas, money so far, requests in flight) are those at the end of `last`.
        """
        from engine.metrics import tier_figures  # the same formulas as every window

        if span_s == "since":
            amounts, wholes, latencies, ttfts = self._since
        else:
            windows = min(self.spans[span_s], self._count)
            rows = [(self._count - 1 - back) % self._size for back in range(windows)]
            amounts = self._amounts[rows].sum(axis=0)  # afresh from the span's windows: no rounding builds up
            wholes, latencies, ttfts = self._running[span_s]
        seconds, latency_sum, ttft_sum = amounts[:3].tolist()
        floats = iter(amounts[3:].tolist())
        whole = iter(wholes.tolist())
        counts = {name: next(whole) if is_whole else next(floats) for name, is_whole in zip(self.names, self._whole)}
        present = list(whole)
        integrals = list(floats)
        record = {"t_start_s": last["t_end_s"] - seconds, "t_end_s": last["t_end_s"], **counts, "instances": None}
        for prefix, histogram_, total in (("latency", latencies, latency_sum), ("ttft", ttfts, ttft_sum)):
            n = int(histogram_.sum())
            record[f"{prefix}_mean_s"] = total / n if n else None
            record.update(zip((f"{prefix}_p50_s", f"{prefix}_p95_s", f"{prefix}_p99_s"),
                              _BUCKETS.quantiles(histogram_, (0.5, 0.95, 0.99))))
        record.update(tier_figures({tier: tuple(integrals[i * _INTEGRALS:(i + 1) * _INTEGRALS]) if present[i] else None
                                    for i, tier in enumerate(self.tiers)}, seconds))
        derive(record, counts, seconds)
        for key in ("usd_cumulative", "usd_tokens_cumulative", "in_flight", "web_replicas", "web_replicas_ready",
                    "llm_replicas", "llm_replicas_ready"):
            record[key] = last.get(key)
        record["deployments"] = None
        return record
