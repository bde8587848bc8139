"""Labels: every metric has one human label and unit, and numbers are written compactly everywhere."""

import re

import pytest

from engine.labels import LABELS, UNITS, _models_in, choice_label, describe_change, field_title, format_value, label
from engine.scenario import Scenario
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


@pytest.mark.parametrize("name, title", [
    ("client_timeout_s", "Client timeout (s)"), ("db_reads_per_request", "Database reads per request"),
    ("price_per_hour_usd", "Price (USD per hour)"), ("prefill_tokens_per_s", "Prefill (tokens/s)"),
    ("p99_ms", "p99 (ms)"), ("p50_ms", "Median (ms)"), ("async_io", "Async I/O"), ("ttl_s", "Time to live (s)"),
])
def test_a_field_name_reads_as_words_with_its_unit_in_brackets(name, title):
    assert field_title(name) == title


def test_every_setting_of_the_scenario_format_has_a_title_in_words():
    seen, todo = set(), [Scenario]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            assert info.title and not re.search(r"_|\w\.\w", info.title), f"{model.__name__}.{name}: {info.title!r}"
            todo += _models_in(info.annotation)
    assert Scenario.model_fields["web"].title == "Web tier" and len(seen) > 30
    assert choice_label("key_value") == "key-value" and choice_label("round_robin") == "round robin"


def test_component_names_are_listed_as_runs_and_a_count_past_a_dozen():
    from engine.labels import names_in_words

    names = ["web-0", "web-1", "web-2", "db-primary", "db-replica-0", "gpt-4o-0", "gpt-4o-1", "llm-3"]
    assert names_in_words(names) == "web-0 to web-2, db-primary, db-replica-0, gpt-4o-0 to gpt-4o-1, llm-3"
    assert names_in_words(["web-0", "web-2"]) == "web-0, web-2"  # a gap ends a run
    assert names_in_words([f"d{i}-0" for i in range(15)]) == ", ".join(f"d{i}-0" for i in range(12)) + " and 3 more"
