"""The live page as a learner meets it: it opens warm, plays, and shows every change against the run before it."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.view.charts import PRESENTER_FONT
from dashboard.pages.live import WARM_UP_S
from dashboard.view.player import LEAD_S, SPEEDS, TICK_S
from engine import list_presets
from engine.labels import format_value
from tests.live_view import cells, chart, frame, names, nodes, trace

PAGE = "from dashboard.pages.live import render_live\nrender_live()\n"


def _app(preset: str | None = None) -> AppTest:
    """Open the live page (on `preset` if given) with no exception."""
    at = AppTest.from_string(PAGE, default_timeout=30).run()
    if preset is not None:
        at.selectbox(key="live_preset").select(preset).run()
    assert not at.exception, at.exception
    return at


def _started(preset: str | None = None, ticks: int = 0) -> AppTest:
    """Open the page, press Start (itself one tick) and run `ticks` more ticks."""
    at = _app(preset)
    at.button(key="live_start").click().run()
    for _ in range(ticks):
        at.run()
    return at


def _playback(at: AppTest):
    """Return the page's playback."""
    return at.session_state["live"].playback


def _4g(values: list) -> list:
    """Round like the live view's points: four significant digits."""
    return [None if v is None else float(f"{v:.4g}") for v in values]


def _shown(at: AppTest, sim) -> list[dict]:
    """Return the window records the charts show."""
    return [w for w in sim.windows if w["t_end_s"] > at.session_state["live"].shown_from]


def test_the_page_opens_warm_and_paused_on_the_load_balancer_preset():
    at = _app()
    playback = _playback(at)
    assert at.selectbox(key="live_preset").value == "horizontal_load_balancer"
    assert playback.t == WARM_UP_S and not at.session_state["live"].running  # warmed up before the first draw
    assert at.number_input(key="live_web_replicas").value == 4
    view = frame(at)
    assert len(chart(view, "latency")["data"][0]["x"]) == LEAD_S  # the end of the warm-up is drawn
    assert cells(view)["Simulated time"]["value"] == f"{WARM_UP_S:.0f} s"
    assert any("Azure LLM inference trace 2023" in c.value and "CC-BY-4.0" in c.value for c in at.caption)


@pytest.mark.parametrize("preset, title", list_presets())
def test_every_preset_renders_and_plays(preset, title):
    at = _started(preset, ticks=2)
    playback = _playback(at)
    assert not at.exception and not at.error
    assert playback.now.scenario.name == title
    assert playback.t == pytest.approx(WARM_UP_S + 3 * SPEEDS["2.5x"] * TICK_S)
    latency = chart(frame(at), "latency")
    assert trace(latency, "p95")["x"] == [w["t_end_s"] for w in _shown(at, playback.now.sim)]


def test_lines_show_the_chosen_span_with_each_second_faint_behind():
    at = _started(ticks=8)
    sim = _playback(at).now.sim
    shown = _shown(at, sim)
    latency = chart(frame(at), "latency")
    assert trace(latency, "p95")["y"] == _4g([w["rolled"][10.0]["latency_p95_s"] for w in shown])
    raw = trace(latency, "p95, each second")
    assert raw["opacity"] < 0.5 and raw["y"] == _4g([w["latency_p95_s"] for w in shown])
    at.segmented_control(key="live_span").set_value("60").run()
    latency = chart(frame(at), "latency")
    assert trace(latency, "p95")["y"][-1] == _4g([sim.windows[-1]["rolled"][60.0]["latency_p95_s"]])[0]
    at.segmented_control(key="live_span").set_value("1").run()
    assert "p95, each second" not in names(chart(frame(at), "latency"))


def test_the_headline_shows_the_span_compactly():
    at = _started(ticks=4)
    last = _playback(at).now.sim.windows[-1]["rolled"][10.0]
    headline = cells(frame(at))
    assert headline["p95 latency"]["value"] == format_value(float(f"{last['latency_p95_s']:.4g}"), "s")
    assert headline["Throughput"]["value"] == format_value(float(f"{last['throughput_rps']:.4g}"), "req/s")
    assert headline["USD per month"]["value"].startswith("$") and headline["USD per month"]["value"].endswith("/mo")
    assert "before" not in headline["p95 latency"]  # nothing to compare with yet


def test_a_change_keeps_the_chart_and_draws_the_run_before_it_faded_on_the_same_traffic():
    at = _started(ticks=4)
    playback = _playback(at)
    changed_at = playback.t
    at.number_input(key="live_web_replicas").set_value(2).run()
    for _ in range(40):  # 20 simulated seconds at 2.5x: the 10 s span is all after the change
        at.run()
    assert _playback(at) is playback and playback.before is not None  # not restarted
    view = frame(at)
    latency = chart(view, "latency")
    assert trace(latency, "p95")["x"][0] < changed_at  # the history before the change is still drawn
    before = trace(latency, "p95 before")
    assert before["line"]["dash"] == "dash" and before["opacity"] < 1 and before["x"][0] >= changed_at - 1
    assert [s["x0"] for s in latency["layout"]["shapes"]] == [changed_at]
    assert latency["layout"]["annotations"][0]["text"] == "Web replicas = 2"
    now, old = playback.now.sim.windows[-1], playback.before.sim.windows[-1]
    assert now["t_end_s"] == old["t_end_s"] and now["arrivals"] == old["arrivals"]  # identical traffic
    busy = cells(view)
    assert busy["p95 latency"]["before"] and busy["p95 latency"]["delta"].endswith("%")
    tiers = chart(view, "tiers")
    assert trace(tiers, "web tier")["y"][-1] > trace(tiers, "web tier before")["y"][-1]  # two replicas, busier


def test_an_invalid_change_shows_the_message_and_leaves_the_run_as_it_was():
    at = _started("single_server", ticks=1)
    at.number_input(key="live_web_replicas").set_value(2).run()
    assert not at.exception
    assert len(at.error) == 1 and "load balancer" in at.error[0].value
    assert _playback(at).settings()["web_replicas"] == 1 and _playback(at).before is None
    assert at.number_input(key="live_web_replicas").value == 1
    at.run()
    assert not at.error


def test_a_paused_page_does_not_advance():
    at = _started(ticks=2)
    at.button(key="live_pause").click().run()
    paused_at = _playback(at).t
    for _ in range(3):
        at.run()
    assert _playback(at).t == paused_at
    at.button(key="live_start").click().run()
    assert _playback(at).t > paused_at


def test_reset_and_a_new_preset_start_afresh_paused():
    at = _started(ticks=2)
    at.number_input(key="live_web_replicas").set_value(6).run()
    at.button(key="live_reset").click().run()
    playback = _playback(at)
    assert playback.t == WARM_UP_S and playback.before is None and not at.session_state["live"].running
    assert at.number_input(key="live_web_replicas").value == 4
    at.selectbox(key="live_preset").select("single_server").run()
    assert _playback(at).now.scenario.name == "Single server"
    assert at.selectbox(key="live_load_balancer").value is None


def test_a_rate_the_machine_cannot_play_pauses_with_a_message(monkeypatch):
    at = _app()
    monkeypatch.setattr("curriculum.playback.MAX_TICK_REQUESTS", 0)
    at.button(key="live_start").click().run()
    assert not at.exception
    assert any("budget of 0 simulated requests" in e.value for e in at.error)
    assert not at.session_state["live"].running


def test_a_speed_the_engine_cannot_keep_is_said_on_screen():
    at = _started(ticks=1)
    player = at.session_state["live"]
    player.speed = "60x"
    player._pace.clear()
    player._pace.extend([(TICK_S, 2.0 * TICK_S)] * 8)  # 2x measured against 60x chosen
    assert "Running at 2.0x, behind the chosen 60x" in player.notices()[0]
    player._pace.clear()
    player._pace.extend([(TICK_S, 60 * TICK_S)] * 8)
    assert player.notices() == []


def test_a_faster_speed_moves_more_simulated_time_per_tick():
    at = _started()
    start = _playback(at).t
    at.segmented_control(key="live_speed").set_value("60x").run()
    assert _playback(at).t == pytest.approx(start + 60 * TICK_S)  # a tick: the wall time it stands for, times 60


def test_presenter_mode_enlarges_the_charts_and_the_view():
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=30).run()
    at.switch_page("dashboard/pages/live.py").run()
    assert frame(at)["presenter"] is False
    at.toggle(key="presenter").set_value(True).run()
    view = frame(at)
    assert view["presenter"] is True
    for figure in (chart(view, name) for name in ("latency", "throughput", "tiers", "spend")):
        assert figure["layout"]["font"]["size"] >= 20 == PRESENTER_FONT


def test_a_queue_theory_can_predict_gets_its_prediction_drawn():
    from engine.theory import mmc_wait

    at = _started("mmc_queue", ticks=3)
    assert trace(chart(frame(at), "latency"), "mean, M/M/c theory")["y"] == [pytest.approx(mmc_wait(8, 1, 10) + 1)] * 2
    at.number_input(key="live_rate_rps").set_value(12.0).run()  # 12 Erlangs on 10 workers: no steady state
    assert "mean, M/M/c theory" not in names(chart(frame(at), "latency"))


def test_the_knee_chart_draws_erlang_c_and_puts_the_run_where_its_load_is():
    """M/M/10 at 8 req/s and 1 s each: the curve is Erlang C's mean time at every utilisation, the diamond sits
    at the measured load (about 80 %), and the chart goes when the configuration is no longer one theory solves."""
    from engine.theory import mmc_wait

    at = _started("mmc_queue", ticks=12)
    knee = chart(frame(at), "knee")
    curve = trace(knee, "mean latency, M/M/10 theory (Erlang C)")
    middle = len(curve["x"]) // 2
    rho = curve["x"][middle]
    assert curve["y"][middle] == pytest.approx(mmc_wait(10 * rho, 1.0, 10) + 1.0)
    assert curve["y"][0] == pytest.approx(1.0) and curve["y"][-1] > 5  # flat at first, then the knee
    now = trace(knee, "measured, now")
    assert 0.5 < now["x"][0] < 1.1
    at.selectbox(key="live_load_balancer").select("round_robin").run()
    at.number_input(key="live_web_replicas").set_value(2).run()  # two replicas behind a balancer: no longer M/M/c
    assert not at.exception
    assert "knee" not in [c["id"] for c in frame(at)["charts"]]


def test_counts_and_the_replicas_chart_show_what_has_no_chart_of_its_own():
    at = _started("genai_stack", ticks=4)
    view = frame(at)
    rolled = _playback(at).now.sim.windows[-1]["rolled"][10.0]
    rows = {row[0]: row[1:] for row in view["counts"]["rows"]}
    assert rows["requests arrived"] == [format_value(rolled["arrivals"], "count")]
    assert "replicas" not in [c["id"] for c in view["charts"]]  # a fleet that does not change gets no chart
    fixed = _started("full_stack", ticks=1)
    fixed.number_input(key="live_web_replicas").set_value(5).run()
    fixed.run()
    replicas = chart(frame(fixed), "replicas")
    assert trace(replicas, "web billed")["y"][-1] == 5 and "LLM ready" in names(replicas)


def test_the_diagram_follows_the_running_configuration():
    at = _started()
    assert {"web-0", "web-3"} <= set(nodes(frame(at))) and "web-5" not in nodes(frame(at))
    at.number_input(key="live_web_replicas").set_value(6).run()
    diagram = nodes(frame(at))
    assert "web-5" in diagram and diagram["lb"]["lines"] == ["round robin"]
    llm = diagram["llm"]
    assert llm["title"] == "LLM (hosted API)" and "calls in flight" in llm["lines"][0]


def test_the_tiers_chart_draws_wrong_answers_beside_the_hit_rate():
    from dashboard.view.charts import tiers
    from dashboard.view.series import point
    from engine import Simulation, parse_scenario

    def lines(semantic):
        scenario = parse_scenario({
            "traffic": {"rate_rps": 50, "prompt_keys": {"space": 500, "paraphrase_share": 0.3,
                                                        "questions_per_topic": 10}},
            "web": {"db_reads_per_request": 0, "db_writes_per_request": 0, "async_io": True},
            "llm": {"kind": "hosted"},
            "cache": {"capacity_entries": 1000, **({"semantic": {"threshold": 0.8}} if semantic else {})},
        })
        points = [point(record) for record in Simulation(scenario).advance(30)]
        return {t["name"]: t for t in tiers(points, [], "1")["data"]}

    semantic = lines(True)
    hits, wrong = semantic["cache hit rate"]["y"], semantic["wrong-answer rate"]["y"]
    assert max(wrong[10:]) > 0.05 and max(hits[10:]) > 0.2  # two lines, in shares of lookups
    assert "wrong-answer rate" not in lines(False)  # an exact cache never answers wrong


def test_requests_waiting_are_written_as_decimals_not_with_a_micro_prefix():
    # A time-averaged line of a fraction of one request read "800µ" on the waiting axis.
    from dashboard.view.charts import tiers

    assert tiers([], [], "10")["layout"]["yaxis2"]["exponentformat"] == "none"
