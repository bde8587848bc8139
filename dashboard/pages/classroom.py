"""The classroom: an instructor opens a room, learners join it with a short code and follow live.

The presenter opens a room with a PIN and then teaches from the Lessons page: the lesson, the step,
the controls, play and pause, failures, everything the presenter's simulation shows is published
to the room (dashboard/classroom/room.py). A learner who joins sees the same lesson, step and charts within a
tick, drawn from what the presenter published: learners never step a simulation of their own, so
every screen in the room shows the same numbers. A learner can leave to experiment with a copy of
the presenter's current setup, and come back with one click.
"""

from __future__ import annotations

import streamlit as st

from dashboard.view.charts import TICK_S, View, draw_view
from dashboard.classroom.room import CODE, NOTICE, TOKEN, presenting, start_presenting, stop_presenting
from dashboard.classroom.shared import shared_store
from dashboard.classroom.store import Follower, StoreRejected, StoreUnavailable, check_code, check_pin

FOLLOW, DETACHED, ERROR = "class_follower", "class_detached", "class_error"


def join_link(code: str) -> str:
    """Return the address learners open to join room `code` (this page's address, with the code)."""
    here = (st.context.url or "").split("?")[0]
    return f"{here}?room={code}" if here else f"?room={code}"


MAX_ROOMS = 5  # rooms one session may open: each takes shared memory until it expires


def _open_room() -> None:
    """Open a room with the PIN typed in, and present it."""
    opened = st.session_state.get("class_rooms_opened", 0)
    if opened >= MAX_ROOMS:
        st.session_state[ERROR] = f"room: {MAX_ROOMS} rooms is the most one session may open"
        return
    try:
        code, token = shared_store().open_room(check_pin(st.session_state.get("class_new_pin") or ""))
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
        return
    st.session_state["class_rooms_opened"] = opened + 1
    start_presenting(code, token)


def _claim_room() -> None:
    """Take over presenting an open room (another tab or process) with its PIN."""
    try:
        code = check_code(st.session_state.get("class_claim_code") or "")
        token = shared_store().claim_room(code, st.session_state.get("class_claim_pin") or "")
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
        return
    start_presenting(code, token)


def _close_room() -> None:
    """Close the room this session presents."""
    try:
        shared_store().close_room(st.session_state[CODE], st.session_state[TOKEN])
    except (StoreRejected, StoreUnavailable) as exc:
        st.session_state[ERROR] = str(exc)
    stop_presenting()


def _join(code: str) -> None:
    """Follow room `code`."""
    try:
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
    from dashboard.pages.lessons import lesson_named, open_at

    state = st.session_state[FOLLOW].state
    try:
        lesson = lesson_named(state.get("lesson"))
    except ValueError as exc:
        st.session_state[ERROR] = f"room: {exc}"
        return
    slug = lesson.slug
    variant = state.get("variant") if state.get("variant") in lesson.variants else None
    step = min(max(int(state.get("step") or 0), 0), len(lesson.steps) - 1)
    settings = state.get("settings") if isinstance(state.get("settings"), dict) else {}
    open_at(slug, step, variant, settings)
    st.session_state[DETACHED] = True


def _follow_view() -> None:
    """Read what the presenter published since the last tick and draw the room's view."""
    from dashboard.pages.lessons import lesson_named

    follower: Follower = st.session_state[FOLLOW]
    try:
        follower.poll()
    except StoreUnavailable as exc:
        st.warning(f"Waiting for the room: {exc}", icon=":material/cloud_off:")
    except StoreRejected as exc:  # the room itself is gone
        st.error(str(exc))
        return
    if follower.refused:
        st.caption("Ignored from the room: " + "; ".join(follower.refused[:3]))
    state = follower.state
    if state is None:
        st.info(f"Joined room {follower.code}. Waiting for the presenter to open a lesson.")
        return
    try:
        lesson = lesson_named(state.get("lesson"))
    except ValueError as exc:
        st.error(f"room {follower.code}: {exc}")
        return
    index = min(max(int(state.get("step", 0)), 0), len(lesson.steps) - 1)
    st.title(lesson.title)
    status = "playing" if state.get("running") else "paused"
    st.caption(f"Room {follower.code}, following the presenter ({status}). Step {index + 1} of {len(lesson.steps)}.")
    st.markdown(lesson.read(lesson.steps[index].text))
    experiment = lesson.steps[index].experiment
    if experiment is not None:
        st.info(f"**Try it.** {experiment.do}\n\n**Watch:** {experiment.watch}\n\n**You should see:** {experiment.see}")
    settings = {k: v for k, v in (state.get("settings") or {}).items() if v not in (None, [])}
    st.caption("Presenter's settings: " + ", ".join(f"{k} = {v}" for k, v in settings.items()))
    marks = [tuple(mark) for mark in state.get("marks") or []]
    draw_view(View(float(state.get("now", 0.0)), follower.windows, state.get("theory_s"), str(state.get("dot", "")),
                   marks), "room")


def _learner() -> None:
    """Draw a learner's room: the followed view, or their own experiment with a way back."""
    follower: Follower = st.session_state[FOLLOW]
    if st.session_state.get(DETACHED):
        st.info(f"You are experimenting on your own; room {follower.code} goes on without you.")
        st.button("Back to the room", key="class_resync", type="primary", width="stretch",
                  on_click=lambda: st.session_state.update({DETACHED: False}))
        from dashboard.pages.lessons import render_lessons

        render_lessons()
        return
    leave, detach = st.columns(2)
    leave.button("Leave the room", key="class_leave", on_click=_leave, width="stretch")
    detach.button("Experiment on my own", key="class_detach", on_click=_detach, width="stretch",
                  disabled=follower.state is None)
    st.fragment(_follow_view, run_every=TICK_S)()


def render_classroom() -> None:
    """Render the classroom: present a room, or join one and follow it."""
    if NOTICE in st.session_state:
        st.warning(st.session_state.pop(NOTICE))
    link = st.query_params.get("room")
    if link and FOLLOW not in st.session_state and not presenting():
        _join(link)
    if ERROR in st.session_state:
        st.error(st.session_state.pop(ERROR))
    if FOLLOW in st.session_state:
        _learner()
        return
    st.title("Classroom")
    code = presenting()
    if code is not None:
        st.success(f"You present room **{code}**. Learners join with this code on the Classroom page, or open "
                   "this link:")
        st.markdown(f"# {code}")
        st.code(join_link(code), language=None)
        st.markdown("Teach from the **Lessons** page: the room follows the lesson, the step, the controls, "
                    "play and pause, and every failure you cause.")
        st.button("Close the room", key="class_close", on_click=_close_room)
        return
    present, join = st.columns(2)
    with present:
        st.subheader("Present")
        st.text_input("Choose a PIN (6 to 12 digits)", type="password", key="class_new_pin", max_chars=12)
        st.button("Open a room", key="class_open", type="primary", on_click=_open_room)
        with st.expander("Present a room that is already open"):
            st.text_input("Room code", key="class_claim_code", max_chars=6)
            st.text_input("PIN", type="password", key="class_claim_pin", max_chars=12)
            st.button("Take control", key="class_claim", on_click=_claim_room)
    with join:
        st.subheader("Join")
        st.text_input("Room code", key="class_join_code", max_chars=6)
        st.button("Join the room", key="class_join", type="primary",
                  on_click=lambda: _join(st.session_state.get("class_join_code") or ""))


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_classroom()
