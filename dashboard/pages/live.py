"""The live page: run a preset and reshape it while it runs, to watch the queues answer.

Changes act on the running simulation from that instant, and the run as it was goes on beside it,
faded, on the very same traffic: a learner sees the system react (a queue draining after a
scale-out, errors rising with the load) against what would have happened without the change.
"""

from __future__ import annotations

import streamlit as st

from curriculum.playback import Playback
from dashboard.view.controls import draw_controls
from dashboard.view.player import Player, player
from dashboard.view.text import as_text
from engine import ScenarioError, list_presets, load_preset
from engine.controls import CONTROLS

DEFAULT_PRESET = "horizontal_load_balancer"
KEY, PRESET = "live", "live_preset"
WARM_UP_S = 60.0  # the page opens a minute into its run, past the start-up of an empty system
ATTRIBUTION = (
    "Token counts sampled from the Azure LLM inference trace 2023 (Patel et al., Splitwise: Efficient "
    "generative LLM inference using phase splitting, ISCA 2024; github.com/Azure/AzurePublicDataset), CC-BY-4.0."
)


@st.cache_data(show_spinner=False)
def _preset_titles() -> dict[str, str]:
    """Return {preset name: title} for every preset, read from disk once per process."""
    return dict(list_presets())


def _build() -> Playback:
    """Return a fresh playback of the chosen preset."""
    name = st.session_state.get(PRESET) or DEFAULT_PRESET
    scenario = load_preset(name)
    return Playback(scenario, scenario.name)


def _choose_preset() -> None:
    """Start the newly chosen preset from time 0, paused."""
    st.session_state[KEY].request("reset")


def render_live() -> None:
    """Render the live page."""
    st.title("Live simulation")
    try:
        titles = _preset_titles()
    except ScenarioError as exc:
        st.error(as_text(exc))
        return
    st.session_state.setdefault(PRESET, DEFAULT_PRESET if DEFAULT_PRESET in titles else next(iter(titles)))
    live: Player = player(KEY, _build, warm_up_s=WARM_UP_S)
    st.selectbox("Preset", list(titles), key=PRESET, format_func=titles.get, on_change=_choose_preset)
    notes = st.container()  # always drawn: messages come and go inside it, the live view stays put
    live.settle(notes)
    live.show_errors(notes)
    if live.playback is None:
        return
    st.caption(as_text(live.playback.now.scenario.description))
    live.draw_buttons()
    live.draw_view(presenter=bool(st.session_state.get("presenter")), controls=lambda: draw_controls(live, list(CONTROLS)))
    st.caption(ATTRIBUTION)


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_live()
