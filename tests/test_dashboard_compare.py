"""Compare: both sides on identical traffic, deltas and confidence intervals over paired seeds."""

from streamlit.testing.v1 import AppTest

from dashboard.pages.compare import compare, on_same_traffic
from engine import load_preset

PAGE = "from dashboard.pages.compare import render_compare\nrender_compare()\n"


def rows_by_metric(rows):
    """Index the comparison table by metric."""
    return {row["metric"]: row for row in rows}


def test_both_sides_see_identical_arrivals_and_the_difference_has_a_sign():
    a, b = load_preset("separate_database"), load_preset("horizontal_load_balancer")
    assert on_same_traffic(a, b).traffic == a.traffic
    rows = rows_by_metric(compare(a, b, 120, 3))
    assert rows["arrivals"]["A"] == rows["arrivals"]["B"]
    assert rows["arrivals"]["B - A"] == 0
    # Four replicas instead of one at the same 1.5 req/s: the queue in front of the workers goes.
    assert rows["latency_p95_s"]["B - A"] < 0
    low, high = (float(x.replace(",", "")) for x in rows["latency_p95_s"]["95 % CI of B - A"].split(" to "))
    assert low <= rows["latency_p95_s"]["B - A"] <= high
    assert rows["usd_total"]["B - A"] > 0  # more replicas cost more


def test_the_page_runs_a_comparison():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.number_input(key="compare_seconds").set_value(60).run()
    at.number_input(key="compare_replications").set_value(2).run()
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    arrivals = table[table["metric"] == "arrivals"].iloc[0]
    assert arrivals["A"] == arrivals["B"] > 0
