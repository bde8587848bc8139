"""A latency sketch: whole-run percentiles in fixed memory, however many requests a run sees.

Keeping every latency of a live run would grow without bound. A sketch keeps counts in buckets
whose edges grow geometrically, so each bucket is at most `relative_accuracy` wide relative to
its values: any percentile read from it is within that relative error of the true one. This is
the DDSketch idea (Masson, Rim and Lee, VLDB 2019), and answers match the `ddsketch` package's
(the tests check). Values are added a whole metrics window at a time with numpy, which costs
nanoseconds per value instead of the package's per-value Python call, on the engine's hot path.
"""

from __future__ import annotations

import math

import numpy as np

_MIN_S = 1e-9   # below this a latency counts as zero
_MAX_S = 1e9    # above this it is clipped into the last bucket


class LogBuckets:
    """Log-spaced buckets, each at most `relative_accuracy` wide relative to its values, plus a bucket for zero.

    `counts(values)` turns values into an array of counts that can be added and taken away (the
    whole-run sketch below, and the rolling spans of engine/rolling.py, keep such arrays);
    `quantiles(counts, qs)` reads values back, within the accuracy. Index 0 counts values below
    `low` (read back as 0); values above `high` land in the last bucket.
    """

    def __init__(self, relative_accuracy: float, low: float = _MIN_S, high: float = _MAX_S):
        """Make buckets from `low` to `high` seconds."""
        self.gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._log_gamma = math.log(self.gamma)
        self._low, self._high = low, high
        self._offset = math.ceil(math.log(low) / self._log_gamma) - 1  # bucket 0 is zero
        self.size = math.ceil(math.log(high) / self._log_gamma) - self._offset + 1
        self._values = np.r_[0.0, 2 * self.gamma ** (np.arange(1, self.size) + self._offset) / (self.gamma + 1)]

    def counts(self, values) -> np.ndarray:
        """Return how many of `values` fall in each bucket."""
        array = np.asarray(values, dtype=np.float64)
        if array.size == 0:
            return np.zeros(self.size, dtype=np.int64)
        keys = np.ceil(np.log(np.clip(array, self._low, self._high)) / self._log_gamma).astype(np.int64) - self._offset
        keys[array < self._low] = 0
        return np.bincount(keys, minlength=self.size)

    def quantiles(self, counts: np.ndarray, qs) -> list[float | None]:
        """Return the values at quantiles `qs` in [0, 1] (None each when empty), DDSketch's lower-rank rule."""
        total = int(counts.sum())
        if not total:
            return [None] * len(qs)
        ranks = np.asarray(qs, dtype=np.float64) * (total - 1)
        return self._values[np.searchsorted(np.cumsum(counts), ranks, side="right")].tolist()


class LogSketch:
    """Counts of non-negative values in log-spaced buckets, with quantiles within a relative accuracy."""

    def __init__(self, relative_accuracy: float = 0.005):
        """Create an empty sketch whose quantiles are within `relative_accuracy` of the truth."""
        self._buckets = LogBuckets(relative_accuracy)
        self._counts = np.zeros(self._buckets.size, dtype=np.int64)
        self.count = 0

    def add_many(self, values) -> None:
        """Add a batch of non-negative values."""
        counts = self._buckets.counts(values)
        self._counts += counts
        self.count += int(counts.sum())

    def quantile(self, q: float) -> float | None:
        """Return the value at quantile `q` in [0, 1] (None if empty)."""
        return self._buckets.quantiles(self._counts, (q,))[0]
