"""What a team's trace is like, shown before anything runs on it: its rate over time, how bursty it is,
and how long its prompts and answers are (numbers from engine/traces.py, `describe`)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard.view.figure import show_figure


def duration(seconds: float) -> str:
    """Write a trace's length as a person says it: 42 s, 9 min 51 s, 1 h 22 min, 2 d 3 h."""
    seconds = round(seconds)
    for unit, size, smaller, small_size in (("d", 86_400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            return f"{whole} {unit} {rest // small_size} {smaller}"
    return f"{seconds} s"


def burstiness(cv: float | None) -> str:
    """Say in words what a coefficient of variation of the gaps between arrivals means."""
    if cv is None:
        return "no gaps to measure"
    if cv < 0.8:
        return "more regular than random arrivals"
    if cv <= 1.2:
        return "about as random as Poisson arrivals"
    return f"bursty: the gaps vary {cv:.1f} times as much as random arrivals' would"


def trace_figure(shape: dict) -> go.Figure:
    """Draw the rate over time and the two token distributions side by side."""
    # Short titles: a quarter of the page at presenter size holds no more; the caption says what the lines mean.
    fig = make_subplots(rows=1, cols=3, column_widths=[0.5, 0.25, 0.25], horizontal_spacing=0.08,
                        subplot_titles=("Requests per second", "Prompt tokens", "Output tokens"))
    starts = [i * shape["bin_s"] for i in range(len(shape["rate"]))]
    fig.add_trace(go.Scatter(x=starts, y=shape["rate"], mode="lines", line=dict(color="#1f77b4", shape="hv"),
                             name="req/s", hovertemplate="%{x:,.0f} s: %{y:.3~f} req/s<extra></extra>"), row=1, col=1)
    fig.add_hline(y=shape["mean_rps"], line=dict(color="#555", dash="dot"), row=1, col=1)
    for col, name, colour in ((2, "prompt", "#ff7f0e"), (3, "output", "#2ca02c")):
        edges, counts = shape[name]["histogram"]["edges"], shape[name]["histogram"]["counts"]
        middles = [(low * high) ** 0.5 for low, high in zip(edges, edges[1:])]
        widths = [high - low for low, high in zip(edges, edges[1:])]
        fig.add_trace(go.Bar(x=middles, y=counts, width=widths, marker_color=colour, name=name,
                             hovertemplate="about %{x:,.0f} tokens: %{y:,} requests<extra></extra>"), row=1, col=col)
        # Ticks at 1, 10, 100, ... only: the 2s and 5s between them crowd a narrow panel.
        fig.update_xaxes(type="log", dtick=1, title_text="tokens (log scale)", row=1, col=col)
    fig.update_xaxes(title_text="seconds into the trace", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_layout(height=300, showlegend=False, margin=dict(l=50, r=20, t=40, b=50), bargap=0.05)
    fig.update_annotations(font_size=13)
    return fig


def show_trace(shape: dict) -> None:
    """Show a trace's figures in words and its chart."""
    prompt, output = shape["prompt"], shape["output"]
    cv = "not measured" if shape["cv"] is None else f"{shape['cv']:.2f}"
    st.markdown(
        f"**{shape['rows']:,} requests over {duration(shape['duration_s'])}**, "
        f"{shape['mean_rps']:.3g} req/s on average, the busiest {shape['bin_s']:g} s at "
        f"{shape['peak_to_mean']:.2g}x that. Gaps between arrivals: coefficient of variation "
        f"{cv}, {burstiness(shape['cv'])}.  \n"
        f"Prompt tokens: median {prompt['p50']:,.0f}, p95 {prompt['p95']:,.0f}, largest {prompt['max']:,}. "
        f"Output tokens: median {output['p50']:,.0f}, p95 {output['p95']:,.0f}, largest {output['max']:,}.")
    show_figure(trace_figure(shape), "trace_shape")
    st.caption(f"Left: requests per second in {shape['bin_s']:g} s bins, the dotted line their mean "
               f"({shape['mean_rps']:.3g} req/s). Right: how many requests have each prompt and answer length "
               "(log scale).")
