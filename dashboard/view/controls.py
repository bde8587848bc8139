"""Live controls: the settings a learner changes while a simulation runs, and how each reaches it.

A change acts on the running simulation from that instant (no restart), and is remembered as a
mark at the simulated time it happened, so the charts show the system answering it. A change the
simulation refuses shows the engine's message, and the control snaps back to what really runs.
"""

from __future__ import annotations

import streamlit as st

from engine.controls import apply_control
from engine import Simulation
from engine.balancer import ALGORITHMS


def current(sim: Simulation) -> dict:
    """Return the value of every control as the simulation runs it now (None where it does not apply)."""
    settings = sim.settings()
    rate = settings["rate_rps"]
    return {"rate_rps": None if rate is None else float(rate), "web_replicas": settings["web_replicas"],
            "load_balancer": settings["load_balancer"], "web_workers": settings["web_workers"],
            "db_read_replicas": settings["db_read_replicas"],
            "zipf_skew": (settings["prompt_keys"] or {}).get("zipf_skew"),
            "llm_replicas": settings["llm_replicas"] if sim.scenario.llm and sim.scenario.llm.kind == "self_hosted" else None,
            "down": settings["down"]}


def _changed(control: str, prefix: str, sim_key: str, marks_key: str, error_key: str) -> None:
    """Apply a control the learner moved to the running simulation, and mark when it happened."""
    sim, value = st.session_state[sim_key], st.session_state[f"{prefix}_{control}"]
    try:
        apply_control(sim, control, value)
        st.session_state.setdefault(marks_key, []).append((sim.now, f"{control} = {value}"))
    except ValueError as exc:
        st.session_state[error_key] = str(exc)


def draw_controls(controls: list[str], prefix: str, sim_key: str, marks_key: str, error_key: str) -> None:
    """Draw `controls` in a row, set to what the simulation in `sim_key` runs with now."""
    values = current(st.session_state[sim_key])
    args = dict(on_change=_changed)
    widgets = {
        "rate_rps": lambda key, a: st.number_input("Arrival rate (req/s)", 0.1, 1e7, step=0.5, key=key, **a),
        "web_replicas": lambda key, a: st.number_input("Web replicas", 1, 1000, step=1, key=key, **a),
        "load_balancer": lambda key, a: st.selectbox("Load-balancing algorithm", ALGORITHMS, key=key, **a),
        "web_workers": lambda key, a: st.number_input("Workers per replica", 1, 100_000, step=1, key=key, **a),
        "db_read_replicas": lambda key, a: st.number_input("Database read replicas", 0, 100, step=1, key=key, **a),
        "zipf_skew": lambda key, a: st.slider("Popularity skew", 0.0, 2.0, step=0.1, key=key, **a),
        "llm_replicas": lambda key, a: st.number_input("LLM replicas", 1, 10_000, step=1, key=key, **a),
        "down": lambda key, a: st.multiselect("Components down", st.session_state[sim_key].component_names(),
                                              key=key, help="Take a component down; remove it here to bring it back.",
                                              **a),
    }
    shown = [control for control in controls if values[control] is not None]
    for column, control in zip(st.columns(max(len(shown), 1)), shown):
        key = f"{prefix}_{control}"
        st.session_state[key] = values[control]  # shows what actually runs
        with column:
            widgets[control](key, {**args, "args": (control, prefix, sim_key, marks_key, error_key)})
