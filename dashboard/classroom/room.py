"""The presenter's side of a room: what the lesson player publishes on every tick while presenting.

The presenter's session steps the one simulation and publishes what the room needs to draw the same
view: the lesson, step and play state, the run itself (its changes, so a presenter who reloads can
play it again exactly), the marks, the diagram, and the chart points of the windows that closed
since the last tick. Learners only read (dashboard/pages/classroom.py); nobody else steps a simulation.
"""

from __future__ import annotations

import uuid

import streamlit as st

from dashboard.classroom.shared import shared_store
from dashboard.classroom.store import StoreRejected, StoreUnavailable
from dashboard.view.frame import theory_mean_latency_s

CODE, TOKEN = "room_code", "room_token"  # the room this session presents, and its control token
RUN, SENT, LAST_RUN = "room_run", "room_sent_t", "room_playback"
NOTICE = "room_notice"


def presenting() -> str | None:
    """Return the code of the room this session presents, if any."""
    return st.session_state.get(CODE) if st.session_state.get(TOKEN) else None


def start_presenting(code: str, token: str, run: str | None = None, sent_t: float = float("-inf")) -> None:
    """Remember that this session controls room `code` (going on with run `run` after `sent_t`, when resuming)."""
    st.session_state.update({CODE: code, TOKEN: token, RUN: run, SENT: sent_t, LAST_RUN: None if run is None else "resume"})


def stop_presenting() -> None:
    """Forget the room (the token goes with it)."""
    for key in (CODE, TOKEN, RUN, SENT, LAST_RUN):
        st.session_state.pop(key, None)


def combine(now: list[dict], before: list[dict], sent: float) -> list[dict]:
    """Return the chart points after `sent`, now and before together, as a room stores them: {t_end_s, now, before}."""
    by_time = {p["t_end_s"]: p for p in before}
    return [{"t_end_s": p["t_end_s"], "now": p, "before": by_time.get(p["t_end_s"])} for p in now if p["t_end_s"] > sent]


def room_points(player, sent: float) -> list[dict]:
    """Return the player's chart points after `sent`, now and before together."""
    playback = player.playback
    before = player.points(playback.before.sim) if playback.before is not None else []
    return combine(player.points(playback.now.sim), before, sent)


def publish(player, frame: dict, position: dict) -> None:
    """If this session presents a room, publish the lesson `position` and the points this tick added."""
    code = presenting()
    if code is None:
        return
    playback = player.playback
    if st.session_state[LAST_RUN] == "resume":  # resumed: the room's run goes on, learners keep their charts
        st.session_state[LAST_RUN] = playback
    elif st.session_state[LAST_RUN] is not playback:  # a new run (a step opened, a reset): learners start afresh
        st.session_state[LAST_RUN] = playback
        st.session_state[RUN] = uuid.uuid4().hex  # unique: a presenter taking over must not repeat one
        st.session_state[SENT] = float("-inf")
    points = room_points(player, st.session_state[SENT])
    state = {**position, "run": st.session_state[RUN], "now": playback.t, "marks": playback.marks,
             "since": playback.since, "diagram": frame.get("diagram"),
             "theory_s": theory_mean_latency_s(playback.now.sim)}
    try:
        shared_store().publish(code, st.session_state[TOKEN], state, points)
    except StoreUnavailable as exc:
        st.caption(f"Room {code}: not sent, {exc}. The lesson goes on here.")
        return
    except StoreRejected as exc:
        stop_presenting()
        st.session_state[NOTICE] = f"You no longer present the room: {exc}"
        return
    if points:
        st.session_state[SENT] = points[-1]["t_end_s"]
    st.caption(f":material/cast: Presenting to room **{code}**.")

