"""What a learner watches while a simulation runs: the headline numbers, the charts, the diagram.

Every page with a live simulation (the live page, the lessons) draws the same view, so a learner
reads the same charts everywhere: latency percentiles, throughput and errors by kind, where
requests wait in line (which is where the latency comes from), and the architecture coloured by
load. Figures are rebuilt from the bounded window history on each tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go
from plotly.subplots import make_subplots
import streamlit as st

from dashboard.view.diagram import architecture_dot
from engine import BudgetExceeded, Simulation
from engine.metrics import TIERS
from engine.theory import mmc_wait


def theory_mean_latency_s(sim: Simulation) -> float | None:
    """Return the M/M/c mean time in system when the running configuration is one theory predicts, else None.

    That is a single web replica with an unbounded queue and exponential handler times, steady
    Poisson arrivals, nothing behind it, and a load below its capacity: Erlang C's Wq plus 1/mu.
    """
    scenario = sim.scenario
    web, traffic = scenario.web, scenario.traffic
    settings = sim.settings()
    if (scenario.database or scenario.llm or scenario.cache or traffic.trace or traffic.pattern.kind != "steady"
            or web.handler_ms.dist != "exponential" or web.accept_queue is not None or web.async_io
            or settings["web_replicas"] != 1 or settings["down"] or traffic.client_timeout_s is not None):
        return None
    rate, workers, service_rate = settings["rate_rps"], settings["web_workers"], 1 / (web.handler_ms.mean_s() / web.speed())
    if rate >= workers * service_rate:
        return None  # overloaded: the queue grows without bound, there is no steady state to predict
    return mmc_wait(rate, service_rate, workers) + 1 / service_rate


def latency_figure(windows: list[dict], theory_s: float | None = None) -> go.Figure:
    """Plot latency mean and p50/p95/p99 per window, and the theory's mean when there is one."""
    t = [w["t_end_s"] for w in windows]
    figure = go.Figure([go.Scatter(x=t, y=[w[f"latency_{q}_s"] for w in windows], name=q, mode="lines")
                        for q in ("mean", "p50", "p95", "p99")])
    if theory_s is not None and t:
        figure.add_trace(go.Scatter(x=[t[0], t[-1]], y=[theory_s, theory_s], name="mean, M/M/c theory",
                                    mode="lines", line=dict(dash="dash", color="#555")))
    return layout(figure, "Latency of completed requests", "latency (s)")


TIER_COLOURS = {"web": "#1f77b4", "db_primary": "#2ca02c", "db_replica": "#9467bd", "llm": "#d62728"}


def tiers_figure(windows: list[dict]) -> go.Figure:
    """Plot each tier's utilisation (with the cache hit rate) beside how many requests wait at each tier.

    Busy and waiting side by side answer one question, where the time goes: a tier near 100 % busy
    with a line forming in front of it is the bottleneck. One figure for both keeps the browser's
    redraw per tick cheaper than two.
    """
    t = [w["t_end_s"] for w in windows]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Utilisation and cache hits", "Requests waiting in line"),
                           horizontal_spacing=0.1)
    for tier in TIERS:
        if not windows or all(w[f"{tier}_utilisation"] is None for w in windows):
            continue
        name, colour = tier.replace("_", " "), TIER_COLOURS[tier]
        figure.add_trace(go.Scatter(x=t, y=[w[f"{tier}_utilisation"] for w in windows], name=f"{name} busy",
                                    mode="lines", legendgroup=tier, line=dict(color=colour)), row=1, col=1)
        figure.add_trace(go.Scatter(x=t, y=[w[f"{tier}_queue_length"] for w in windows], name=f"{name} waiting",
                                    mode="lines", legendgroup=tier, line=dict(color=colour, dash="dot")),
                         row=1, col=2)
    if windows and any(w["cache_hit_rate"] is not None for w in windows):
        figure.add_trace(go.Scatter(x=t, y=[w["cache_hit_rate"] for w in windows], name="cache hit rate",
                                    mode="lines", line=dict(color="#ff7f0e")), row=1, col=1)
    figure.update_yaxes(range=[0, 1.05], title_text="share", row=1, col=1)
    figure.update_yaxes(rangemode="tozero", title_text="requests waiting", row=1, col=2)
    layout(figure, "", "")
    figure.update_layout(title=None, margin=dict(l=10, r=10, t=30, b=10))
    figure.update_xaxes(title_text="simulated time (s)")
    return figure


def spend_figure(windows: list[dict]) -> go.Figure:
    """Plot the money spent so far, stacked as instances (hourly machines) and tokens, against simulated time."""
    t = [w["t_end_s"] for w in windows]
    tokens = [w["usd_tokens_cumulative"] for w in windows]
    instances = [w["usd_cumulative"] - w["usd_tokens_cumulative"] for w in windows]
    figure = go.Figure([go.Scatter(x=t, y=instances, name="instances", mode="lines", stackgroup="usd"),
                        go.Scatter(x=t, y=tokens, name="tokens", mode="lines", stackgroup="usd")])
    return layout(figure, "Spend so far", "USD")


def replicas_figure(windows: list[dict]) -> go.Figure:
    """Plot the replicas billed and those taking traffic per tier: the gap is replicas still warming up."""
    t = [w["t_end_s"] for w in windows]
    series = {"web billed": "web_replicas", "web ready": "web_replicas_ready",
              "LLM billed": "llm_replicas", "LLM ready": "llm_replicas_ready"}
    figure = go.Figure([go.Scatter(x=t, y=[w[key] for w in windows], name=label, mode="lines",
                                   line=dict(dash="dot" if label.endswith("billed") else "solid", shape="hv"))
                        for label, key in series.items() if windows and any(w[key] is not None for w in windows)])
    figure.update_yaxes(rangemode="tozero")
    return layout(figure, "Replicas", "replicas")


def replicas_move(windows: list[dict]) -> bool:
    """Return whether any tier's replica count changed, or some replicas were still warming, in these windows."""
    keys = ("web_replicas", "web_replicas_ready", "llm_replicas", "llm_replicas_ready")
    return any(len({w[key] for w in windows}) > 1 for key in keys) or any(
        w["web_replicas"] != w["web_replicas_ready"] or w["llm_replicas"] != w["llm_replicas_ready"] for w in windows)


# The counts a learner may be asked about that have no chart of their own, summed over the windows shown.
COUNTS = {
    "arrivals": "requests arrived", "completions": "requests answered", "dropped": "dropped (503)",
    "timed_out": "timed out", "failed": "failed", "rate_limited": "refused (429)",
    "llm_429s": "provider 429s", "llm_retries": "LLM retries", "llm_fallbacks": "fallbacks",
    "cache_hits": "exact cache hits", "semantic_hits": "semantic hits", "false_hits": "wrong answers from the cache",
    "stale_reads": "stale reads", "truncated": "answers cut at the output cap",
}


def counts_table(windows: list[dict]) -> list[dict]:
    """Return the counts over the windows shown (those that happened at all), and the last p95 time to first token."""
    rows = [{"count": label, "value": f"{sum(w[key] for w in windows):,}"} for key, label in COUNTS.items()
            if key in ("arrivals", "completions") or any(w[key] for w in windows)]
    ttft = windows[-1]["ttft_p95_s"] if windows else None
    if ttft is not None:
        rows.append({"count": "p95 time to first token (last window)", "value": f"{ttft:.2f} s"})
    return rows


def throughput_figure(windows: list[dict]) -> go.Figure:
    """Plot completions/s as a line over errors/s stacked by kind, against simulated time."""
    t = [w["t_end_s"] for w in windows]
    spans = [w["t_end_s"] - w["t_start_s"] for w in windows]
    kinds = {"dropped": "dropped (503)", "timed_out": "timed out", "failed": "failed", "rate_limited": "refused (429)"}
    figure = go.Figure([go.Bar(x=t, y=[w[kind] / s for w, s in zip(windows, spans)], name=label)
                        for kind, label in kinds.items()])
    figure.add_trace(go.Scatter(x=t, y=[w["throughput_rps"] for w in windows], name="completions", mode="lines"))
    figure.update_layout(barmode="stack", bargap=0)
    return layout(figure, "Throughput and errors", "requests/s")


def layout(figure: go.Figure, title: str, y_title: str) -> go.Figure:
    """Give a live chart its shared look; a fixed uirevision keeps the learner's zoom across ticks."""
    figure.update_layout(title=title, xaxis_title="simulated time (s)", yaxis_title=y_title, height=320,
                         margin=dict(l=10, r=10, t=40, b=10), uirevision="live",
                         legend=dict(orientation="h", y=-0.25))
    return figure


def for_the_room(figure: go.Figure) -> go.Figure:
    """Enlarge a chart's type and height when presenter mode is on, so the back of a room can read it."""
    if st.session_state.get("presenter"):
        figure.update_layout(font=dict(size=PRESENTER_FONT), height=PRESENTER_HEIGHT, title_font=dict(size=26))
    return figure


def number(value: float | None, template: str) -> str:
    """Format a metric that may be missing (no request completed in the window)."""
    return "–" if value is None else template.format(value)


def mark_changes(figure: go.Figure, marks: list[tuple[float, str]]) -> go.Figure:
    """Draw a dashed vertical line, labelled, at each simulated time the configuration was changed."""
    for t, label in marks:
        figure.add_vline(x=t, line_dash="dash", line_color="#888", annotation_text=label,
                         annotation_position="top left")
    return figure


PRESENTER_FONT, PRESENTER_HEIGHT = 20, 460  # chart type (px) and height (px) in presenter mode
TICK_S = 0.4  # wall seconds between ticks of a playing simulation: 2.5 redraws a second, some margin over 2
# Simulated seconds per tick for each speed, named as multiples of real time. 2.5x is one default
# metrics window per tick, so every tick adds a point; faster speeds add several windows per tick.
SPEEDS = {"1x": TICK_S, "2.5x": 1.0, "10x": 10 * TICK_S, "60x": 60 * TICK_S}
DEFAULT_SPEED = "2.5x"


def speed_control(key: str) -> None:
    """Draw the simulation-speed choice (simulated time per real second)."""
    st.segmented_control("Speed", list(SPEEDS), key=key, default=DEFAULT_SPEED, required=True,
                         help="Simulated time per real second. Faster shows hours in minutes; "
                              "every simulated request is still simulated.")


def play(sim: Simulation, running_key: str, error_key: str, speed_key: str) -> None:
    """Advance `sim` one tick at the page's speed if its `running_key` flag is set; on a budget stop, pause and say why."""
    if st.session_state[running_key]:
        try:
            sim.advance(SPEEDS[st.session_state.get(speed_key) or DEFAULT_SPEED])
        except BudgetExceeded as exc:
            st.session_state[running_key] = False
            st.session_state[error_key] = str(exc)
            st.rerun()  # a full run is what turns the fragment's timer off


@dataclass
class View:
    """Everything the live view draws: enough to draw it again elsewhere (a learner following a room)."""

    now: float
    windows: list[dict]
    theory_s: float | None
    dot: str
    marks: list[tuple[float, str]] = field(default_factory=list)


def view_of(sim: Simulation, marks: list[tuple[float, str]] = ()) -> View:
    """Return the live view of `sim` as it is now."""
    return View(sim.now, list(sim.windows), theory_mean_latency_s(sim), architecture_dot(sim), list(marks))


def draw_live(sim: Simulation, key: str, marks: list[tuple[float, str]] = ()) -> View:
    """Draw the live view of `sim` (see draw_view) and return it; `key` keeps charts apart per page."""
    view = view_of(sim, marks)
    draw_view(view, key)
    return view


def draw_view(view: View, key: str) -> None:
    """Draw the headline strip, the charts and the architecture of a live view.

    Marks are (simulated time, what changed) pairs, shown on the charts that fall in their range.
    """
    windows = view.windows
    last = windows[-1] if windows else {}
    cells = st.columns(6)
    cells[0].metric("Simulated time", f"{view.now:,.0f} s")
    cells[1].metric("p95 latency", number(last.get("latency_p95_s"), "{:.2f} s"))
    cells[2].metric("Throughput", number(last.get("throughput_rps"), "{:.1f} req/s"))
    cells[3].metric("Error rate", number(last.get("error_rate"), "{:.1%}"))
    cells[4].metric("USD per 1,000 requests", number(last.get("usd_per_1k_requests"), "${:,.3f}"))
    cells[5].metric("USD per month", number(last.get("usd_per_month"), "${:,.0f}"),
                    help="The last window's spend rate (tokens and instances) over 30 days.")
    shown = [(t, label) for t, label in view.marks
             if windows and windows[0]["t_start_s"] <= t <= windows[-1]["t_end_s"]]

    def chart(place, figure: go.Figure, name: str) -> None:
        place.plotly_chart(for_the_room(mark_changes(figure, shown)), key=f"{key}_{name}", width="stretch")

    chart(st, latency_figure(windows, view.theory_s), "latency")
    chart(st, throughput_figure(windows), "throughput")
    chart(st, tiers_figure(windows), "tiers")
    spend, replicas = st.columns(2)
    chart(spend, spend_figure(windows), "spend")
    if replicas_move(windows):  # a flat line answers no question, and every chart costs the browser a redraw
        chart(replicas, replicas_figure(windows), "replicas")
    diagram, counts = st.columns([3, 2])
    diagram.graphviz_chart(view.dot, width="stretch")
    counts.markdown("**Counts over the charts' time span**\n\n| | |\n|---|---:|\n" + "\n".join(
        f"| {row['count']} | {row['value']} |" for row in counts_table(windows)))
