"""The presenter's side of a room: what the lesson player publishes on every tick while presenting.

The presenter's session steps the one simulation and publishes what the room needs to draw the same
view: the lesson, step and settings, the simulated time, the new metric windows, the diagram and
the change marks. Learners only read (dashboard/classroom.py); nobody else steps a simulation.
"""

from __future__ import annotations

import uuid

import streamlit as st

from dashboard.view.charts import View
from dashboard.classroom.shared import shared_store
from dashboard.classroom.store import StoreRejected, StoreUnavailable

CODE, TOKEN = "room_code", "room_token"  # the room this session presents, and its control token
RUN, SENT, LAST_SIM = "room_run", "room_sent_t", "room_sim_id"
NOTICE = "room_notice"


def presenting() -> str | None:
    """Return the code of the room this session presents, if any."""
    return st.session_state.get(CODE) if st.session_state.get(TOKEN) else None


def start_presenting(code: str, token: str) -> None:
    """Remember that this session controls room `code`."""
    st.session_state.update({CODE: code, TOKEN: token, RUN: None, SENT: float("-inf"), LAST_SIM: None})


def stop_presenting() -> None:
    """Forget the room (the token goes with it)."""
    for key in (CODE, TOKEN, RUN, SENT, LAST_SIM):
        st.session_state.pop(key, None)


def publish(sim, view: View, position: dict) -> None:
    """If this session presents a room, publish the view and the lesson `position` (lesson, step, settings...)."""
    code = presenting()
    if code is None:
        return
    if st.session_state[LAST_SIM] is not sim:  # a new simulation: learners start a new run of windows
        st.session_state[LAST_SIM] = sim
        # Unique, not counted: a presenter who takes over in another tab must not repeat a run id.
        st.session_state[RUN] = uuid.uuid4().hex
        st.session_state[SENT] = float("-inf")
    sent = st.session_state[SENT]
    windows = [w for w in view.windows if w["t_end_s"] > sent]
    state = {**position, "run": st.session_state[RUN], "now": view.now, "theory_s": view.theory_s,
             "dot": view.dot, "marks": view.marks}
    try:
        shared_store().publish(code, st.session_state[TOKEN], state, windows)
    except StoreUnavailable as exc:
        st.caption(f"Room {code}: not sent, {exc}. The lesson goes on here.")
        return
    except StoreRejected as exc:
        stop_presenting()
        st.session_state[NOTICE] = f"You no longer present the room: {exc}"
        return
    if windows:
        st.session_state[SENT] = windows[-1]["t_end_s"]
    st.caption(f":material/cast: Presenting to room **{code}**.")
