"""Capacity planning: how an architecture fares from one user to ten million, and what breaks first.

Sizing starts with a question: at how many daily users does this design stop being good enough,
and which component gives way? The sweep runs the scenario at daily active user counts spaced by
powers of ten (with the scenario's own requests per user and peak factor), and plots p95 latency,
error rate and cost per month against users, one panel each in its own unit over one users axis.
The first component to pass 90 % utilisation is named: that is where to spend next. A sweep's points
run at once on the app's shared executor (dashboard/jobs.py: local worker processes, or a Dask
cluster), beside the page, which shows them as they come back and can cancel the rest. The scenario is
chosen as Compare and Search choose theirs (dashboard/view/scenario_source.py): a preset, a template, a
lesson step, what runs in the sandbox with its live changes, a file or a link.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard.jobs import Busy, Job
from dashboard.view.figure import show_figure
from dashboard.view.scenario_source import pick_scenario
from dashboard.view.text import as_text
from engine import ScenarioError
from engine.attachments import attached
from engine.capacity import SATURATED, USERS, first_saturated, measure
from engine.labels import LABELS, format_metric, format_value, label

STATE = "capacity"


USER_TICKS = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
USER_TICK_TEXT = ["1", "10", "100", "1k", "10k", "100k", "1M", "10M"]


def tier_name(tier: str) -> str:
    """Return a tier's name for people: 'web tier', 'database primary', 'LLM'."""
    return LABELS[f"{tier}_utilisation"].text.removesuffix(" utilisation")


def money_ticks(values: list[float]) -> tuple[list[float], list[float], list[str]]:
    """Return a log axis range and its ticks ($100, $1k, $10k) for dollar `values`: (range in log10, values, labels).

    Powers of ten over a wide span; over a narrow one 2 and 5 (or 1.5, 3, 7) in between, so at
    least two ticks carry a label.
    """
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        return [], [], []
    bottom, top = min(positive) / 1.5, max(positive) * 1.5
    powers = range(math.floor(math.log10(bottom)), math.ceil(math.log10(top)) + 1)
    for steps in ((1,), (1, 2, 5), (1, 1.5, 2, 3, 5, 7)):
        ticks = [step * 10.0 ** power for power in powers for step in steps if bottom <= step * 10.0 ** power <= top]
        if len(ticks) >= 3:
            break
    return [math.log10(bottom), math.log10(top)], ticks, [format_value(t, "usd") for t in ticks]


def _figure(points: list[dict]) -> go.Figure:
    """Plot p95 latency, error rate and USD per month against daily users: three panels, one shared log x axis."""
    measured = [p for p in points if not p["stopped"] and "invalid" not in p]
    users = [p["users"] for p in measured]
    figure = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    for row, (key, metric, colour) in enumerate((("p95_s", "latency_p95_s", "#1f77b4"),
                                                  ("error_rate", "error_rate", "#d62728"),
                                                  ("usd_per_month", "usd_per_month", "#2ca02c")), start=1):
        values = [p[key] for p in measured]
        figure.add_trace(go.Scatter(
            x=users, y=values, name=label(metric), mode="lines+markers", line=dict(color=colour), showlegend=False,
            hovertext=[f"{u:,} daily users: {format_metric(metric, v)}" for u, v in zip(users, values)],
            hoverinfo="text"), row=row, col=1)
    money_range, money, money_text = money_ticks([p["usd_per_month"] for p in measured])
    figure.update_yaxes(title_text="p95 latency (s)", rangemode="tozero", row=1, col=1)
    figure.update_yaxes(title_text="error rate (%)", tickformat=".0%", range=[-0.05, 1.05],
                        tickvals=[0, 0.25, 0.5, 0.75, 1], row=2, col=1)
    figure.update_yaxes(title_text="USD per month ($)", type="log", tickvals=money, ticktext=money_text,
                        range=money_range or None, row=3, col=1)
    figure.update_xaxes(type="log", tickvals=USER_TICKS, ticktext=USER_TICK_TEXT, range=[-0.15, 7.15])
    figure.update_xaxes(title_text="daily active users", row=3, col=1)
    figure.update_layout(title="What more users do", height=620, margin=dict(l=70, r=20, t=50, b=50))
    return figure


def sweep_work(scenario, seconds: float):
    """Return the work of a sweep for a Job: every point submitted at once, kept as it comes back."""
    points: list[dict] = []
    try:  # its uploads (a token trace, a measured similarity curve) travel with the points to the workers
        carried = attached(scenario)
    except ScenarioError:
        carried = {}  # no longer held here: each point says so

    def work(executor, report, cancel):
        futures = [executor.submit(measure, scenario, users, seconds, carried) for users in USERS]
        report({"points": points})
        for future in futures:  # in order of users, so the chart grows from the left
            while not future.done():
                if cancel.is_set():
                    for other in futures:
                        other.cancel()
                    return points
                cancel.wait(0.05)
            if future.cancelled():
                return points
            points.append(future.result())
        return points

    return work


def _start(scenario) -> None:
    """Begin a sweep of `scenario` (the one chosen when the button was drawn) beside the page."""
    seconds = st.session_state["capacity_seconds"]
    sweep = st.session_state.get(STATE)
    if sweep is not None and sweep["job"].running:
        return  # one sweep at a time per session
    try:
        job = Job(sweep_work(scenario, seconds))
    except Busy as exc:
        st.session_state["capacity_error"] = str(exc)
        return
    st.session_state[STATE] = {"scenario": scenario, "seconds": seconds, "job": job}


def _cancel() -> None:
    """Stop the sweep: points not yet measured are dropped."""
    st.session_state[STATE]["job"].cancel.set()


def sweep_points(sweep: dict) -> list[dict]:
    """Return the points measured so far."""
    return list(sweep["job"].progress.get("points", []))


def _sweep() -> None:
    """Draw what the sweep has measured so far; once it ends, draw the page once more (the timer stops)."""
    sweep = st.session_state.get(STATE)
    if not sweep:
        return
    job: Job = sweep["job"]
    points = sweep_points(sweep)
    if not job.running and sweep.get("drawn") is not job:
        sweep["drawn"] = job
        st.rerun(scope="app")
    if job.error is not None:
        st.error(as_text(f"The sweep stopped: {job.error}"))
    st.progress(len(points) / len(USERS), text=f"{len(points)} of {len(USERS)} points on {job.where}")
    skipped = [p for p in points if "invalid" in p]
    if skipped:
        st.caption("Not measured: " + as_text("; ".join(f"{p['users']:,} users ({p['invalid']})" for p in skipped)))
    if points:
        show_figure(_figure(points), "capacity_chart")
        limit = first_saturated(points)
        if limit is None:
            st.success(f"Nothing passes {SATURATED:.0%} utilisation up to {points[-1]['users']:,} daily users.")
        elif limit["stopped"]:
            st.warning(f"At {limit['users']:,} daily users the run hit its work budget: far beyond this design.")
        else:
            st.warning(f"First to saturate: **{tier_name(limit['busiest'])}** "
                       f"({limit['busiest_utilisation']:.0%} busy) at {limit['users']:,} daily users.")


def render_capacity() -> None:
    """Render the capacity page."""
    st.title("Capacity")
    st.caption("Daily active users from 1 to 10 million, with the scenario's requests per user and peak factor.")
    scenario = pick_scenario("Scenario", "horizontal_load_balancer")  # as Compare and Search choose theirs
    st.number_input("Simulated seconds per point", 10, 600, 60, step=10, key="capacity_seconds")
    sweep = st.session_state.get(STATE)
    running = sweep is not None and sweep["job"].running
    start, cancel = st.columns(2)
    start.button("Sweep", key="capacity_start", type="primary", disabled=running or scenario is None, on_click=_start,
                 args=(scenario,), width="stretch")
    cancel.button("Cancel", key="capacity_cancel", disabled=not running, on_click=_cancel, width="stretch")
    if "capacity_error" in st.session_state:
        st.error(as_text(st.session_state.pop("capacity_error")))
    st.fragment(_sweep, run_every=0.2 if running else None)()


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_capacity()
