"""Behaviour of the live page: ticks advance and plot the simulation, controls reshape it while it runs."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import Budget, list_presets

PAGE = "from dashboard.pages.live import render_live\nrender_live()\n"


def _app(preset: str | None = None) -> AppTest:
    """Open the app (on `preset` if given) with no exception on the first run."""
    at = AppTest.from_string(PAGE, default_timeout=10).run()
    if preset is not None:
        at.selectbox(key="live_preset").select(preset).run()
    assert not at.exception
    return at


def _whole_app() -> AppTest:
    """Open the whole app (the router, with its sidebar) on the live page."""
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=10).run()
    at.switch_page("dashboard/pages/live.py").run()
    return at


def _started(preset: str | None = None, ticks: int = 0) -> AppTest:
    """Open the app, press Start (itself one tick) and run `ticks` more ticks."""
    at = _app(preset)
    at.button(key="live_start").click().run()
    for _ in range(ticks):
        at.run()
    return at


def _figure(at: AppTest, index: int) -> dict:
    """Return the Plotly JSON of the page's chart number `index`."""
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def _trace(figure: dict, name: str) -> dict:
    """Return the trace called `name` in a Plotly figure."""
    return next(trace for trace in figure["data"] if trace["name"] == name)


def _serving_replicas(at: AppTest) -> int:
    """Return the web replicas of the session's simulation that still take requests."""
    return len([r for r in at.session_state["live_sim"].web.replicas if not r.draining])


def test_the_default_preset_is_the_load_balancer_one_and_starts_paused():
    at = _app()
    assert at.selectbox(key="live_preset").value == "horizontal_load_balancer"
    assert at.session_state["live_sim"].now == 0
    assert at.number_input(key="live_web_replicas").value == 4
    assert at.selectbox(key="live_lb_algorithm").value == "round_robin"
    assert any("Azure LLM inference trace 2023" in c.value and "CC-BY-4.0" in c.value for c in at.caption)


@pytest.mark.parametrize("preset, title", list_presets())
def test_every_preset_renders_and_runs(preset, title):
    at = _started(preset, ticks=2)
    sim = at.session_state["live_sim"]
    assert not at.exception and not at.error
    assert sim.scenario.name == title
    assert sim.now == pytest.approx(3.0)
    assert sim.scenario.description.strip() in [c.value.strip() for c in at.caption]
    assert _figure(at, 0)["data"][0]["x"] == [w["t_end_s"] for w in sim.windows]


def test_each_tick_plots_the_windows_that_closed():
    at = _started()
    sim = at.session_state["live_sim"]
    seen = []
    for _ in range(4):
        latency, throughput = _figure(at, 0), _figure(at, 1)
        x = _trace(latency, "p95")["x"]
        assert x == [w["t_end_s"] for w in sim.windows]
        assert x[-1] == pytest.approx(sim.now)
        assert _trace(latency, "p95")["y"] == [w["latency_p95_s"] for w in sim.windows]
        assert _trace(throughput, "completions")["y"] == [w["throughput_rps"] for w in sim.windows]
        seen.append(len(x))
        at.run()
    assert seen == [1, 2, 3, 4]
    assert not at.exception


def test_metrics_show_the_last_window():
    at = _started(ticks=5)
    last = at.session_state["live_sim"].windows[-1]
    values = {m.label: m.value for m in at.metric}
    assert values["Simulated time"] == "6 s"
    assert values["Throughput"] == f"{last['throughput_rps']:.1f} req/s"
    expected = "–" if last["usd_per_1k_requests"] is None else f"${last['usd_per_1k_requests']:,.3f}"
    assert values["USD per 1,000 requests"] == expected


def test_changing_replicas_reshapes_the_running_simulation_without_restarting_it():
    at = _started(ticks=3)
    sim = at.session_state["live_sim"]
    before_s = sim.now
    at.number_input(key="live_web_replicas").set_value(6).run()
    assert at.session_state["live_sim"] is sim
    assert _serving_replicas(at) == 6
    assert sim.now > before_s
    at.number_input(key="live_web_replicas").set_value(2).run()
    assert _serving_replicas(at) == 2
    assert not at.exception and not at.error


def test_a_higher_arrival_rate_brings_more_arrivals():
    at = _started(ticks=2)
    at.number_input(key="live_rate_rps").set_value(60.0).run()
    for _ in range(5):
        at.run()
    windows = list(at.session_state["live_sim"].windows)
    assert max(w["arrivals"] for w in windows[:3]) < 20
    assert min(w["arrivals"] for w in windows[-5:]) > 30


def test_choosing_an_algorithm_adds_a_balancer_so_replicas_can_grow():
    at = _started("separate_database")
    assert at.session_state["live_sim"].balancer is None
    at.selectbox(key="live_lb_algorithm").select("least_connections").run()
    at.number_input(key="live_web_replicas").set_value(3).run()
    assert at.session_state["live_sim"].balancer.algorithm == "least_connections"
    assert _serving_replicas(at) == 3
    assert not at.error


def test_an_invalid_change_shows_an_error_and_leaves_the_simulation_as_it_was():
    at = _started("single_server", ticks=1)
    at.number_input(key="live_web_replicas").set_value(2).run()
    assert not at.exception
    assert len(at.error) == 1 and "load balancer" in at.error[0].value
    assert _serving_replicas(at) == 1
    assert at.number_input(key="live_web_replicas").value == 1
    at.run()
    assert not at.error


def test_a_paused_page_does_not_advance():
    at = _started(ticks=2)
    at.button(key="live_pause").click().run()
    paused_at_s = at.session_state["live_sim"].now
    x = _figure(at, 0)["data"][0]["x"]
    for _ in range(3):
        at.run()
    assert at.session_state["live_sim"].now == paused_at_s
    assert _figure(at, 0)["data"][0]["x"] == x
    at.button(key="live_start").click().run()
    assert at.session_state["live_sim"].now > paused_at_s


def test_reset_and_a_new_preset_start_again_from_zero_paused():
    at = _started(ticks=2)
    at.number_input(key="live_web_replicas").set_value(6).run()
    at.button(key="live_reset").click().run()
    assert at.session_state["live_sim"].now == 0 and not at.session_state["live_running"]
    assert _serving_replicas(at) == 4 and at.number_input(key="live_web_replicas").value == 4
    at.button(key="live_start").click().run()
    at.selectbox(key="live_preset").select("single_server").run()
    assert at.session_state["live_sim"].scenario.name == "Single server"
    assert at.session_state["live_sim"].now == 0 and not at.session_state["live_running"]
    assert at.number_input(key="live_web_replicas").value == 1
    assert at.selectbox(key="live_lb_algorithm").value is None


def test_a_step_over_budget_pauses_with_a_message(monkeypatch):
    at = _app()
    monkeypatch.setattr("dashboard.pages.live.BUDGET", Budget(max_requests=1, max_wall_s=2.0))
    at.button(key="live_reset").click().run()
    at.button(key="live_start").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "max_requests" in at.error[0].value
    assert not at.session_state["live_running"]
    stopped_at_s = at.session_state["live_sim"].now
    assert 0 < stopped_at_s < 1.0
    at.run()
    assert at.session_state["live_sim"].now == stopped_at_s


def test_the_architecture_diagram_follows_the_running_configuration():
    at = _started()
    assert '"web-3"' in at.get("graphviz_chart")[0].proto.spec
    assert '"web-5"' not in at.get("graphviz_chart")[0].proto.spec
    at.number_input(key="live_web_replicas").set_value(6).run()
    at.run()
    spec = at.get("graphviz_chart")[0].proto.spec
    assert '"web-5"' in spec and "users -> lb;" in spec


def test_a_change_mid_run_is_marked_on_the_charts():
    at = _started(ticks=4)
    sim = at.session_state["live_sim"]
    changed_at = sim.now
    at.number_input(key="live_web_replicas").set_value(6).run()
    at.run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = [shape for shape in figure["layout"].get("shapes", []) if shape.get("type") == "line"]
    assert [line["x0"] for line in lines] == [changed_at]
    assert any("web_replicas = 6" in note["text"] for note in figure["layout"]["annotations"])


def test_presenter_mode_enlarges_type_on_every_page():
    at = _whole_app()
    assert not [element for element in at.get("html") if "font-size" in element.proto.body]
    at.toggle(key="presenter").set_value(True).run()
    styles = [element.proto.body for element in at.get("html")]
    assert any("stMetricValue" in body and "font-size: 3.2rem" in body for body in styles)
    assert not at.exception


def test_presenter_mode_enlarges_the_charts():
    from dashboard.view.charts import PRESENTER_FONT, PRESENTER_HEIGHT

    at = _whole_app()
    at.button(key="live_start").click().run()
    assert _figure(at, 0)["layout"]["height"] == 320 and "font" not in _figure(at, 0)["layout"]
    at.toggle(key="presenter").set_value(True).run()
    for index in range(4):
        layout = _figure(at, index)["layout"]
        assert (layout["height"], layout["font"]["size"]) == (PRESENTER_HEIGHT, PRESENTER_FONT)


def test_a_queue_theory_can_predict_gets_its_prediction_drawn():
    from engine.theory import mmc_wait

    at = _started("mmc_queue", ticks=3)
    latency = _figure(at, 0)
    theory = _trace(latency, "mean, M/M/c theory")
    assert theory["y"] == [pytest.approx(mmc_wait(8, 1, 10) + 1)] * 2
    at.number_input(key="live_rate_rps").set_value(12.0).run()  # 12 Erlangs on 10 workers: no steady state
    at.run()
    assert all(trace["name"] != "mean, M/M/c theory" for trace in _figure(at, 0)["data"])
    horizontal = _started(ticks=1)
    assert all(trace["name"] != "mean, M/M/c theory" for trace in _figure(horizontal, 0)["data"])


def test_utilisation_and_spend_charts_follow_the_windows():
    at = _started(ticks=3)
    sim = at.session_state["live_sim"]
    usage, spend = _figure(at, 2), _figure(at, 3)
    assert _trace(usage, "web busy")["y"] == [w["web_utilisation"] for w in sim.windows]
    assert _trace(usage, "llm busy")["y"] == [w["llm_utilisation"] for w in sim.windows]
    tokens, instances = _trace(spend, "tokens")["y"], _trace(spend, "instances")["y"]
    assert tokens == [w["usd_tokens_cumulative"] for w in sim.windows]
    assert [a + b for a, b in zip(tokens, instances)] == pytest.approx([w["usd_cumulative"] for w in sim.windows])
    assert instances[-1] > instances[0] > 0  # the machines bill by the hour, busy or not


def test_the_strip_shows_usd_per_month_and_the_table_counts_what_has_no_chart():
    from dashboard.view.charts import counts_table, replicas_figure

    at = _started("genai_stack", ticks=6)
    sim = at.session_state["live_sim"]
    strip = {m.label: m.value for m in at.metric}
    assert strip["USD per month"] == f"${sim.windows[-1]['usd_per_month']:,.0f}"
    table = next(m.value for m in at.markdown if "Counts over the charts' time span" in m.value)
    assert f"| requests arrived | {sum(w['arrivals'] for w in sim.windows):,} |" in table
    assert "| p95 time to first token (last window) |" in table
    assert counts_table([]) == [{"count": "requests arrived", "value": "0"},
                                {"count": "requests answered", "value": "0"}]
    fixed = _started("full_stack", ticks=2)
    assert len(fixed.get("plotly_chart")) == 4  # a fleet that does not change gets no replicas chart
    fixed.number_input(key="live_web_replicas").set_value(5).run()
    lines = _figure(fixed, 4)
    windows = fixed.session_state["live_sim"].windows
    assert _trace(lines, "web billed")["y"] == [w["web_replicas"] for w in windows]
    assert _trace(lines, "LLM ready")["y"] == [w["llm_replicas_ready"] for w in windows]
    hosted = {t["name"] for t in replicas_figure(list(sim.windows)).data}
    assert hosted == {"web billed", "web ready"}  # a hosted API has no replicas of ours


def test_the_queue_chart_shows_where_requests_wait_and_grows_under_overload():
    at = _started("mmc_queue", ticks=2)
    queues = _figure(at, 2)
    assert [trace["name"] for trace in queues["data"]] == ["web busy", "web waiting"]  # nothing else here
    at.number_input(key="live_rate_rps").set_value(20.0).run()  # 20 Erlangs on 10 workers
    for _ in range(6):
        at.run()
    sim = at.session_state["live_sim"]
    waiting = _trace(_figure(at, 2), "web waiting")["y"]
    assert waiting == [w["web_queue_length"] for w in sim.windows]
    assert waiting[-1] > waiting[-4] > 5  # the line lengthens by about 10 requests every second
    everything = _figure(_started("full_stack", ticks=1), 2)
    assert {trace["name"] for trace in everything["data"] if trace["name"].endswith("waiting")} == \
        {"web waiting", "db primary waiting", "db replica waiting", "llm waiting"}


def test_a_faster_speed_moves_more_simulated_time_per_tick():
    at = _started(ticks=1)
    assert at.session_state["live_sim"].now == 2  # 2.5x: one simulated second per 0.4 s tick
    at.segmented_control(key="live_speed").set_value("60x").run()
    at.run()
    sim = at.session_state["live_sim"]
    assert sim.now == pytest.approx(2 + 24 + 24)  # the rerun that set it ticked too
    assert [w["t_end_s"] for w in sim.windows][-3:] == [48.0, 49.0, 50.0]  # still one point per window


def test_refused_requests_are_stacked_with_the_other_errors():
    from dashboard.view.charts import throughput_figure

    window = {"t_start_s": 0.0, "t_end_s": 2.0, "dropped": 2, "timed_out": 0, "failed": 4, "rate_limited": 6,
              "throughput_rps": 3.0}
    bars = {trace.name: trace.y[0] for trace in throughput_figure([window]).data if trace.type == "bar"}
    assert bars == {"dropped (503)": 1.0, "timed out": 0.0, "failed": 2.0, "refused (429)": 3.0}
