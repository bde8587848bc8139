"""Compare: two architectures under exactly the same traffic, and whether the difference is real.

A fair comparison changes one thing. Here architecture B is run with A's traffic and A's seeds, so
both see the very same requests at the very same times (common random numbers): any difference
comes from the architecture. Each replication (seed) gives one pair of runs; the difference B - A
is averaged over the pairs and given a 95 % confidence interval (Student's t over the paired
differences), so a learner can tell a real improvement from noise. The page says it in words, one
sentence per metric, draws each metric's A and B side by side in its own unit, and keeps a table.

The pure part (`compare`, `metric_row`, `sentence`, `table_rows`, `figure`) has no Streamlit in it.
"""

from __future__ import annotations

import math
import statistics

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard.view.figure import show_figure
from dashboard.view.scenario_source import pick_scenario
from dashboard.view.text import as_text
from engine import Budget, BudgetExceeded, ScenarioError, Simulation, derive, scenario_to_data
from engine.labels import LABELS, format_value, label

# What the comparison reports, in this order; arrivals first: equal on both sides, the proof of a fair test.
METRICS = ("arrivals", "completions", "error_rate", "latency_p50_s", "latency_p95_s", "latency_p99_s",
           "ttft_p95_s", "throughput_rps", "usd_per_1k_requests", "usd_per_month", "web_utilisation")
CHART_METRICS = tuple(m for m in METRICS if m not in ("arrivals", "completions"))
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
BUDGET = Budget(max_requests=2_000_000, max_wall_s=20.0)
COLOURS = {"A": "#1f77b4", "B": "#ff7f0e"}
MINUS = "\u2212"


class NotComparable(ValueError):
    """B cannot run on A's traffic (e.g. B's cache needs prompt keys A's traffic does not have)."""


def on_same_traffic(a, b):
    """Return scenario `b` with `a`'s traffic and seed: the same requests, a different architecture.

    Raise NotComparable, naming the problems, when B's architecture cannot take A's traffic.
    """
    try:
        # A's traffic dumped in full names every field, so the merge replaces B's traffic entirely.
        same = derive(b, {"traffic": scenario_to_data(a)["traffic"], "seed": a.seed}, "B on A's traffic")
    except ScenarioError as exc:
        raise NotComparable(f"{b.name} (B) cannot run on the traffic of {a.name} (A): {'; '.join(exc.problems)}. "
                            "Swap A and B, or choose an A whose traffic gives B what it needs.") from None
    if same.traffic != a.traffic:  # a guard for traffic fields a merge could keep from B
        raise NotComparable(f"{b.name} (B) did not get exactly the traffic of {a.name} (A)")
    return same


def _t_half(values: list[float]) -> float | None:
    """Return the half-width of the 95 % confidence interval of the mean of `values` (None with one value)."""
    if len(values) < 2:
        return None
    return T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))


def metric_row(metric: str, a_values: list, b_values: list) -> dict:
    """Summarise one metric over paired runs (A_i, B_i, same seed): means, paired difference and its 95 % CI.

    `half` is the half-width of the CI of the mean difference, None with one pair; `relative*` are the
    difference and its CI bounds as shares of A's mean, None when A's mean is 0.
    """
    pairs = [(x, y) for x, y in zip(a_values, b_values) if x is not None and y is not None]
    entry = LABELS.get(metric)
    row = {"metric": metric, "label": label(metric), "unit": entry.unit if entry else "", "n": len(pairs),
           "A": None, "B": None, "A_half": None, "B_half": None, "difference": None, "half": None,
           "identical": False, "relative": None, "relative_low": None, "relative_high": None}
    if not pairs:
        return row
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    differences = [y - x for x, y in pairs]
    row.update(A=statistics.fmean(a), B=statistics.fmean(b), A_half=_t_half(a), B_half=_t_half(b),
               difference=statistics.fmean(differences), half=_t_half(differences),
               identical=all(x == y for x, y in pairs))
    if row["A"]:
        scale = abs(row["A"])
        row["relative"] = row["difference"] / scale
        if row["half"] is not None:
            row["relative_low"] = (row["difference"] - row["half"]) / scale
            row["relative_high"] = (row["difference"] + row["half"]) / scale
    return row


def compare(a, b, seconds: float, replications: int) -> list[dict]:
    """Run A and B (on A's traffic) `replications` times each with paired seeds; return one row per metric.

    Raise NotComparable when B cannot run on A's traffic.
    """
    b = on_same_traffic(a, b)
    runs = {"A": [], "B": []}
    for offset in range(replications):
        for side, scenario in (("A", a), ("B", b)):
            seeded = derive(scenario, {"seed": a.seed + offset}, f"{side} with seed {a.seed + offset}")
            runs[side].append(Simulation(seeded, BUDGET, history_windows=1).run(seconds))
    return [metric_row(metric, [run[metric] for run in runs["A"]], [run[metric] for run in runs["B"]])
            for metric in METRICS]


# --- words ---------------------------------------------------------------------------------------------------

def _number(x: float) -> str:
    """Write a non-negative figure as a reader wants it: 38, 4.5, 0.62 (two significant digits below 10)."""
    if x >= 9.95:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    decimals = max(1 - math.floor(math.log10(x)), 0)
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _signed(x: float, write) -> str:
    """Write `x` with its sign (+ or −) in front of `write(abs(x))`."""
    return f"{MINUS if x < 0 else '+'}{write(abs(x))}"


def _in_row_terms(row: dict):
    """Return (how a difference is written, unit suffix) for the row: points for shares, % of A, or the unit."""
    if row["unit"] == "share":
        return (lambda d: _number(d * 100)), " points"
    if row["relative"] is not None:
        return (lambda d: _number(d / abs(row["A"]) * 100)), " %"
    return (lambda d: format_value(d, row["unit"])), ""


def sentence(row: dict) -> str:
    """Say in one sentence what B does to the metric compared with A, and whether we can tell."""
    name, unit = row["label"], row["unit"]
    if row["n"] == 0:
        return f"Not measured on both sides: {name}."
    if row["identical"]:
        return f"No difference in {name}: the same on every seed ({format_value(row['A'], unit)})."
    write, suffix = _in_row_terms(row)
    difference, half = row["difference"], row["half"]
    values = f"from {format_value(row['A'], unit)} to {format_value(row['B'], unit)}"
    if half is not None and difference - half <= 0 <= difference + half:
        return (f"No difference we can tell in {name} ({values}; B {MINUS} A, 95 % CI "
                f"{_signed(difference - half, write)} to {_signed(difference + half, write)}{suffix}).")
    verb = "cuts" if difference < 0 else "raises"
    entry = LABELS.get(row["metric"])
    worse = entry.higher_is_worse if entry else None
    verdict = "" if worse is None else (": better" if (difference > 0) != worse else ": worse")
    said = f"B {verb} {name} by {write(abs(difference))}{suffix}"
    if half is None:
        return (f"{said}, {values}{verdict}. One seed gives no confidence interval: run 3 or more seeds "
                "to tell this from noise.")
    low, high = sorted((abs(difference - half), abs(difference + half)))
    if difference < 0 and row["relative"] is not None and unit != "share" and row["A"] > 0:
        high = min(high, abs(row["A"]))  # a figure that cannot go below 0 cannot be cut by more than 100 %
    return f"{said} (95 % CI {write(low)} to {write(high)}{suffix}), {values}{verdict}."


def table_rows(rows: list[dict]) -> list[dict]:
    """Return the comparison as a table of words: label, A, B, change and its 95 % CI, in each metric's unit."""
    table = []
    for row in rows:
        unit = row["unit"]
        change = interval = ""
        if row["n"]:
            write, suffix = _in_row_terms(row)
            change = "none" if row["identical"] else f"{_signed(row['difference'], write)}{suffix}"
            if row["half"] is not None and not row["identical"]:
                d, h = row["difference"], row["half"]
                interval = f"{_signed(d - h, write)} to {_signed(d + h, write)}{suffix}"
        table.append({"metric": row["label"], "A": format_value(row["A"], unit), "B": format_value(row["B"], unit),
                      "B − A": change, "95 % CI of B − A": interval})
    return table


# --- chart ---------------------------------------------------------------------------------------------------

UNIT_NAMES = {"s": "s", "share": "%", "usd": "$", "usd/month": "$ per month", "req/s": "req/s", "/s": "per s",
              "count": "requests", "tokens": "tokens", "replicas": "replicas", "requests": "requests"}


def subplot_title(metric: str) -> str:
    """Return a subplot's title: the metric's label and its unit."""
    unit = LABELS[metric].unit
    return f"{label(metric)} ({UNIT_NAMES[unit]})" if unit in UNIT_NAMES else label(metric)


def _ticks(unit: str, top: float) -> dict:
    """Return y axis settings that write ticks in `unit`: 500ms and 1.5s, 2.5%, $0.12 and $19k."""
    if unit == "s":
        return dict(tickformat="~s", ticksuffix="s")  # SI prefixes: 0.5 -> 500ms
    if unit == "share":
        return dict(tickformat=".2~%")
    if unit in ("usd", "usd/month"):
        return dict(tickformat="$.3~s" if top >= 1000 else "$,.3~g")
    return dict(tickformat="~s" if top >= 1000 else ",.3~g")  # 1.5 req/s, not 1.5 with a milli prefix


def figure(rows: list[dict]) -> go.Figure:
    """Draw each charted metric as A and B bars (means over the seeds) with their 95 % intervals, one subplot each."""
    shown = [row for row in rows if row["metric"] in CHART_METRICS and row["n"]]
    columns = min(len(shown), 3) or 1
    lines = max(math.ceil(len(shown) / columns), 1)
    fig = make_subplots(rows=lines, cols=columns, subplot_titles=[subplot_title(r["metric"]) for r in shown],
                        horizontal_spacing=0.08, vertical_spacing=0.22 / lines + 0.08)
    for index, row in enumerate(shown):
        place = dict(row=index // columns + 1, col=index % columns + 1)
        top = 0.0
        for side in ("A", "B"):
            half = row[f"{side}_half"]
            top = max(top, abs(row[side]) + (half or 0))
            fig.add_trace(go.Bar(
                x=[side], y=[row[side]], name=side, legendgroup=side, showlegend=index == 0, meta=row["metric"],
                marker_color=COLOURS[side],
                error_y=dict(type="data", array=[half or 0], visible=half is not None, color="#333"),
                hovertext=[f"{side}: {format_value(row[side], row['unit'])}"
                           + (f" ± {format_value(half, row['unit'])}" if half is not None else "")],
                hoverinfo="text"), **place)
        fig.update_yaxes(rangemode="tozero", **_ticks(row["unit"], top), **place)
    fig.update_annotations(font_size=13)
    fig.update_layout(height=250 * lines + 70, margin=dict(l=50, r=20, t=50, b=30), bargap=0.3,
                      legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0))
    return fig


# --- page ----------------------------------------------------------------------------------------------------

def verdict(rows: list[dict]) -> str:
    """Say in one line how B fares against A: on how many metrics it is better, worse, or not told apart."""
    better, worse, same = [], [], []
    for row in rows:
        entry = LABELS.get(row["metric"])
        if not row["n"] or entry is None or entry.higher_is_worse is None:
            continue
        difference, half = row["difference"], row["half"]
        if row["identical"] or half is None or difference - half <= 0 <= difference + half:
            same.append(row["label"])
        elif (difference > 0) == entry.higher_is_worse:
            worse.append(row["label"])
        else:
            better.append(row["label"])
    if not better and not worse:
        told = "one seed cannot tell B from A: run 3 or more seeds" if rows and rows[0]["half"] is None \
            and not all(row["identical"] for row in rows if row["n"]) else "no difference we can tell"
        return f"Verdict: {told}."
    parts = []
    if better:
        parts.append(f"B is better on {', '.join(better)}")
    if worse:
        parts.append(f"{'worse' if better else 'B is worse'} on {', '.join(worse)}")
    if same:
        parts.append(f"no difference we can tell on {len(same)} more")
    return "Verdict: " + "; ".join(parts) + "."


def _run(a, b) -> None:
    """Run the comparison of scenarios `a` and `b` and keep its rows (or the reason it cannot be made)."""
    state = st.session_state
    state.pop("compare_result", None)
    try:
        replications = state["compare_replications"]
        state["compare_result"] = {"a": a.name, "b": b.name, "replications": replications,
                                   "rows": compare(a, b, state["compare_seconds"], replications)}
    except NotComparable as exc:
        state["compare_error"] = str(exc)
    except BudgetExceeded as exc:
        state["compare_error"] = f"A run hit its work budget: {exc}. Try fewer simulated seconds."
    except (ScenarioError, ValueError) as exc:
        state["compare_error"] = str(exc)


def render_compare() -> None:
    """Render the compare page."""
    st.title("Compare")
    st.caption("B runs with A's traffic and seeds: both sides see exactly the same requests. Each side can be a "
               "preset, a lesson step, what runs in the Sandbox, a file or a link.")
    left, right = st.columns(2)
    with left:
        a = pick_scenario("A", "separate_database")
    with right:
        b = pick_scenario("B", "horizontal_load_balancer")
    seconds, replications = st.columns(2)
    seconds.number_input("Simulated seconds", 10, 3600, 300, step=10, key="compare_seconds")
    replications.number_input("Replications (seeds)", 1, 10, 3, key="compare_replications",
                              help="Each seed runs A and B once on the same requests; 3 or more give an interval.")
    st.button("Compare", key="compare_run", type="primary", on_click=_run, args=(a, b),
              disabled=a is None or b is None)
    if "compare_error" in st.session_state:
        st.error(as_text(st.session_state.pop("compare_error")))
    result = st.session_state.get("compare_result")
    if not result:
        return
    rows = result["rows"]
    st.subheader(f"A: {as_text(result['a'])} · B: {as_text(result['b'])}")
    st.markdown(f"**{verdict(rows)}**")  # our words: labels from engine/labels.py
    st.markdown("\n".join(f"- {sentence(row)}" for row in rows if row["n"]))
    seeds = result["replications"]
    st.caption(f"Bars: means over {seeds} seeds; error bars: 95 % confidence interval of each mean." if seeds > 1
               else "One seed: no confidence intervals. Use 3 or more seeds to tell a difference from noise.")
    show_figure(figure(rows), "compare_chart")
    st.dataframe(table_rows(rows), hide_index=True, width="stretch")


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_compare()
