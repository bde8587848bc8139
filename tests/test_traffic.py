"""Traffic: arrival rates, patterns, trace replay and token counts come out as specified."""

import statistics

import pytest

from engine import Simulation, derive
from engine.traffic import load_trace, rate_multiplier
from tests.helpers import scenario


def windows_of(scn, seconds):
    """Run a scenario and return its windows."""
    sim = Simulation(scn)
    return sim.advance(seconds)


def test_steady_arrivals_are_poisson():
    windows = windows_of(scenario(traffic={"rate_rps": 50}), 600)
    counts = [w["arrivals"] for w in windows]
    assert statistics.fmean(counts) == pytest.approx(50, rel=0.03)
    assert statistics.variance(counts) / statistics.fmean(counts) == pytest.approx(1.0, abs=0.15)


def test_spike_multiplies_the_rate_during_the_spike_only():
    windows = windows_of(scenario(traffic={"rate_rps": 20, "pattern": {"kind": "spike", "at_s": 100,
                                                                        "duration_s": 50, "multiplier": 5}}), 200)
    during = sum(w["arrivals"] for w in windows[100:150]) / 50
    outside = sum(w["arrivals"] for w in windows[:100] + windows[150:]) / 150
    assert during == pytest.approx(100, rel=0.05)
    assert outside == pytest.approx(20, rel=0.06)


def test_ramp_grows_linearly():
    windows = windows_of(scenario(traffic={"rate_rps": 20, "pattern": {"kind": "ramp", "start_s": 0,
                                                                        "over_s": 300, "to_multiplier": 4}}), 400)
    first, middle, last = (sum(w["arrivals"] for w in windows[a:b]) / (b - a) for a, b in ((0, 30), (135, 165), (300, 400)))
    assert first == pytest.approx(20 * 1.15, rel=0.1)
    assert middle == pytest.approx(50, rel=0.08)
    assert last == pytest.approx(80, rel=0.05)


def test_diurnal_cycle_peaks_and_troughs():
    windows = windows_of(scenario(traffic={"rate_rps": 20, "pattern": {"kind": "diurnal", "period_s": 400,
                                                                        "amplitude": 0.5}}), 400)
    peak = sum(w["arrivals"] for w in windows[80:120]) / 40     # sin peaks at a quarter period
    trough = sum(w["arrivals"] for w in windows[280:320]) / 40
    assert peak == pytest.approx(20 * 1.49, rel=0.08)
    assert trough == pytest.approx(20 * 0.51, rel=0.12)
    assert rate_multiplier(scenario(traffic={"rate_rps": 1, "pattern": {"kind": "diurnal", "period_s": 400,
                                                                         "amplitude": 0.5}}).traffic.pattern, 100) == 1.5


def test_rate_from_users():
    # 432,000 DAU x 10 requests / 86,400 s x peak factor 2 = 100 req/s.
    windows = windows_of(scenario(traffic={"rate_rps": None, "users": {"daily_active": 432_000}}), 120)
    assert sum(w["arrivals"] for w in windows) / 120 == pytest.approx(100, rel=0.04)


@pytest.mark.parametrize("speedup", [1, 4])
def test_trace_replay_reproduces_the_trace_timestamps(speedup):
    times, _, _ = load_trace("AzureLLMInferenceTrace_conv.csv")
    scn = scenario(traffic={"rate_rps": None, "trace": {"file": "AzureLLMInferenceTrace_conv.csv", "speedup": speedup}})
    windows = windows_of(scn, 120)
    # Simulated window k holds the trace rows stamped in [k x speedup, (k + 1) x speedup) seconds.
    expected = [int(((times >= k * speedup) & (times < (k + 1) * speedup)).sum()) for k in range(120)]
    assert [w["arrivals"] for w in windows] == expected
    assert sum(expected) > 100


def test_trace_replay_uses_the_trace_token_counts():
    times, prompts, outputs = load_trace("AzureLLMInferenceTrace_conv.csv")
    scn = scenario(traffic={"rate_rps": None, "client_timeout_s": None, "trace": {"speedup": 10}},
                   web={"workers": 10_000, "accept_queue": None}, llm={"kind": "hosted"})
    summary = Simulation(scn).run(60)
    n = int((times < 600).sum())
    assert summary["arrivals"] == n
    finished = summary["completions"]
    assert finished > 0.9 * n
    assert summary["input_tokens"] / finished == pytest.approx(prompts[:n].mean(), rel=0.1)


def test_trace_stops_at_its_end_unless_looped():
    scn = scenario(traffic={"rate_rps": None, "trace": {"file": "AzureLLMInferenceTrace_code.csv", "speedup": 100}})
    once = Simulation(scn).run(60)
    looped = Simulation(derive(scn, {"traffic": {"trace": {"loop": True}}})).run(60)
    rows = len(load_trace("AzureLLMInferenceTrace_code.csv")[0])
    assert once["arrivals"] == rows
    assert looped["arrivals"] > rows


def test_empirical_tokens_follow_the_azure_conversation_trace():
    # docs/sources.md, Workload traces: prompt mean 1155, output mean 211 (Azure conv 2023).
    scn = scenario({"traffic": {"rate_rps": 100, "client_timeout_s": None},
                    "web": {"workers": 10_000, "accept_queue": None, "db_reads_per_request": 0,
                            "db_writes_per_request": 0},
                    "llm": {"kind": "hosted"}})
    summary = Simulation(scn).run(200)
    assert summary["input_tokens"] / summary["completions"] == pytest.approx(1155, rel=0.05)
    assert summary["output_tokens"] / summary["completions"] == pytest.approx(211, rel=0.05)


def test_set_arrival_rate_on_a_trace_changes_its_speed():
    scn = scenario(traffic={"rate_rps": None, "trace": {"file": "AzureLLMInferenceTrace_conv.csv"}})
    sim = Simulation(scn)
    normal = sum(w["arrivals"] for w in sim.advance(300))
    sim.controls.set_arrival_rate(sim.arrivals.base_rate_rps * 3)
    faster = sum(w["arrivals"] for w in sim.advance(300))
    assert faster == pytest.approx(3 * normal, rel=0.2)


@pytest.mark.parametrize("rows, problem", [
    (["2023-11-16 18:00:00.0,10,5", "2023-11-16 18:00:01.0,-3,5"],
     "row 2 (line 3), column ContextTokens: '-3' is not allowed: a whole number of tokens from 0 to 2,000,000"),
    (["2023-11-16 18:00:02.0,10,5", "2023-11-16 18:00:01.0,10,5"],
     "row 2 (line 3), column TIMESTAMP: '2023-11-16 18:00:01.0' is not allowed: earlier than the row before"),
    (["2023-11-16 18:00:00.0,10,5"], "a trace needs at least two rows spread over time"),
    (["2023-11-16 18:00:00.0,10,5", "2023-11-16 18:00:00.0,10,5"], "a trace needs at least two rows"),
    (["yesterday,10,5", "2023-11-16 18:00:00.0,10,5"],
     "row 1 (line 2), column TIMESTAMP: 'yesterday' is not allowed: a date and time"),
])
def test_a_malformed_asset_trace_is_refused_with_its_row_and_column(tmp_path, monkeypatch, rows, problem):
    import engine.traces
    from engine import ScenarioError

    (tmp_path / "mine.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(engine.traces, "ASSETS_DIR", tmp_path)
    engine.traces._asset.cache_clear()
    with pytest.raises(ScenarioError) as info:
        load_trace("mine.csv")
    engine.traces._asset.cache_clear()
    assert info.value.problems[0].startswith("traffic.trace.file: 'mine.csv'")
    assert problem in info.value.problems[0]


def test_trace_timestamps_are_read_as_utc(tmp_path, monkeypatch):
    import engine.traces

    # 2023-03-26 01:30 -> 03:30 spans the European daylight-saving jump; as UTC the gap is 2 h.
    (tmp_path / "dst.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                      "2023-03-26 01:30:00.0,10,5\n2023-03-26 03:30:00.0,10,5\n")
    monkeypatch.setattr(engine.traces, "ASSETS_DIR", tmp_path)
    monkeypatch.setenv("TZ", "Europe/Berlin")
    __import__("time").tzset()
    engine.traces._asset.cache_clear()
    try:
        times, _, _ = load_trace("dst.csv")
    finally:
        engine.traces._asset.cache_clear()
        monkeypatch.delenv("TZ")
        __import__("time").tzset()
    assert times.tolist() == [0.0, 7200.0]


def test_closed_loop_keeps_exactly_n_requests_in_flight():
    # 20 users, each sending its next request as soon as the last one has an outcome: the LLM's
    # pace sets the rate, and every window ends with exactly 20 requests in flight.
    from engine import Simulation
    scn = scenario(traffic={"rate_rps": None, "closed_loop": {"users": 20}, "client_timeout_s": None,
                            "tokens": {"kind": "fixed", "prompt_tokens": 100, "output_tokens": 50}},
                   web={"handler_ms": {"dist": "constant", "value_ms": 0}, "workers": 100, "accept_queue": None},
                   llm={"kind": "hosted", "overhead_ms": 0, "itl_ms": 10, "prefill_tokens_per_s": 1e8})
    sim = Simulation(scn)
    windows = sim.advance(30)
    assert [w["in_flight"] for w in windows] == [20] * 30
    answer = 49 * 0.010 + 100 / 1e8
    assert sim.summary()["throughput_rps"] == pytest.approx(20 / answer, rel=0.04)


def test_closed_loop_users_think_between_requests():
    from engine import Simulation
    scn = scenario(traffic={"rate_rps": None, "closed_loop": {"users": 10, "think_time_s": 1.0},
                            "client_timeout_s": None, "tokens": {"kind": "fixed", "prompt_tokens": 0, "output_tokens": 1}},
                   web={"handler_ms": {"dist": "constant", "value_ms": 0}, "workers": 100, "accept_queue": None},
                   llm={"kind": "hosted", "overhead_ms": 500, "prefill_tokens_per_s": 1e8})
    summary = Simulation(scn).run(60)
    assert summary["throughput_rps"] == pytest.approx(10 / 1.5, rel=0.02)  # 0.5 s answer + 1 s thinking per user


def test_a_closed_loop_user_refused_at_once_backs_off_instead_of_spinning_at_one_instant():
    # 150 users against 9 workers and a queue of 100: 41 are refused (503) the moment they arrive.
    # Each waits the SDK's first back-off before trying again, so time moves and the run ends.
    from engine import Budget, Simulation
    from engine.traffic import ERROR_BACKOFF_S

    scn = scenario(traffic={"rate_rps": None, "closed_loop": {"users": 150}, "client_timeout_s": None},
                   web={"replicas": 1, "size": "medium", "accept_queue": 100, "handler_ms": {"dist": "constant", "value_ms": 1000}})
    summary = Simulation(scn, Budget(max_requests=200_000, max_wall_s=30)).run(20)
    assert summary["dropped"] > 0 and summary["completions"] > 0
    # at most one try per refused user per back-off: 41 users x 20 s / 0.5 s, plus the answered ones
    assert summary["arrivals"] <= 41 * 20 / ERROR_BACKOFF_S + summary["completions"] + 150
