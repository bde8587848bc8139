"""The classroom: an instructor opens a room, learners join it with a short code and follow live.

The presenter opens a room with a PIN and then teaches from the Lessons page: the lesson, the step,
the controls, play and pause, failures, everything the presenter's simulation shows is published
to the room (dashboard/classroom/room.py). A learner who joins sees the same lesson, step and charts
within a tick, drawn from what the presenter published: learners never step a simulation of their
own, so every screen in the room shows the same numbers. A learner can leave to experiment with a
copy of the presenter's current setup, and come back with one click.

A presenter whose tab reloads or loses its connection takes the room back with its PIN: the room's
run is played again from its changes and goes on where it was, and the learners' view never resets.
"""

from __future__ import annotations

import secrets

import streamlit as st

from dashboard.classroom.room import (CODE, NOTICE, TOKEN, presenting, readable_points, readable_state,
                                      start_presenting, stop_presenting)
from dashboard.classroom.shared import client_id, shared_store
from dashboard.classroom.store import Follower, StoreRejected, StoreUnavailable, check_code, check_pin
from dashboard.view import frame as frames, live_view
from dashboard.view.player import TICK_S
from dashboard.view.prediction import ask
from dashboard.view.links import app_link, qr_png
from dashboard.view.text import as_text

FOLLOW, DETACHED, ERROR = "class_follower", "class_detached", "class_error"
LEARNER = "class_learner"
RECOVERY = "class_recovery"  # (room code, its recovery key): shown to the presenter who opened it, once


def join_link(code: str) -> str:
    """Return the address learners open to join room `code` (this app's classroom page, with the code)."""
    return app_link("classroom", room=code)


def _open_room() -> None:
    """Open a room with the PIN typed in, and present it; its recovery key is shown once."""
    try:
        code, token, recovery = shared_store().open_room(check_pin(st.session_state.get("class_new_pin") or ""),
                                                         client=client_id())
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
        return
    st.session_state[RECOVERY] = (code, recovery)
    start_presenting(code, token)


def claim_room(code: str, pin: str, recovery: str | None = None) -> str | None:
    """Take over presenting an open room with its PIN and resume it where it was; return an error or None.

    The room's lesson, step, version, changes and play state are read from what it last published,
    its run is played again up to the room's time, and publishing goes on in the same run, so the
    learners' charts continue instead of resetting.
    """
    try:
        code = check_code(code)
        token = shared_store().claim_room(code, pin, client=client_id(), recovery=recovery or None)
        follower = Follower(shared_store(), code)
        follower.poll()
    except (StoreRejected, StoreUnavailable) as exc:
        return str(exc)
    state = follower.state
    if not state:
        start_presenting(code, token)
        return None
    from dashboard.pages.lessons import KEY, open_at

    try:
        bar = st.progress(0.0, text="Playing the room's run again up to where it is…")
        resumed = open_at(state.get("lesson"), state, lambda f: bar.progress(min(f, 1.0)))
        bar.empty()
    except (ValueError, TypeError) as exc:
        start_presenting(code, token)
        return f"room {code}: resumed without its run ({exc})"
    if not resumed:  # the step opened afresh: a new run, which learners start drawing anew
        start_presenting(code, token)
        return None
    lesson_player = st.session_state[KEY]
    playback = lesson_player.playback
    points = follower.windows
    lesson_player.seed_points(playback.now.sim, [p["now"] for p in points if isinstance(p.get("now"), dict)])
    if playback.before is not None:
        lesson_player.seed_points(playback.before.sim, [p["before"] for p in points if isinstance(p.get("before"), dict)])
    start_presenting(code, token, run=state.get("run"), sent_t=points[-1]["t_end_s"] if points else float("-inf"))
    return None


def _claim_room() -> None:
    """Take control of the room the form names."""
    error = claim_room(st.session_state.get("class_claim_code") or "", st.session_state.get("class_claim_pin") or "",
                       (st.session_state.get("class_claim_recovery") or "").strip()[:64])
    if error:
        st.session_state[ERROR] = error


def _close_room() -> None:
    """Close the room this session presents."""
    try:
        shared_store().close_room(st.session_state[CODE], st.session_state[TOKEN])
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
    stop_presenting()


def _join(code: str) -> None:
    """Follow room `code` (codes tried are counted per address: a room's code is all a stranger needs)."""
    try:
        shared_store().take("join", client_id(), what="room codes tried from this address")
        follower = Follower(shared_store(), code)
        follower.poll()
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
        st.query_params.pop("room", None)  # a link that failed is not tried again on every rerun
        return
    st.session_state[FOLLOW] = follower
    st.session_state[DETACHED] = False
    st.query_params["room"] = follower.code


def _leave() -> None:
    """Stop following."""
    st.session_state.pop(FOLLOW, None)
    st.session_state.pop(DETACHED, None)
    st.query_params.pop("room", None)


def _detach() -> None:
    """Leave the room's view for a lesson of one's own, set up as the presenter's is now."""
    from dashboard.pages.lessons import open_at

    state = st.session_state[FOLLOW].state
    try:
        open_at(state.get("lesson"), {**state, "running": False}, replay=False)
    except ValueError as exc:
        st.session_state[ERROR] = f"room: {exc}"
        return
    st.session_state[DETACHED] = True


def room_frame(follower: Follower, presenter: bool) -> dict | None:
    """Return the live view's frame drawn from what the room's presenter published (None before anything was).

    Everything is read through dashboard/classroom/room.py's checks: a malformed field is left out
    (and said under the view), never a reason for the page to stop.
    """
    if not follower.state:
        return None
    state = readable_state(follower.state)
    pairs = readable_points(follower.windows)
    now = [pair[0] for pair in pairs]
    before = [pair[1] for pair in pairs if pair[1] is not None]
    try:
        return frames.frame(now, before, span=state["span"], t_s=state["now"], marks=state["marks"],
                            t0=state["since"], theory=state["theory"], diagram=state["diagram"],
                            watched=state["watched"], presenter=presenter)
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        follower.refused.append(f"room {follower.code}: a point could not be drawn ({type(exc).__name__})")
        return None


def _follow_view() -> None:
    """Read what the presenter published since the last tick and draw the room's view."""
    from dashboard.pages.lessons import lesson_named

    follower: Follower = st.session_state[FOLLOW]
    try:
        follower.poll()
    except StoreUnavailable as exc:
        st.warning(f"Waiting for the room: {as_text(exc)}", icon=":material/cloud_off:")
    except StoreRejected as exc:  # the room itself is gone
        st.error(as_text(exc))
        return
    if follower.refused:
        st.caption("Ignored from the room: " + as_text("; ".join(follower.refused[:3])))
    state = follower.state
    if state is None:
        st.info(f"Joined room {follower.code}. Waiting for the presenter to open a lesson.")
        return
    try:
        lesson = lesson_named(state.get("lesson"))
    except ValueError as exc:
        st.error(as_text(f"room {follower.code}: {exc}"))
        return
    step = state.get("step")
    index = min(max(step, 0), len(lesson.steps) - 1) if isinstance(step, int) and not isinstance(step, bool) else 0
    st.title(lesson.title)
    status = "playing" if state.get("running") else "paused"
    st.caption(f"Room {follower.code}, following the presenter ({status}). Step {index + 1} of {len(lesson.steps)}.")
    st.markdown(lesson.read(lesson.steps[index].text))
    experiment = lesson.steps[index].experiment
    if experiment is not None:
        _room_experiment(follower.code, lesson, index)
    frame = room_frame(follower, bool(st.session_state.get("presenter")))
    if frame is not None:
        live_view.draw(frame, key="room_view")


def learner_id() -> str:
    """Return this session's anonymous id in rooms (it counts one prediction per experiment, nothing else)."""
    if LEARNER not in st.session_state:
        st.session_state[LEARNER] = secrets.token_urlsafe(12)
    return st.session_state[LEARNER]


def _send_prediction(code: str, slug: str, index: int, key: str) -> None:
    """Count the learner's prediction in the room's tally (the presenter sees the counts)."""
    choice = st.session_state.get(key)
    if choice is None:
        return
    try:
        shared_store().predict(code, learner_id(), slug, index, int(choice))
    except (StoreUnavailable, StoreRejected) as exc:
        st.session_state[ERROR] = f"Your prediction was not counted: {exc}"


def _room_experiment(code: str, lesson, index: int) -> None:
    """Show the presenter's experiment: predict first (counted in the room's tally), then what to expect."""
    key = f"room_predict_{code}_{lesson.slug}_{index}"
    with st.container(border=True):
        ask(lesson.steps[index].experiment, key, on_change=_send_prediction, args=(code, lesson.slug, index, key))


def _learner() -> None:
    """Draw a learner's room: the followed view, or their own experiment with a way back."""
    follower: Follower = st.session_state[FOLLOW]
    if st.session_state.get(DETACHED):
        st.info(f"You are experimenting on your own; room {follower.code} goes on without you.")
        st.button("Back to the room", key="class_resync", type="primary",
                  on_click=lambda: st.session_state.update({DETACHED: False}))
        from dashboard.pages.lessons import render_lessons

        render_lessons()
        return
    with st.container(horizontal=True):
        st.button("Leave the room", key="class_leave", on_click=_leave)
        st.button("Experiment on my own", key="class_detach", on_click=_detach, disabled=follower.state is None)
    st.fragment(_follow_view, run_every=TICK_S)()


def _presenter(code: str) -> None:
    """Show the room the presenter runs: its code, its join link and QR code, and how to close it."""
    st.success(f"You present room **{code}**. Learners join with this code on the Classroom page, or open "
               "this link, or scan the code:")
    link = join_link(code)
    text, qr = st.columns([3, 2])
    with text:
        st.markdown(f"# {code}")
        st.code(link, language=None, wrap_lines=True)
        st.markdown("Teach from the **Lessons** page: the room follows the lesson, the step, the controls, "
                    "play and pause, and every failure you cause. If this tab reloads, take the room back with "
                    "its code and PIN below the room list: the room goes on where it was.")
        recovery = st.session_state.get(RECOVERY)
        if recovery and recovery[0] == code:
            st.caption("Recovery key: takes the room back without the PIN, even while PIN tries are locked. "
                       "Keep it; it is shown only in this tab.")
            st.code(recovery[1], language=None)
        st.button("Close the room", key="class_close", on_click=_close_room)
    qr.image(qr_png(link), caption="Scan to join", width=260, output_format="PNG")


def render_classroom() -> None:
    """Render the classroom: present a room, or join one and follow it."""
    if NOTICE in st.session_state:
        st.warning(as_text(st.session_state.pop(NOTICE)))
    link = st.query_params.get("room")
    if link and FOLLOW not in st.session_state and not presenting():
        _join(link)
    if ERROR in st.session_state:
        st.error(as_text(st.session_state.pop(ERROR)))
    if FOLLOW in st.session_state:
        _learner()
        return
    st.title("Classroom")
    code = presenting()
    if code is not None:
        _presenter(code)
        return
    present, join = st.columns(2)
    with present:
        st.subheader("Present")
        st.text_input("Choose a PIN (6 to 12 digits)", type="password", key="class_new_pin", max_chars=12)
        st.button("Open a room", key="class_open", type="primary", on_click=_open_room)
        with st.expander("Take back a room you present (after a reload, or from another tab)",
                         expanded=bool(st.query_params.get("present"))):
            if st.query_params.get("present") and "class_claim_code" not in st.session_state:
                st.session_state["class_claim_code"] = str(st.query_params.get("present"))[:6]
            st.text_input("Room code", key="class_claim_code", max_chars=6)
            st.text_input("PIN", type="password", key="class_claim_pin", max_chars=12)
            st.text_input("or its recovery key (if PIN tries are locked)", type="password", key="class_claim_recovery",
                          max_chars=64)
            st.button("Take control and resume", key="class_claim", on_click=_claim_room)
    with join:
        st.subheader("Join")
        st.text_input("Room code", key="class_join_code", max_chars=6)
        st.button("Join the room", key="class_join", type="primary",
                  on_click=lambda: _join(st.session_state.get("class_join_code") or ""))


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_classroom()
