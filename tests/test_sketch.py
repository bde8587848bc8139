"""The whole-run latency sketch answers as the ddsketch package does, within its stated accuracy."""

import numpy as np
import pytest
from ddsketch import DDSketch

from engine.metrics import _percentiles
from engine.sketch import LogSketch

RNG = np.random.default_rng(11)
DATA = {
    "exponential": RNG.exponential(1.0, 50_000),
    "heavy tail": RNG.lognormal(0.0, 2.0, 20_000),
    "with zeros": np.r_[np.zeros(50), RNG.exponential(0.01, 500)],
    "one value": np.array([3.0]),
}


@pytest.mark.parametrize("name", DATA)
def test_quantiles_match_ddsketch_and_stay_within_half_a_percent(name):
    data = DATA[name]
    ours, reference = LogSketch(0.005), DDSketch(0.005)
    for chunk in np.array_split(data, 9):
        ours.add_many(chunk.tolist())
    for value in data:
        reference.add(float(value))
    assert ours.count == reference.count == len(data)
    for q in (0.0, 0.5, 0.95, 0.99, 1.0):
        assert ours.quantile(q) == pytest.approx(reference.get_quantile_value(q), rel=1e-9, abs=1e-12)
    ordered = np.sort(data)
    for q in (0.5, 0.99):
        exact = ordered[int(q * (len(data) - 1))]  # the lower-rank value both sketches target
        assert ours.quantile(q) == pytest.approx(exact, rel=0.005, abs=1e-12)


def test_empty_sketch_has_no_quantiles():
    assert LogSketch().quantile(0.5) is None


@pytest.mark.parametrize("n", [1, 2, 5, 100, 256, 257, 5000])
def test_window_percentiles_equal_numpy(n):
    values = RNG.exponential(1.0, n).tolist()
    ours = _percentiles(values, "latency")
    expected = np.percentile(values, (50, 95, 99))
    assert [ours["latency_p50_s"], ours["latency_p95_s"], ours["latency_p99_s"]] == pytest.approx(expected.tolist())
