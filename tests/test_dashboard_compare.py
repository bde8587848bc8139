"""Compare: both sides on identical traffic, paired differences over seeds, said in words and drawn per unit."""

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.pages.compare import (METRICS, NotComparable, compare, figure, metric_row, on_same_traffic, sentence,
                                     table_rows, verdict)
from dashboard.view.scenario_source import encode_link
from pathlib import Path

from engine import Budget, Simulation, derive, list_presets, load_preset

ROOT = Path(__file__).resolve().parent.parent

PAGE = "from dashboard.pages.compare import render_compare\nrender_compare()\n"


def rows_by_metric(rows):
    """Index the comparison rows by metric."""
    return {row["metric"]: row for row in rows}


@pytest.fixture(scope="module")
def overloaded():
    """Separate database at 3 req/s (one replica serves about 2) against four replicas behind a balancer."""
    a = derive(load_preset("separate_database"), {"traffic": {"rate_rps": 3.0}}, "A at 3 req/s")
    return rows_by_metric(compare(a, load_preset("horizontal_load_balancer"), 300, 5))


def test_b_gets_exactly_a_traffic_and_seed_even_when_its_own_traffic_has_more_fields():
    a = load_preset("separate_database")
    b = derive(load_preset("horizontal_load_balancer"),
               {"seed": 42, "traffic": {"rate_rps": None, "users": {"daily_active": 5_000},
                                        "pattern": {"kind": "ramp", "to_multiplier": 4},
                                        "tokens": {"kind": "fixed", "prompt_tokens": 50},
                                        "prompt_keys": {"space": 10}, "client_timeout_s": 5}})
    same = on_same_traffic(a, b)
    assert same.traffic == a.traffic and same.seed == a.seed
    assert same.web == b.web and same.load_balancer == b.load_balancer  # the architecture stays B's


def test_every_ordered_pair_of_presets_compares_or_says_why_not():
    presets = {name: load_preset(name) for name, _ in list_presets()}
    refused = []
    for a_name, a in presets.items():
        for b_name, b in presets.items():
            try:
                rows = rows_by_metric(compare(a, b, 10, 1))
            except NotComparable as exc:
                refused.append((a_name, b_name))
                message = str(exc)
                assert f"{b.name} (B) cannot run on the traffic of {a.name} (A)" in message
                assert "cache: needs traffic.prompt_keys" in message
                continue
            assert on_same_traffic(a, b).traffic == a.traffic
            assert rows["arrivals"]["identical"] and rows["arrivals"]["A"] > 0
    # Only a B with a response cache on an A whose traffic says nothing about which prompts repeat.
    expected = [(a_name, b_name) for a_name, a in presets.items() for b_name, b in presets.items()
                if b.cache is not None and a.traffic.prompt_keys is None]
    assert refused == expected and len(expected) == 5


def test_paired_interval_and_sentence_for_a_cut():
    row = metric_row("latency_p95_s", [10.0, 12.0, 14.0], [6.0, 9.0, 9.0])  # differences -4, -3, -5: sd 1
    half = 4.303 / math.sqrt(3)
    assert row["A"] == 12 and row["B"] == 8 and row["difference"] == -4
    assert row["half"] == pytest.approx(half)
    assert row["relative"] == pytest.approx(-1 / 3)
    assert (row["relative_low"], row["relative_high"]) == pytest.approx(((-4 - half) / 12, (-4 + half) / 12))
    assert sentence(row) == "B cuts p95 latency by 33 % (95 % CI 13 to 54 %), from 12 s to 8 s: better."


def test_sentences_for_a_share_a_neutral_metric_noise_one_seed_and_identical_sides():
    error_rate = metric_row("error_rate", [0.004, 0.005, 0.003], [0.021, 0.020, 0.022])
    assert sentence(error_rate) == ("B raises error rate by 1.7 points (95 % CI 1.2 to 2.2 points), "
                                    "from 0.4 % to 2.1 %: worse.")
    busy = sentence(metric_row("web_utilisation", [0.9, 0.8, 0.85], [0.3, 0.25, 0.2]))
    assert busy.startswith("B cuts web tier utilisation by 60 points") and "better" not in busy and "worse" not in busy
    assert "raises throughput" in sentence(metric_row("throughput_rps", [1, 1.1, 1.2], [2, 2.2, 2.3]))
    assert sentence(metric_row("throughput_rps", [1, 1.1, 1.2], [2, 2.2, 2.3])).endswith(": better.")
    noise = sentence(metric_row("latency_p95_s", [10.0, 12.0, 14.0], [11.0, 11.0, 15.0]))
    assert noise.startswith("No difference we can tell in p95 latency") and "95 % CI −" in noise
    one_seed = sentence(metric_row("latency_p95_s", [2.0], [1.0]))
    assert one_seed.startswith("B cuts p95 latency by 50 %, from 2 s to 1 s: better.")
    assert "no confidence interval" in one_seed and "more seeds" in one_seed
    assert sentence(metric_row("latency_p95_s", [2.0, 3.0], [2.0, 3.0])).startswith("No difference in p95 latency")
    assert sentence(metric_row("ttft_p95_s", [None], [None])) == "Not measured on both sides: p95 time to first token."


def test_a_scenario_against_itself_shows_no_difference_on_every_metric():
    a = load_preset("separate_database")
    rows = compare(a, a, 30, 2)
    assert all(row["identical"] for row in rows if row["n"])
    assert all(sentence(row).startswith("No difference in ") for row in rows if row["n"])


def test_four_replicas_cut_latency_and_errors_of_an_overloaded_single_replica(overloaded):
    p95, errors, cost = overloaded["latency_p95_s"], overloaded["error_rate"], overloaded["usd_per_month"]
    assert overloaded["arrivals"]["identical"]
    assert p95["difference"] + p95["half"] < 0  # the whole interval below 0: a certain cut
    assert sentence(p95).startswith(f"B cuts p95 latency by {round(-p95['relative'] * 100)} % (95 % CI ")
    assert sentence(p95).endswith(": better.")
    assert errors["A"] > 0.1 and errors["B"] == 0
    assert sentence(errors).startswith("B cuts error rate by") and "points" in sentence(errors)
    assert cost["difference"] - cost["half"] > 0 and sentence(cost).startswith("B raises USD per month")
    assert sentence(cost).endswith(": worse.")
    for row in overloaded.values():  # words for people, never the code's names
        assert row["metric"] not in sentence(row)


def test_the_chart_draws_a_and_b_with_intervals_one_subplot_per_metric_in_its_unit(overloaded):
    spec = json.loads(figure(list(overloaded.values())).to_json())
    bars = {(trace["meta"], trace["name"]): trace for trace in spec["data"]}
    p95 = overloaded["latency_p95_s"]
    a_bar, b_bar = bars["latency_p95_s", "A"], bars["latency_p95_s", "B"]
    assert a_bar["type"] == "bar" and a_bar["y"] == [p95["A"]] and b_bar["y"] == [p95["B"]]
    assert a_bar["error_y"]["array"] == [pytest.approx(p95["A_half"])] and a_bar["error_y"]["visible"]
    assert b_bar["error_y"]["array"] == [pytest.approx(p95["B_half"])]
    titles = [annotation["text"] for annotation in spec["layout"]["annotations"]]
    assert {"p95 latency (s)", "error rate (%)", "USD per month ($ per month)"} <= set(titles)
    axis = spec["layout"]["yaxis" + a_bar["yaxis"].removeprefix("y")]
    assert axis["ticksuffix"] == "s"
    errors_axis = spec["layout"]["yaxis" + bars["error_rate", "A"]["yaxis"].removeprefix("y")]
    assert errors_axis["tickformat"].endswith("%")
    money_axis = spec["layout"]["yaxis" + bars["usd_per_month", "A"]["yaxis"].removeprefix("y")]
    assert money_axis["tickformat"].startswith("$")
    assert len({trace["yaxis"] for trace in spec["data"]}) == len(titles)  # no two metrics share a y axis


def test_the_table_has_labels_units_and_formatted_numbers(overloaded):
    table = {row["metric"]: row for row in table_rows(list(overloaded.values()))}
    assert table["p95 latency"]["A"].endswith(" s") and table["p95 latency"]["B − A"].startswith("−")
    assert table["p95 latency"]["95 % CI of B − A"].endswith(" %")
    assert table["error rate"]["B − A"].endswith(" points")
    assert table["requests arrived"]["B − A"] == "none"
    assert table["USD per month"]["A"].startswith("$") and len(table) == len(METRICS)


def test_the_page_says_draws_and_tabulates_a_comparison():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.number_input(key="compare_seconds").set_value(60).run()
    at.number_input(key="compare_replications").set_value(2).run()
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error
    expected = rows_by_metric(compare(load_preset("separate_database"), load_preset("horizontal_load_balancer"), 60, 2))
    said = "\n".join(markdown.value for markdown in at.markdown)
    assert sentence(expected["latency_p95_s"]) in said and "No difference in requests arrived" in said
    assert "latency_p95_s" not in said
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    p95 = [trace for trace in spec["data"] if trace["meta"] == "latency_p95_s"]
    assert [(t["name"], t["y"]) for t in p95] == [("A", [expected["latency_p95_s"]["A"]]),
                                                  ("B", [expected["latency_p95_s"]["B"]])]
    table = at.dataframe[0].value
    arrivals = table[table["metric"] == "requests arrived"].iloc[0]
    assert arrivals["A"] == arrivals["B"] and arrivals["B − A"] == "none"


def test_the_page_names_the_problem_when_b_cannot_run_on_a_traffic():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="pick_B_preset").select("genai_stack").run()
    at.number_input(key="compare_seconds").set_value(10).run()
    at.button(key="compare_run").click().run()
    assert not at.exception
    assert "cannot run on the traffic of Separate database" in at.error[0].value
    assert "traffic.prompt_keys" in at.error[0].value.replace("\\", "")  # (shown escaped: as text, not markup)
    assert not at.get("plotly_chart") and not at.dataframe


def test_a_cut_is_never_said_to_exceed_everything():
    # A wide interval on a figure that cannot go below 0: the cut is at most 100 %, not "19 to 147 %".
    row = metric_row("ttft_p95_s", [6.0, 4.0, 5.5], [0.6, 0.65, 0.62])  # unclamped: 37 to 139 %
    said = sentence(row)
    assert said.startswith("B cuts p95 time to first token by 88 % (95 % CI 37 to 100 %)")


def _every_kind_of_scenario() -> dict:
    """Presets, every lesson's scenario and variant, the documented example, and user scenarios of other shapes."""
    from curriculum.format import LESSONS_DIR, lesson_folders, load_lesson
    from engine import load_scenario, parse_scenario

    scenarios = {name: load_preset(name) for name, _ in list_presets()}
    for folder in lesson_folders():
        lesson = load_lesson(LESSONS_DIR / folder)
        scenarios[folder] = lesson.build_scenario()
        for variant in lesson.variants:
            scenarios[f"{folder}: {variant}"] = lesson.build_scenario(variant)
    scenarios["docs/example.yaml"] = load_scenario(ROOT / "docs" / "example.yaml")
    scenarios["user: closed loop on a self-hosted model"] = parse_scenario(
        {"name": "closed loop", "traffic": {"closed_loop": {"users": 40, "think_time_s": 1}},
         "web": {"db_reads_per_request": 0, "db_writes_per_request": 0},
         "llm": {"kind": "self_hosted", "replicas": 1}}, "user")
    scenarios["user: a trace on a partitioned key-value store behind a token-bucket quota"] = parse_scenario(
        {"name": "trace", "traffic": {"trace": {"speedup": 50, "loop": True}, "prompt_keys": {"space": 500}},
         "database": {"kind": "key_value", "partitions": 4},
         "cache": {"semantic": {"threshold": 0.9}},
         "llm": {"kind": "hosted", "limits": {"tokens_per_minute": 200_000, "requests_per_minute": 600,
                                               "enforcement": "token_bucket"}}}, "user")
    return scenarios


def test_any_two_presets_lesson_scenarios_or_user_scenarios_compare_or_say_why_not():
    # 75 scenarios, 5,625 ordered pairs: B is put on A's traffic through the validated door, then both
    # run a simulated second, or Compare names what B's architecture needs from A's traffic.
    scenarios = _every_kind_of_scenario()
    assert len(scenarios) >= 70
    refused = 0
    for a_name, a in scenarios.items():
        for b_name, b in scenarios.items():
            try:
                same = on_same_traffic(a, b)
            except NotComparable as exc:
                refused += 1
                assert "cannot run on the traffic of" in str(exc) and "needs" in str(exc), (a_name, b_name, str(exc))
                continue
            assert same.traffic == a.traffic and same.seed == a.seed, (a_name, b_name)
            Simulation(same, Budget(max_requests=100_000, max_wall_s=30), history_windows=1).run(0.25)
    # Only a B whose cache needs prompt keys, on an A whose traffic has none, is refused.
    assert refused == sum(1 for a in scenarios.values() for b in scenarios.values()
                          if b.cache is not None and a.traffic.prompt_keys is None)
    assert refused > 0


def test_compare_runs_lesson_and_user_scenarios_side_by_side():
    scenarios = _every_kind_of_scenario()
    pairs = [("15-millions-of-users", "user: a trace on a partitioned key-value store behind a token-bucket quota"),
             ("user: closed loop on a self-hosted model", "09-token-limits"),
             ("docs/example.yaml", "07-semantic-caching")]
    for a_name, b_name in pairs:
        a, b = scenarios[a_name], scenarios[b_name]
        try:
            rows = rows_by_metric(compare(a, b, 5, 2))
        except NotComparable:
            assert b.cache is not None and a.traffic.prompt_keys is None
            continue
        assert rows["arrivals"]["A"] > 0 and rows["arrivals"]["B"] > 0, (a_name, b_name)
        # Open traffic is the same requests on both sides; a closed loop's next request waits for
        # the last answer, so its arrivals follow the architecture.
        assert rows["arrivals"]["identical"] == (a.traffic.closed_loop is None), (a_name, b_name)


def test_the_verdict_counts_better_worse_and_untold_metrics(overloaded):
    said = verdict(list(overloaded.values()))
    # Four replicas against one overloaded one: latency and errors fall, the bill rises.
    assert said.startswith("Verdict: B is better on ") and "p95 latency" in said.split(";")[0]
    assert "worse on" in said and "USD per month" in said.split("worse on")[1].split(";")[0]
    same = verdict([metric_row(m, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) for m in ("latency_p95_s", "error_rate")])
    assert same == "Verdict: no difference we can tell."
    one_seed = verdict([metric_row("latency_p95_s", [1.0], [1.1])])
    assert "one seed cannot tell" in one_seed


def test_a_lesson_step_before_and_after_compare_as_the_lesson_claims():
    # Lesson 4, step 1: one replica at 5.5 req/s, then four. Compare picks both from the lesson.
    at = AppTest.from_string(PAGE, default_timeout=120).run()
    at.selectbox(key="pick_A_source").select("lesson").run()
    at.selectbox(key="pick_A_lesson").select("04-horizontal-scaling/0/open").run()
    at.selectbox(key="pick_B_source").select("lesson").run()
    at.selectbox(key="pick_B_lesson").select("04-horizontal-scaling/0/after").run()
    at.number_input(key="compare_seconds").set_value(120).run()
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error
    rows = at.session_state["compare_result"]["rows"]
    p95 = rows_by_metric(rows)["latency_p95_s"]
    assert p95["relative_high"] < -0.5  # four replicas cut p95 by more than half, on every seed's pair
    said = "\n".join(markdown.value for markdown in at.markdown)
    assert "Verdict: B is better on" in said and "step 1 (after)" in at.subheader[0].value.replace("\\", "")


def test_a_pasted_share_link_is_a_side_and_a_bad_one_is_named():
    scenario = derive(load_preset("horizontal_load_balancer"), {"web": {"replicas": 6}, "name": "Six replicas"}, "six")
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="pick_B_source").select("link").run()
    at.text_input(key="pick_B_link").input(f"https://lab.example/sandbox?s={encode_link(scenario)}").run()
    assert not at.error and not at.button(key="compare_run").disabled
    at.number_input(key="compare_seconds").set_value(20).run()
    at.button(key="compare_run").click().run()
    assert at.session_state["compare_result"]["b"] == "Six replicas"
    at.text_input(key="pick_B_link").input("https://lab.example/sandbox?x=1").run()
    assert "paste a share link" in at.error[0].value.replace("\\", "")
    assert at.button(key="compare_run").disabled
    at.text_input(key="pick_B_link").input("https://lab.example/sandbox?s=eNqrVkrOzy0oSi0u").run()
    assert "share link: 1 problem(s)" in at.error[0].value.replace("\\", "")  # a truncated link, named


def test_the_sandbox_side_says_to_open_the_sandbox_first():
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.selectbox(key="pick_A_source").select("sandbox").run()
    assert "Open the Sandbox first" in at.info[0].value
    assert at.button(key="compare_run").disabled
