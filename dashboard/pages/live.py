"""The live page: run a preset step by step and reshape it while it runs, to watch the queues answer.

Changes act on the running simulation from that instant, so a learner sees the system react (a
queue draining after a scale-out, errors rising with the load) instead of a fresh run. The
simulation lives in this session's state, never in a cache: SimPy cannot be pickled and every
learner needs their own. A fragment advances it on each tick and redraws only the charts.
"""

from __future__ import annotations

import streamlit as st

from dashboard.view.charts import TICK_S, draw_live, play, speed_control
from engine import Budget, ScenarioError, Simulation, list_presets, load_preset
from engine.balancer import ALGORITHMS

DEFAULT_PRESET = "horizontal_load_balancer"
HISTORY_WINDOWS = 300  # windows kept and plotted: bounds memory and the time each redraw takes
# The scenario's own limit: a box narrower than what a scenario may hold would silently show its minimum.
# A tick too heavy for the engine stops at its budget and says so (about 0.3 s of work at 100,000 req/s).
MAX_RATE_RPS = 1e7
# One tick may never freeze the page, whatever rate the learner dials in.
BUDGET = Budget(max_requests=2_000_000, max_wall_s=2.0)
ATTRIBUTION = (
    "Token counts sampled from the Azure LLM inference trace 2023 (Patel et al., Splitwise: Efficient "
    "generative LLM inference using phase splitting, ISCA 2024; github.com/Azure/AzurePublicDataset), CC-BY-4.0."
)

SIM, RUNNING, ERROR, SETTINGS, MARKS = "live_sim", "live_running", "live_error", "live_settings", "live_marks"
PRESET, RATE, REPLICAS, ALGORITHM = "live_preset", "live_rate_rps", "live_web_replicas", "live_lb_algorithm"


@st.cache_data(show_spinner=False)
def _preset_titles() -> dict[str, str]:
    """Return {preset name: title} for every preset, read from disk once per process."""
    return dict(list_presets())


@st.cache_data(show_spinner=False)
def _preset(name: str):
    """Return the validated scenario of preset `name` (a fresh copy on each call)."""
    return load_preset(name)


def _load(name: str) -> None:
    """Build a paused simulation of preset `name` at time 0 and point the controls at its settings."""
    try:
        scenario = _preset(name)
    except ScenarioError as exc:
        st.session_state[ERROR] = str(exc)
        return
    sim = Simulation(scenario, BUDGET, history_windows=HISTORY_WINDOWS)
    st.session_state[SIM] = sim
    st.session_state[RUNNING] = False
    st.session_state[MARKS] = []
    settings = sim.settings()
    st.session_state[SETTINGS] = {
        PRESET: name,
        RATE: float(settings["rate_rps"]),
        REPLICAS: settings["web_replicas"],
        ALGORITHM: settings["load_balancer"],
    }


def _reset() -> None:
    """Start the selected preset again from time 0, paused."""
    _load(st.session_state[PRESET])


def _set_running(running: bool) -> None:
    """Flip the flag that the next full run reads to start or stop the fragment's timer."""
    st.session_state[RUNNING] = running


def _apply(key: str, change) -> None:
    """Apply the control `key`'s new value to the running simulation with `change(sim, value)`."""
    value = st.session_state[key]
    sim = st.session_state[SIM]
    try:
        change(sim, value)
        st.session_state.setdefault(MARKS, []).append((sim.now, f"{key.removeprefix('live_')} = {value}"))
    except ValueError as exc:
        # The settings keep the last value the simulation accepted, so the control snaps back to it.
        st.session_state[ERROR] = str(exc)
        return
    st.session_state[SETTINGS][key] = value


def _set_algorithm(sim: Simulation, algorithm: str | None) -> None:
    """Add a load balancer or switch its algorithm; a running simulation cannot drop its balancer."""
    if algorithm is None:
        raise ValueError("load_balancer: a running simulation keeps its load balancer; "
                         "press Reset to start without one")
    sim.set_load_balancer(algorithm)


def _controls(titles: dict[str, str]) -> None:
    """Draw the preset picker, the run buttons and the live controls; their callbacks do the work."""
    # Widgets forget their value when the page is left, and a refused change must not stick:
    # every full run shows what the simulation actually runs with.
    for key, value in st.session_state[SETTINGS].items():
        st.session_state[key] = value
    st.selectbox("Preset", list(titles), key=PRESET, format_func=titles.get, on_change=_reset)
    st.caption(st.session_state[SIM].scenario.description)
    running = st.session_state[RUNNING]
    start, pause, reset, speed = st.columns(4, vertical_alignment="bottom")
    start.button("Start", key="live_start", type="primary", disabled=running, on_click=_set_running,
                 args=(True,), width="stretch")
    pause.button("Pause", key="live_pause", disabled=not running, on_click=_set_running, args=(False,),
                 width="stretch")
    reset.button("Reset", key="live_reset", on_click=_reset, width="stretch")
    with speed:
        speed_control("live_speed")
    rate, replicas, algorithm = st.columns(3)
    rate.number_input("Arrival rate (req/s)", min_value=0.1, max_value=MAX_RATE_RPS, step=1.0, key=RATE,
                      help="Base rate; a preset's ramp, spike or daily cycle multiplies it.",
                      on_change=_apply, args=(RATE, Simulation.set_arrival_rate))
    replicas.number_input("Web replicas", min_value=1, max_value=1000, step=1, key=REPLICAS,
                          help="More than one needs a load balancer. Removed replicas finish their work, then leave.",
                          on_change=_apply, args=(REPLICAS, Simulation.set_web_replicas))
    algorithm.selectbox("Load-balancing algorithm", ALGORITHMS, key=ALGORITHM, placeholder="none (one replica)",
                        help="Choosing one puts a load balancer in front of the web tier.",
                        on_change=_apply, args=(ALGORITHM, _set_algorithm))


def _live_view() -> None:
    """Advance the simulation one step if it is running, then redraw the charts and numbers."""
    sim: Simulation = st.session_state[SIM]
    play(sim, RUNNING, ERROR, "live_speed")
    draw_live(sim, "live", st.session_state.get(MARKS, []))


def render_live() -> None:
    """Render the live page."""
    st.title("Live simulation")
    try:
        titles = _preset_titles()
    except ScenarioError as exc:
        st.error(str(exc))
        return
    if SIM not in st.session_state:
        _load(DEFAULT_PRESET if DEFAULT_PRESET in titles else next(iter(titles)))
    if SIM not in st.session_state:
        st.error(st.session_state.pop(ERROR))
        return
    _controls(titles)
    if ERROR in st.session_state:
        st.error(st.session_state.pop(ERROR))
    # run_every is read on every full run: the Start and Pause callbacks have already flipped the flag.
    st.fragment(_live_view, run_every=TICK_S if st.session_state[RUNNING] else None)()
    st.caption(ATTRIBUTION)


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_live()
