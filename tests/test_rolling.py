"""Rolling figures: the last 10 or 60 seconds as one record, and everything since a change."""

import numpy as np
import pytest

from engine import Simulation, load_preset

from engine.sketch import LogBuckets


def test_rolling_percentiles_are_within_two_per_cent_of_the_exact_ones():
    rng = np.random.default_rng(7)
    values = rng.lognormal(0.5, 1.2, 20_000)
    buckets = LogBuckets(0.02, low=1e-4, high=1e5)  # the rolling spans' buckets
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q, method="lower"))
        assert buckets.quantiles(buckets.counts(values), (q,))[0] == pytest.approx(exact, rel=0.021)
    assert buckets.quantiles(buckets.counts([]), (0.5,)) == [None]


def test_a_span_sums_exactly_the_windows_it_covers():
    sim = Simulation(load_preset("horizontal_load_balancer"), rolling_s=(10.0, 60.0))
    sim.advance(90)
    windows = list(sim.windows)
    for span in (10, 60):
        rolled = windows[-1]["rolled"][float(span)]
        covered = windows[-span:]
        for name in ("arrivals", "completions", "timed_out", "db_writes"):
            assert rolled[name] == sum(w[name] for w in covered)
        assert rolled["t_end_s"] - rolled["t_start_s"] == pytest.approx(span)
        assert rolled["throughput_rps"] == pytest.approx(sum(w["completions"] for w in covered) / span)
        busy = np.mean([w["web_utilisation"] for w in covered])
        assert rolled["web_utilisation"] == pytest.approx(busy, rel=1e-9)
        assert rolled["usd_total"] == pytest.approx(sum(w["usd_total"] for w in covered), rel=1e-9)
    # While the run is younger than the span, the span covers what there is.
    young = windows[4]["rolled"][60.0]
    assert young["t_start_s"] == 0 and young["arrivals"] == sum(w["arrivals"] for w in windows[:5])


def test_rolling_figures_change_nothing_in_the_run():
    scenario = load_preset("genai_stack")
    plain, rolling = Simulation(scenario), Simulation(scenario, rolling_s=(10.0,))
    plain.advance(40)
    rolling.advance(40)
    assert [w for w in plain.windows] == [{k: v for k, v in w.items() if k != "rolled"} for w in rolling.windows]
    assert "rolled" not in plain.windows[-1]


def test_since_counts_from_the_anchor_and_never_forgets():
    sim = Simulation(load_preset("horizontal_load_balancer"), rolling_s=(10.0,))
    sim.advance(20)
    assert "since" not in sim.windows[-1]["rolled"]
    sim.start_since()
    sim.advance(100)
    windows = list(sim.windows)
    since = windows[-1]["rolled"]["since"]
    assert since["t_start_s"] == 20 and since["arrivals"] == sum(w["arrivals"] for w in windows[20:])
    with pytest.raises(ValueError, match="rolling_s"):
        Simulation(load_preset("single_server")).start_since()


def test_a_tier_that_has_gone_leaves_the_span_and_no_rounding_builds_up():
    sim = Simulation(load_preset("horizontal_load_balancer"), rolling_s=(10.0,))
    sim.advance(30)
    sim.controls.set_db_read_replicas(0)  # the replica tier goes
    for _ in range(3_600):  # an hour of windows in and out
        sim.advance(1)
        rolled = sim.windows[-1]["rolled"][10.0]
        assert rolled["usd_total"] >= 0 and 0 <= rolled["web_utilisation"] <= 1.05
    assert rolled["db_replica_utilisation"] is None  # gone for longer than the span: not in it
    last = list(sim.windows)[-10:]
    assert rolled["usd_total"] == pytest.approx(sum(w["usd_total"] for w in last), rel=1e-12)  # the windows it covers
