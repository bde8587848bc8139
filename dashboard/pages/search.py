"""Search: the cheapest architecture that meets a latency and error target, found by simulation.

A team says what it must serve (a base architecture and its traffic), how well (the objective) and
which choices it is willing to make (replicas, sizes, async workers, read replicas, a cache...).
The page turns that into a search spec, the same YAML `python -m engine search` reads, and runs it
beside the page on the app's shared executor (dashboard/jobs.py): short runs first, longer ones
for the promising candidates (engine/search.py). The answer is the winner in words, the cost
against p95 latency of every candidate with the Pareto front drawn through the finalists, and a
link that opens the winner in the sandbox.
"""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go
import streamlit as st

from dashboard.jobs import Busy, Job
from dashboard.view.charts import plain
from dashboard.view.figure import show_figure
from dashboard.view.links import app_link
from dashboard.view.scenario_source import encode_link, pick_scenario
from dashboard.view.text import as_text
from engine import ScenarioError
from engine.labels import format_metric, setting_in_words
from engine.loading import read_scenario_text, scenario_to_data, validate_data
from engine.scenario import INSTANCE_SIZES, Scenario
from engine.search import Cancelled, Result, SearchSpec, candidates, cost, search, worst

STATE = "search_job"
EFFORT = {  # rounds of successive halving: (simulated seconds, seeds) each
    "quick": [(30, 1), (90, 3)],
    "thorough": [(60, 1), (180, 2), (300, 3)],
}
ROUND_COLOURS = ["#c7c7c7", "#9ecae1", "#3182bd", "#08519c", "#08306b", "#000000"]


_WHOLE = re.compile(r"^[0-9]{1,9}$")
_NUMBER = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9})?$")


def _numbers(text: str, whole: bool, what: str) -> list:
    """Return the numbers in a comma-separated box, or raise ValueError naming the box and the value."""
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not (_WHOLE if whole else _NUMBER).match(part):  # no 1e9, nan, 1_000 or other digits than 0-9
            raise ValueError(f"{what}: {part[:20]!r} is not allowed: "
                             f"{'whole numbers such as 4' if whole else 'numbers such as 0.9'}, separated by commas")
        values.append(int(part) if whole else float(part))
    if not values:
        raise ValueError(f"{what}: give at least one value, separated by commas")
    return list(dict.fromkeys(values))


def build_spec(base, state: dict) -> SearchSpec:
    """Return the search the form describes, through the spec's validation (ScenarioError or ValueError if not)."""
    space: dict = {}
    if state.get("search_try_replicas"):
        space["web.replicas"] = _numbers(state["search_replicas"], True, "Web replicas")
    if state.get("search_try_size") and state.get("search_sizes"):
        space["web.size"] = list(state["search_sizes"])
    if state.get("search_try_async"):
        space["web.async_io"] = [False, True]
    if state.get("search_try_read_replicas") and base.database is not None:
        space["database.read_replicas"] = _numbers(state["search_read_replicas"], True, "Database read replicas")
    if state.get("search_try_threshold") and base.cache is not None and base.cache.semantic is not None:
        space["cache.semantic.threshold"] = _numbers(state["search_thresholds"], False, "Semantic cache thresholds")
    extra = (state.get("search_extra") or "").strip()
    if extra:
        more = read_scenario_text(extra, "More choices")  # the scenario's text door: size, nesting, no aliases
        if not isinstance(more, dict):
            raise ValueError("More choices: write one line per field, such as `llm.replicas: [1, 2, 4]`")
        space.update(more)
    if not space:
        raise ValueError("Choose at least one thing to try.")
    slo = {"latency_p95_s": state["search_p95"], "error_rate": state["search_errors"] / 100,
           "ttft_p95_s": state["search_ttft"] if state.get("search_use_ttft") else None}
    traffic = state.get("search_traffic", "base")
    changes = {}
    if traffic == "users":
        users = (scenario_to_data(base)["traffic"].get("users") or {})
        changes = {"traffic": {"rate_rps": None, "trace": None, "closed_loop": None,
                               "users": {**users, "daily_active": int(state["search_users"])}}}
    elif traffic == "rate":
        changes = {"traffic": {"rate_rps": float(state["search_rate"]), "users": None, "trace": None,
                               "closed_loop": None}}
    data = {"name": f"cheapest {base.name}"[:120], "scenario": scenario_to_data(base), "changes": changes,
            "slo": slo, "space": space,
            "rounds": [{"seconds": s, "seeds": k} for s, k in EFFORT[state["search_effort"]]],
            "warmup_s": 60.0}
    return validate_data(SearchSpec, data, "search")


def _start(base) -> None:
    """Start the search the form describes beside the page (or say why it cannot start)."""
    state = st.session_state
    if state.get(STATE) is not None and state[STATE].running:
        state["search_error"] = "A search is already running here: cancel it first."
        return
    try:
        spec = build_spec(base, state)
        found, refused = candidates(spec)
        if not found:
            raise ValueError(f"No combination is a valid architecture ({len(refused)} refused). The first: "
                             f"{refused[0] if refused else 'none'}")
    except (ScenarioError, ValueError) as exc:
        state["search_error"] = str(exc)
        return
    try:
        state[STATE] = Job(lambda executor, report, cancel: search(spec, executor, report, cancel))
    except Busy as exc:
        state["search_error"] = str(exc)
        return
    state["search_spec"] = spec


def _cancel() -> None:
    job = st.session_state.get(STATE)
    if job is not None:
        job.cancel.set()


def figure(result: Result) -> go.Figure:
    """Draw every candidate's cost against its worst p95, by how far it got; the front; the winner; the target."""
    fig = go.Figure()
    rounds = len(result.spec.rounds)
    for reached in range(rounds):
        shown = [c for c in result.candidates if c.reached == reached and c.figures()
                 and worst(c.figures(), "latency_p95_s") is not None]
        if not shown:
            continue
        name = "finalists" if reached == rounds - 1 else f"stopped after round {reached + 1}"
        fig.add_trace(go.Scatter(
            x=[cost(c.figures()) for c in shown], y=[worst(c.figures(), "latency_p95_s") for c in shown],
            mode="markers", name=name, marker=dict(size=9, color=ROUND_COLOURS[min(reached, 5)]),
            hovertext=[plain(_choice_text(c.choice)) for c in shown], hoverinfo="text+x+y"))
    front = result.front()
    if front:
        fig.add_trace(go.Scatter(x=[cost(c.figures()) for c in front],
                                 y=[worst(c.figures(), "latency_p95_s") for c in front],
                                 mode="lines", name="Pareto front", line=dict(color="#ff7f0e", shape="hv")))
    if result.winner is not None:
        fig.add_trace(go.Scatter(x=[cost(result.winner.figures())], y=[worst(result.winner.figures(), "latency_p95_s")],
                                 mode="markers", name="cheapest that meets the target",
                                 marker=dict(symbol="star", size=18, color="#d62728")))
    if result.spec.slo.latency_p95_s is not None:
        fig.add_hline(y=result.spec.slo.latency_p95_s, line=dict(color="#d62728", dash="dot"),
                      annotation_text="p95 target", annotation_position="top right")
    fig.update_xaxes(title_text="cost to serve this traffic (USD per month)", tickformat="$,.3~s")
    fig.update_yaxes(title_text="p95 latency, worst seed (s)", rangemode="tozero")
    fig.update_layout(height=420, margin=dict(l=60, r=20, t=30, b=50),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return fig


def _choice_text(choice: dict) -> str:
    """Return a candidate's choices in words: 'Web tier › Replicas: 4; Web tier › Size: medium'."""
    return "; ".join(setting_in_words(Scenario, path, value) for path, value in choice.items())


def _show(result: Result) -> None:
    """Say what the search found, draw it and link the winner."""
    winner = result.winner
    st.caption(f"{len(result.candidates)} candidates ({len(result.refused)} combinations left out as invalid), "
               f"{result.runs} simulated runs.")
    if winner is None and not result.runs:
        st.warning("No run finished before the search stopped: no candidate was measured.")
    elif winner is None:
        st.warning("No candidate met the target on every seed of the last round. Widen the choices or relax "
                   "the target.")
    else:
        runs = winner.figures()
        st.success(as_text(
            f"Cheapest that meets the target on all {len(runs)} seeds: {_choice_text(winner.choice)}. "
            f"{format_metric('usd_per_month', cost(runs))} to serve this traffic (instances "
            f"{format_metric('usd_per_month', cost(runs, 'usd_infra_per_month'))}, tokens "
            f"{format_metric('usd_per_month', cost(runs, 'usd_tokens_per_month'))}); worst seed: p95 "
            f"{format_metric('latency_p95_s', worst(runs, 'latency_p95_s'))}, errors "
            f"{format_metric('error_rate', worst(runs, 'error_rate'))}."), icon=":material/emoji_events:")
        st.link_button("Open the winner in the sandbox", app_link("sandbox", s=encode_link(winner.scenario)))
    show_figure(figure(result), "search_chart")
    st.caption("Each dot is a candidate at the longest run it reached: short runs for all, longer ones and more "
               "seeds for the most promising. The front joins the finalists no cheaper finalist beats on p95.")
    finalists = sorted((c for c in result.candidates if c.reached == len(result.spec.rounds) - 1),
                       key=lambda c: cost(c.figures()))
    st.dataframe([{"choices": _choice_text(c.choice), "USD per month": round(cost(c.figures())),
                   "of which instances": round(cost(c.figures(), "usd_infra_per_month")),
                   "p95 (s), worst seed": round(worst(c.figures(), "latency_p95_s") or math.nan, 2),
                   "error rate, worst seed": worst(c.figures(), "error_rate")} for c in finalists],
                 hide_index=True, width="stretch",  # numbers stay numbers (they sort), shown in their units
                 column_config={"USD per month": st.column_config.NumberColumn(format="dollar"),
                                "of which instances": st.column_config.NumberColumn(format="dollar"),
                                "p95 (s), worst seed": st.column_config.NumberColumn(format="%.2f s"),
                                "error rate, worst seed": st.column_config.NumberColumn(format="percent")})


def _progress() -> None:
    """Show the running search's progress, then its result."""
    job: Job | None = st.session_state.get(STATE)
    if job is None:
        return
    if job.running:
        event = job.progress
        if event:
            stage = "" if event.get("stage", "halving") == "halving" else f", {event['stage']}"
            st.progress(event["done"] / event["total"],
                        text=f"Round {event['round']} of {event['rounds']}{stage}: {event['done']} of {event['total']} "
                             f"runs ({event['alive']} candidates) on {job.where}")
        else:
            st.progress(0.0, text=f"Starting on {job.where}…")
        st.button("Cancel", key="search_cancel", on_click=_cancel)
        return
    if st.session_state.get("search_shown") is not job:
        st.session_state["search_shown"] = job
        st.rerun(scope="app")  # the whole page once more: the timer stops and the result is drawn below
    if isinstance(job.error, Cancelled):
        st.info(f"The search {job.error.args[0].stopped or 'stopped'}. What the finished runs showed:")
        _show(job.error.args[0])
    elif job.error is not None:
        st.error(as_text(f"The search stopped: {job.error}"))
    elif job.result is not None:
        _show(job.result)


def render_search() -> None:
    """Render the search page."""
    st.title("Search")
    st.caption("Find the cheapest architecture that meets a latency and error target on your traffic. The same "
               "search runs from the command line: python -m engine search SPEC.yaml (docs/search.md).")
    base = pick_scenario("Base", "horizontal_load_balancer")
    if base is None:
        return
    st.subheader("Traffic")
    kind, amount = st.columns([2, 1])
    kind.segmented_control("Serve", ["base", "users", "rate"], key="search_traffic", default="base", required=True,
                           format_func={"base": "the base's own traffic", "users": "daily users",
                                        "rate": "a rate"}.get)
    if st.session_state.get("search_traffic") == "users":
        amount.number_input("Daily active users", 1, 10**9, 100_000, step=10_000, key="search_users")
    elif st.session_state.get("search_traffic") == "rate":
        amount.number_input("Requests a second", 0.01, 100_000.0, 10.0, key="search_rate")
    st.subheader("Target")
    p95, errors, ttft = st.columns(3)
    p95.number_input("p95 latency at most (s)", 0.01, 3600.0, 10.0, key="search_p95")
    errors.number_input("Error rate at most (%)", 0.0, 100.0, 1.0, key="search_errors")
    with ttft:
        if st.checkbox("Also the first token", key="search_use_ttft"):
            st.number_input("p95 time to first token at most (s)", 0.01, 3600.0, 2.0, key="search_ttft")
    st.subheader("What to try")
    replicas, sizes = st.columns(2)
    with replicas:
        if st.checkbox("Web replicas", value=True, key="search_try_replicas"):
            st.text_input("Counts to try", "1, 2, 3, 4, 6, 8", key="search_replicas")
    with sizes:
        if st.checkbox("Web instance size", value=True, key="search_try_size"):
            st.multiselect("Sizes to try", list(INSTANCE_SIZES), ["small", "medium", "large"], key="search_sizes")
    more, database = st.columns(2)
    more.checkbox("Async web workers, and not", key="search_try_async")
    with database:
        if base.database is not None and st.checkbox("Database read replicas", key="search_try_read_replicas"):
            st.text_input("Read replicas to try", "0, 1, 2", key="search_read_replicas")
    if base.cache is not None and base.cache.semantic is not None:
        if st.checkbox("Semantic cache threshold", key="search_try_threshold"):
            st.text_input("Thresholds to try", "0.85, 0.9, 0.95", key="search_thresholds")
    with st.expander("More choices (any setting, as YAML)"):
        st.caption("One line per setting: its path and the values to try, e.g. `llm.replicas: [1, 2, 4]` or "
                   "`cache: [null, {ttl_s: 600}]`. Field paths are in docs/scenarios.md.")
        st.text_area("More choices", key="search_extra", height=100, label_visibility="collapsed", max_chars=4000)
    st.segmented_control("Effort", list(EFFORT), default="quick", key="search_effort", required=True,
                         help="Quick: 30 s on one seed for all, then 90 s on 3 seeds for the best third. Thorough: "
                              "60 s, then 180 s on 2 seeds, then 300 s on 3.")
    job: Job | None = st.session_state.get(STATE)
    running = job is not None and job.running
    st.button("Search", key="search_run", type="primary", disabled=running, on_click=_start, args=(base,))
    if "search_error" in st.session_state:
        st.error(as_text(st.session_state.pop("search_error")))
    st.fragment(_progress, run_every=0.5 if running else None)()


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_search()
