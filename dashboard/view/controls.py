"""Live controls: a widget for each control of the engine's registry, acting on the running player.

Every page draws the same widgets from `engine.controls.CONTROLS`: the label and unit in words,
the range from the scenario schema, set to what the simulation runs with now. A change is queued
on the player (dashboard/view/player.py), which applies it from the current simulated time, marks
it on the charts and starts the faded "before" run; a change the simulation refuses shows the
engine's message and the widget snaps back to what really runs.
"""

from __future__ import annotations

import streamlit as st

from dashboard.view.player import Player
from engine.controls import CONTROLS, Control
from engine.labels import ALGORITHM_LABELS

WIDGET_WIDTH = 210  # px: boxes wrap onto a new row instead of being squeezed and cut


def _label(control: Control) -> str:
    """Return the widget's label: the control's name and, where it has one, its unit."""
    return f"{control.label} ({control.unit})" if control.unit and control.unit not in control.label.lower() else \
        control.label


def _changed(player: Player, name: str) -> None:
    """Queue the change the learner made to control `name`."""
    player.request("change", name, st.session_state[f"{player.key}_{name}"])


def show_running(key: str, value) -> None:
    """Set widget `key` to `value` (what the simulation runs) only if it shows something else.

    A refused change or a reset snaps the box back; an unchanged value is left alone, so the
    live view's tick, which draws the controls again, never overwrites what is being typed.
    """
    if key not in st.session_state or st.session_state[key] != value:
        st.session_state[key] = value


def draw_controls(player: Player, names: list[str]) -> None:
    """Draw the controls in `names` that apply to the running simulation, in a row that wraps.

    Call it inside the live view's fragment (Player.draw_view's `controls`).
    """
    sim = player.playback.now.sim
    settings = player.playback.settings()
    shown = [CONTROLS[name] for name in names if CONTROLS[name].applies(sim)]
    # Always one container, even empty: the live view after it keeps its place on the page.
    with st.container(horizontal=True, key=f"{player.key}_controls"):
        for control in shown:
            key = f"{player.key}_{control.name}"
            show_running(key, settings[control.name])
            options = dict(key=key, help=control.help, on_change=_changed, args=(player, control.name))
            if control.kind in ("number", "integer"):
                low, high = control.bounds
                whole = control.kind == "integer"
                if control.low_open:  # a box cannot exclude its minimum: the smallest step above it
                    low = low + control.step if whole else round(low + 0.01, 2)
                st.number_input(_label(control), min_value=int(low) if whole else float(low),
                                max_value=int(high) if whole else float(high),
                                step=int(control.step) if whole else float(control.step),
                                width=WIDGET_WIDTH, **options)
            elif control.kind == "choice":
                st.selectbox(_label(control), control.choices, format_func=lambda v: ALGORITHM_LABELS.get(v, v),
                             placeholder="none (one replica)", width=WIDGET_WIDTH + 40, **options)
            else:  # components
                st.multiselect(_label(control), sim.controls.component_names(), width=WIDGET_WIDTH * 2, **options)
