"""Compare: two architectures under exactly the same traffic, and whether the difference is real.

A fair comparison changes one thing. Here architecture B is run with A's traffic and A's seeds, so
both see the very same requests at the very same times (common random numbers): any difference
comes from the architecture. With several replications (seeds), the table gives the mean
difference and its 95 % confidence interval, so a learner can tell a real improvement from noise.
"""

from __future__ import annotations

import math
import statistics

import streamlit as st

from engine import Budget, BudgetExceeded, ScenarioError, Simulation, list_presets, load_preset

METRICS = ("arrivals", "completions", "errors", "latency_p50_s", "latency_p95_s", "latency_p99_s",
           "throughput_rps", "usd_total", "usd_per_1k_requests", "web_utilisation")
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
BUDGET = Budget(max_requests=2_000_000, max_wall_s=20.0)


def on_same_traffic(a, b):
    """Return scenario `b` with `a`'s traffic and seed: the same requests, a different architecture."""
    return b.model_copy(update={"traffic": a.traffic, "seed": a.seed})


def compare(a, b, seconds: float, replications: int) -> list[dict]:
    """Run A and B (on A's traffic) `replications` times each with paired seeds; return one row per metric."""
    b = on_same_traffic(a, b)
    runs = {"A": [], "B": []}
    for offset in range(replications):
        for side, scenario in (("A", a), ("B", b)):
            seeded = scenario.model_copy(update={"seed": a.seed + offset})
            runs[side].append(Simulation(seeded, BUDGET, history_windows=1).run(seconds))
    rows = []
    for metric in METRICS:
        pairs = [(x[metric], y[metric]) for x, y in zip(runs["A"], runs["B"])
                 if x[metric] is not None and y[metric] is not None]
        if not pairs:
            rows.append({"metric": metric, "A": None, "B": None, "B - A": None, "95 % CI of B - A": ""})
            continue
        differences = [y - x for x, y in pairs]
        mean_a = statistics.fmean(x for x, _ in pairs)
        row = {"metric": metric, "A": mean_a, "B": statistics.fmean(y for _, y in pairs),
               "B - A": statistics.fmean(differences), "95 % CI of B - A": ""}
        if len(differences) > 1:
            half = T_975.get(len(differences) - 1, 2.0) * statistics.stdev(differences) / math.sqrt(len(differences))
            row["95 % CI of B - A"] = f"{row['B - A'] - half:,.4g} to {row['B - A'] + half:,.4g}"
        rows.append(row)
    return rows


def _run() -> None:
    """Run the comparison the form describes and keep its table."""
    state = st.session_state
    try:
        a, b = load_preset(state["compare_a"]), load_preset(state["compare_b"])
        state["compare_rows"] = compare(a, b, state["compare_seconds"], state["compare_replications"])
    except (ScenarioError, BudgetExceeded, ValueError) as exc:
        state["compare_error"] = str(exc)


def render_compare() -> None:
    """Render the compare page."""
    st.title("Compare")
    st.caption("B runs with A's traffic and seeds: both sides see exactly the same requests.")
    names = [name for name, _ in list_presets()]
    titles = dict(list_presets())
    left, right = st.columns(2)
    left.selectbox("A", names, index=names.index("separate_database"), key="compare_a", format_func=titles.get)
    right.selectbox("B", names, index=names.index("horizontal_load_balancer"), key="compare_b", format_func=titles.get)
    seconds, replications = st.columns(2)
    seconds.number_input("Simulated seconds", 10, 3600, 300, step=10, key="compare_seconds")
    replications.number_input("Replications (seeds)", 1, 10, 3, key="compare_replications")
    st.button("Compare", key="compare_run", type="primary", on_click=_run)
    if "compare_error" in st.session_state:
        st.error(st.session_state.pop("compare_error"))
    if "compare_rows" in st.session_state:
        st.dataframe(st.session_state["compare_rows"], hide_index=True, width="stretch")


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_compare()
