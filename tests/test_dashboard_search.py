"""The search page: a target and choices in words become a spec; the search runs beside the page; the winner,
the front and a link to the sandbox come back; bad input is named."""

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.view.scenario_source import decode_link

PAGE = "from dashboard.pages.search import render_search\nrender_search()\n"


pytestmark = pytest.mark.usefixtures("jobs_in_process")  # tests/conftest.py


def finished(at: AppTest) -> AppTest:
    at.session_state["search_job"].wait(120)
    return at.run().run()


def test_a_search_from_the_page_names_the_winner_and_opens_it_in_the_sandbox():
    at = AppTest.from_string(PAGE, default_timeout=120).run()
    at.number_input(key="search_p95").set_value(20.0).run()
    at.text_input(key="search_replicas").input("1, 2, 4").run()
    at.multiselect(key="search_sizes").set_value(["medium"]).run()
    at.button(key="search_run").click().run()
    assert not at.exception and not at.error
    at = finished(at)
    # At 5.5 req/s one medium replica (about 2 req/s) is overloaded, two queue, four keep up.
    said = at.success[0].value.replace("\\", "")
    assert "Cheapest that meets the target on all 3 seeds: Web tier › Replicas: 4; Web tier › Size: medium" in said
    link = at.get("link_button")[0].proto.url
    assert decode_link(link.split("s=", 1)[1]).web.replicas == 4
    assert at.get("plotly_chart") and at.dataframe[0].value.shape[0] >= 1


@pytest.mark.parametrize("box, value, said", [
    ("search_replicas", "two, 4", "Web replicas: 'two' is not allowed: whole numbers such as 4, separated by commas"),
    ("search_replicas", " , ", "Web replicas: give at least one value"),
    ("search_extra", "- a list", "More choices: write one line per field"),
    ("search_extra", "web.nonsense: [1, 2]", "web.nonsense: unknown field"),
])
def test_bad_choices_are_named_and_nothing_runs(box, value, said):
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    if box == "search_extra":
        at.text_area(key=box).input(value).run()
    else:
        at.text_input(key=box).input(value).run()
    at.button(key="search_run").click().run()
    assert said in at.error[0].value.replace("\\", "")
    assert "search_job" not in at.session_state


def test_the_traffic_to_serve_can_be_daily_users_instead_of_the_base_own():
    at = AppTest.from_string(PAGE, default_timeout=120).run()
    at.segmented_control(key="search_traffic").set_value("users").run()
    at.number_input(key="search_users").set_value(20_000).run()  # 10 requests a day each, peak 2x: 4.6 req/s
    at.number_input(key="search_p95").set_value(20.0).run()
    at.text_input(key="search_replicas").input("1, 2, 4").run()
    at.multiselect(key="search_sizes").set_value(["medium"]).run()
    at.button(key="search_run").click().run()
    assert not at.error
    spec = at.session_state["search_spec"]
    assert spec.changes["traffic"]["users"]["daily_active"] == 20_000
    at = finished(at)
    winner = at.session_state["search_job"].result.winner
    assert winner.scenario.traffic.users.daily_active == 20_000 and winner.scenario.traffic.rate_rps is None


@pytest.mark.parametrize("extra, said", [
    ("a: &a [x, x]\nweb.replicas: [*a]", "aliases"),
    ("x: " + "[" * 100 + "]" * 100, "brackets nested 100 deep are not allowed: at most 24"),
    ("web.replicas: [1]\nweb.replicas: [2]", "written twice"),
])
def test_more_choices_go_through_the_scenario_text_door(extra, said):
    at = AppTest.from_string(PAGE, default_timeout=60).run()
    at.text_area(key="search_extra").input(extra).run()
    at.button(key="search_run").click().run()
    assert not at.exception
    assert said in at.error[0].value.replace("\\", ""), at.error[0].value
    assert "search_job" not in at.session_state


def test_at_most_four_jobs_run_at_once_in_one_app_process():
    import threading

    from dashboard.jobs import MAX_JOBS, Busy, Job

    release = threading.Event()
    jobs = []
    with pytest.raises(Busy, match="4 searches or sweeps are running on this app already"):
        for _ in range(MAX_JOBS + 1):  # jobs of earlier tests may still be finishing: fill what is free, then one more
            jobs.append(Job(lambda executor, report, cancel: release.wait(30)))
    assert 1 <= len(jobs) <= MAX_JOBS
    release.set()
    for job in jobs:
        job.wait(10)
    Job(lambda executor, report, cancel: None).wait(10)  # a slot is free again


def test_a_choice_is_drawn_as_text_in_the_chart_never_as_plotly_markup():
    from dashboard.pages.search import figure
    from engine.search import read_spec as read

    spec = read("name: s\nbase: horizontal_load_balancer\nspace: {llm.model: ['<b>x</b>']}\n"
                "rounds: [{seconds: 5, seeds: 3}]\nwarmup_s: 0\n")
    from engine.executors import close, process_pool
    from engine.search import search as run

    executor = process_pool(0)
    try:
        result = run(spec, executor)
    finally:
        close(executor)
    hover = [text for trace in figure(result).data for text in (trace.hovertext or [])]
    assert hover and not any("<" in text for text in hover)


def test_a_search_stopped_before_any_run_finished_says_so_not_that_no_candidate_met_the_target():
    script = """
import threading
from concurrent.futures import ThreadPoolExecutor
from dashboard.pages.search import _show
from engine.search import Cancelled, read_spec, search
spec = read_spec(b"name: t\\nbase: mmc_queue\\nslo: {latency_p95_s: 5, error_rate: 0.01}\\n"
                 b"space: {web.workers: [1, 2]}\\nrounds: [{seconds: 60, seeds: 3}]\\n")
stop = threading.Event()
stop.set()
try:
    search(spec, ThreadPoolExecutor(1), None, stop)
except Cancelled as cancelled:
    _show(cancelled.args[0])
"""
    at = AppTest.from_string(script, default_timeout=60).run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["No run finished before the search stopped: no candidate was measured."]
