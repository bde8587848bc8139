"""Labels: every metric has one human label and unit, and numbers are written compactly everywhere."""

import pytest

from engine.labels import LABELS, UNITS, describe_change, format_value, label
from engine.metrics import METRICS


def test_every_metric_has_a_label_and_a_known_unit():
    assert set(LABELS) == set(METRICS)
    assert all(entry.unit in UNITS and entry.text for entry in LABELS.values())
    assert label("latency_p95_s") == "p95 latency"


@pytest.mark.parametrize("value, unit, shown", [
    (1316.0, "req/s", "1.32k req/s"), (29_463.2, "usd/month", "$29.5k/mo"), (145, "usd/month", "$145/mo"),
    (0.00153, "usd", "$0.0015"), (6.68, "usd", "$6.68"), (2.3123, "s", "2.31 s"), (0.0453, "s", "45.3 ms"),
    (0.109, "share", "10.9 %"), (1.0, "share", "100 %"), (0.0, "share", "0 %"), (12_345, "count", "12.3k"),
    (12, "count", "12"), (1_234_567, "tokens", "1.23M"), (None, "s", "–"), (float("nan"), "s", "–"),
    (2.5, "/s", "2.5/s"),
])
def test_numbers_are_compact_with_their_unit(value, unit, shown):
    assert format_value(value, unit) == shown


def test_a_change_reads_before_arrow_now_with_its_percentage():
    assert describe_change("latency_p95_s", 2.0, 1.24) == "2 s → 1.24 s (−38 %)"
    assert describe_change("error_rate", 0.0, 0.12) == "0 % → 12 %"  # no percentage of nothing
