"""A team's own traffic: the trace door (both formats, every problem named by row and column), what a
trace is like before it runs, and an uploaded trace replayed through any architecture."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies

import engine.traces as traces
from engine import ScenarioError, Simulation, derive, load_preset
from engine.paths import ASSETS_DIR
from engine.traces import (KEPT_TRACES, MAX_TRACE_BYTES, MAX_TRACE_ROWS, Trace, describe, find_trace, keep, kept,
                           read_trace_csv)


def plain(rows) -> str:
    return "t_s,prompt_tokens,output_tokens\n" + "".join(f"{t},{p},{o}\n" for t, p, o in rows)


def problems(text) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        read_trace_csv(text, "my.csv")
    return info.value.problems


def test_both_formats_read_the_same_traffic():
    azure = read_trace_csv((ASSETS_DIR / "AzureLLMInferenceTrace_code.csv").read_bytes())
    again = read_trace_csv(azure.to_csv())  # the plain format, as a saved trace is written
    assert len(azure.times) == 8819 and azure.times[0] == 0
    assert np.allclose(again.times, azure.times, atol=1e-6)
    assert (again.prompts == azure.prompts).all() and (again.outputs == azure.outputs).all()
    assert again.name == azure.name and azure.name.startswith("upload-")


def test_plain_columns_in_any_order_with_extra_columns_and_a_byte_order_mark():
    trace = read_trace_csv("\ufeffuser,output_tokens,t_s,prompt_tokens\nu1,5,10.0,100\nu2,7,12.5,0\n\n")
    assert trace.times.tolist() == [0.0, 2.5] and trace.prompts.tolist() == [100, 0]
    assert trace.outputs.tolist() == [5, 7]
    assert read_trace_csv(plain([(0, 10, 0), (1, 10, 3)])).outputs.tolist() == [1, 3]  # at least one token


@pytest.mark.parametrize("text, said", [
    ("time,prompt,output\n1,2,3\n", "columns 'time', 'prompt', 'output' are not allowed: the first line names the "
                                    "columns, either TIMESTAMP, ContextTokens, GeneratedTokens"),
    (plain([(0, 10, 5), ("abc", 10, 5)]), "row 2 (line 3), column t_s: 'abc' is not allowed: seconds"),
    (plain([(0, 10, 5), ("nan", 10, 5)]), "column t_s: 'nan' is not allowed"),
    (plain([(0, 10, 5), ("1e3", 10, 5)]), "column t_s: '1e3' is not allowed"),
    (plain([(0, 10, 5), (-1, 10, 5)]), "column t_s: '-1' is not allowed"),
    (plain([(5, 10, 5), (4, 10, 5)]), "row 2 (line 3), column t_s: '4' is not allowed: earlier than the row before"),
    (plain([(0, 10, 5), (1, 10.5, 5)]), "row 2 (line 3), column prompt_tokens: '10.5' is not allowed: a whole number"),
    (plain([(0, 10, 5), (1, 10, 300_000)]), "column output_tokens: '300000' is not allowed: a whole number of tokens "
                                            "from 0 to 200,000"),
    (plain([(0, 10, 5), (1, "1_000", 5)]), "column prompt_tokens: '1_000' is not allowed"),
    ("t_s,prompt_tokens,output_tokens\n0,10,5\n1,10\n", "row 2 (line 3), column output_tokens: '1,10' is not allowed: "
                                                        "a row has a value for each of"),
    (plain([(3, 10, 5)]), "1 row(s) over 0 s is not allowed: a trace needs at least two rows"),
    (b"t_s,prompt_tokens,output_tokens\n0,10,5\n1,1\xff0,5\n", "line 3, byte 42 (0xff) is not allowed: a trace is UTF-8 text"),
    ("", "columns (none) are not allowed"),
])
def test_each_problem_names_its_row_column_value_and_what_is_allowed(text, said):
    found = problems(text)
    assert any(said in problem for problem in found), found
    assert all(problem.startswith("my.csv: ") for problem in found)


def test_many_problems_are_listed_ten_at_a_time_and_counted():
    found = problems(plain([(0, 10, 5)] + [(i, -1, 5) for i in range(1, 26)]))
    assert len(found) == 11 and found[-1] == "... and 15 more"
    assert found[0].startswith("my.csv: row 2 (line 3), column prompt_tokens: '-1'")


def test_size_and_rows_are_capped_before_the_work_grows():
    assert "bytes is not allowed: at most 5,000,000" in problems(b"x" * (MAX_TRACE_BYTES + 1))[0]
    rows = plain((i * 0.001, 1, 1) for i in range(MAX_TRACE_ROWS + 1))
    assert len(rows) < MAX_TRACE_BYTES
    assert problems(rows) == [f"my.csv: more than {MAX_TRACE_ROWS:,} rows is not allowed: cut the trace shorter"]


def test_describe_gives_rate_over_time_burstiness_and_token_spread():
    rng = np.random.default_rng(3)
    steady = Trace(np.cumsum(rng.exponential(0.1, 20_000)), np.full(20_000, 100), np.full(20_000, 50))
    shape = describe(Trace(steady.times - steady.times[0], steady.prompts, steady.outputs))
    assert shape["cv"] == pytest.approx(1.0, abs=0.03)  # Poisson arrivals
    assert shape["mean_rps"] == pytest.approx(10, rel=0.03) and shape["prompt"]["p95"] == 100
    # 60 s at 10 req/s, then 60 s at 30 req/s: the rate over time shows the step, the gaps a burstier trace.
    times = np.concatenate([np.arange(0, 60, 0.1), 60 + np.arange(0, 60, 1 / 30)])
    stepped = describe(Trace(times, np.arange(len(times)) % 1000, np.full(len(times), 7)), bins=120)
    assert stepped["bin_s"] == 1 and stepped["rate"][:60] == pytest.approx([10] * 60)
    assert stepped["rate"][61:119] == pytest.approx([30] * 58) and stepped["peak_to_mean"] == pytest.approx(1.5, rel=0.05)
    code = describe(read_trace_csv((ASSETS_DIR / "AzureLLMInferenceTrace_code.csv").read_bytes()))
    assert code["cv"] > 2  # the coding service's trace is bursty, as its source says
    assert sum(code["prompt"]["histogram"]["counts"]) == code["rows"] == 8819
    assert code["prompt"]["p50"] < code["prompt"]["mean"] < code["prompt"]["p95"] <= code["prompt"]["max"]


def test_an_uploaded_trace_is_kept_by_its_content_and_a_missing_one_is_named(monkeypatch):
    monkeypatch.setattr(traces, "_kept", type(traces._kept)())
    names = [keep(read_trace_csv(plain([(0, i, 1), (1, i, 1)]))) for i in range(KEPT_TRACES + 1)]
    assert len(set(names)) == KEPT_TRACES + 1
    assert kept(names[0]) is None and kept(names[-1]) is not None  # the oldest went first
    with pytest.raises(ScenarioError) as info:
        find_trace(names[0])
    assert "an uploaded trace this app does not hold now" in info.value.problems[0]
    assert "upload the CSV again" in info.value.problems[0]


def _replaying(scenario, name: str, duration: float):
    return derive(scenario, {"duration_s": duration, "traffic": {"trace": {"file": name, "speedup": 1.0},
                                                                 "rate_rps": None, "users": None}}, "my traffic")


def test_an_uploaded_trace_replays_row_by_row_through_any_architecture():
    # 300 requests in bursts of 30 every 10 s, each 1,000 prompt tokens and 100 output tokens.
    rows = [(10 * burst + 0.01 * i, 1000, 100) for burst in range(10) for i in range(30)]
    name = keep(read_trace_csv(plain(rows), "bursts.csv"))
    summaries = {}
    for preset in ("horizontal_load_balancer", "separate_database"):
        scenario = _replaying(load_preset(preset), name, 95.0)
        sim = Simulation(scenario, history_windows=200)
        windows = sim.advance(95)
        summaries[preset] = sim.summary()
        arrivals = [w["arrivals"] for w in windows]
        assert sum(arrivals) == 300  # every row, once: the trace ends at 90.3 s
        assert arrivals[0] == 30 and arrivals[1] == 0 and arrivals[10] == 30  # its bursts, as written
    # The same requests on both architectures (the trace decides), different outcomes.
    assert summaries["horizontal_load_balancer"]["arrivals"] == summaries["separate_database"]["arrivals"] == 300
    assert summaries["horizontal_load_balancer"]["latency_p95_s"] < summaries["separate_database"]["latency_p95_s"]


def test_a_saved_scenario_brings_its_trace_to_a_process_that_never_saw_it(monkeypatch):
    from dashboard.classroom.shared import shared_store
    from dashboard.view.scenario_source import load_saved
    from engine.loading import scenario_to_data

    trace = read_trace_csv(plain([(i * 0.5, 100 + i, 10) for i in range(100)]), "mine.csv")
    name = keep(trace)
    scenario = _replaying(load_preset("horizontal_load_balancer"), name, 40.0)
    saved = shared_store().save_scenario(scenario_to_data(scenario), attachments={name: trace.to_csv()})
    monkeypatch.setattr(traces, "_kept", type(traces._kept)())  # another process: nothing kept
    with pytest.raises(ScenarioError):
        Simulation(scenario)
    opened, _ = load_saved(saved)
    assert opened == scenario and kept(name) is not None
    assert Simulation(opened).run(40)["arrivals"] == 80  # its rows, from the saved copy
    # A trace whose content does not match its name is refused, not run.
    other = read_trace_csv(plain([(0, 1, 1), (1, 1, 1)]))
    forged = shared_store().save_scenario(scenario_to_data(scenario), attachments={name: other.to_csv()})
    with pytest.raises(ValueError, match="its content does not match its name"):
        load_saved(forged)


_SEED_TRACE = ("t_s,prompt_tokens,output_tokens\n0,120,40\n0.5,80,12\n1.25,3000,400\n2,10,1\n",
               "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n"
               "2023-11-16 18:15:50.9951690,396,109\n2023-11-16 18:15:51.5363140,879,45\n")


def _damaged(seed: int) -> bytes:
    """Return a valid trace with a few bytes replaced, inserted or removed (as a mangled upload would be)."""
    rng = np.random.default_rng(seed)
    data = bytearray(_SEED_TRACE[seed % 2].encode())
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.integers(0, len(data)))
        action = rng.integers(0, 3)
        if action == 0:
            data[at] = int(rng.integers(0, 256))
        elif action == 1:
            data[at:at] = bytes(rng.choice(list(b",.\n\r\"-0123456789eE \x00\xff")) for _ in range(int(rng.integers(1, 4))))
        else:
            del data[at:at + int(rng.integers(1, 4))]
    return bytes(data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.integers(0, 2**32 - 1))
def test_a_damaged_trace_is_read_or_refused_with_a_message_never_a_traceback(seed):
    try:
        trace = read_trace_csv(_damaged(seed), "damaged.csv")
    except ScenarioError as exc:
        assert exc.problems and all(p.startswith("damaged.csv") or p.startswith("...") for p in exc.problems)
        return
    assert len(trace.times) >= 2 and (np.diff(trace.times) >= 0).all() and (trace.outputs >= 1).all()


@settings(max_examples=300, deadline=None)
@given(strategies.binary(max_size=400) | strategies.text(max_size=400))
def test_any_bytes_are_read_or_refused_with_a_message(data):
    try:
        read_trace_csv(data, "any.csv")
    except ScenarioError as exc:
        assert exc.problems


@pytest.mark.parametrize("text, said", [
    ("t_s,prompt_tokens,output_tokens\n0,1,1\n0.0000004,1,1\n", "2 row(s) over 0 s is not allowed"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n1990-01-01 00:00:00,1,1\n2030-01-01 00:00:00,1,1\n",
     "a trace spanning 1,262,304,000 s is not allowed: at most 1,000,000,000 s"),
])
def test_a_trace_its_saved_form_could_not_hold_is_refused_at_upload(text, said):
    # Saved traces keep time to the microsecond from the first row, in at most 10 digits of seconds: a trace
    # that form cannot hold would save, then never open again.
    assert any(said in problem for problem in problems(text))


def test_a_problem_names_the_line_an_editor_shows_past_blank_lines():
    found = problems("t_s,prompt_tokens,output_tokens\n\n0,1,1\n\n\n1,x,1\n")
    assert found[0] == "my.csv: row 2 (line 6), column prompt_tokens: 'x' is not allowed: a whole number of tokens " \
                       "from 0 to 2,000,000"


def test_a_capacity_point_draws_tokens_from_an_uploaded_trace_in_a_worker_that_never_saw_it(monkeypatch):
    from engine.attachments import attached
    from engine.capacity import measure

    # Every request of the trace asks for 2,000 tokens and gets 300 back: the sweep's points must show it.
    name = keep(read_trace_csv(plain([(i * 0.5, 2000, 300) for i in range(50)]), "long prompts.csv"))
    scenario = derive(load_preset("genai_stack"), {"traffic": {"tokens": {"kind": "empirical", "file": name}}},
                      "long prompts")
    carried = attached(scenario)
    assert list(carried) == [name]
    monkeypatch.setattr(traces, "_kept", type(traces._kept)())  # a worker process: nothing kept
    assert "does not hold now" in measure(scenario, 1_000, 30)["invalid"]
    point = measure(scenario, 1_000, 30, carried)
    assert "invalid" not in point and point["usd_per_month"] > measure(load_preset("genai_stack"), 1_000, 30)[
        "usd_per_month"]  # 2,000-token prompts cost more than the Azure conversation trace's (about 1,000)
