"""The presenter's side of a room: what the lesson player publishes on every tick while presenting.

The presenter's session steps the one simulation and publishes what the room needs to draw the same
view: the lesson, step and play state, the run itself (its changes, so a presenter who reloads can
play it again exactly), the marks, the diagram, and the chart points of the windows that closed
since the last tick. Learners only read (dashboard/pages/classroom.py); nobody else steps a simulation.
"""

from __future__ import annotations

import math
import uuid

import streamlit as st

from dashboard.classroom.shared import shared_store
from dashboard.classroom.store import StoreRejected, StoreUnavailable
from dashboard.view.frame import theory_queue
from dashboard.view.text import as_text

CODE, TOKEN = "room_code", "room_token"  # the room this session presents, and its control token
RUN, SENT, LAST_RUN = "room_run", "room_sent_t", "room_playback"
NOTICE = "room_notice"
HISTORY_POINTS = 300  # chart points a learner draws: what the presenter's own charts hold


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


def combine(now: list[dict], before: list[dict] | None, sent: float) -> list[dict]:
    """Return the chart points after `sent`, now and before together, as a room stores them: {t_end_s, now, before}.

    While comparing (`before` given), only points both runs have reached go out: a point sent without
    its "before" would leave a gap in the learners' before line for good.
    """
    if not now:
        return []
    by_time = {p["t_end_s"]: p for p in before or []}
    if before is None:
        until = now[-1]["t_end_s"]
    else:
        until = min(now[-1]["t_end_s"], before[-1]["t_end_s"]) if before else sent
    return [{"t_end_s": p["t_end_s"], "now": p, "before": by_time.get(p["t_end_s"])} for p in now
            if sent < p["t_end_s"] <= until]


def room_points(player, sent: float) -> list[dict]:
    """Return the player's chart points after `sent`, now and before together."""
    playback = player.playback
    before = player.points(playback.before.sim) if playback.before is not None else None
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
             "theory": theory_queue(playback.now.sim)}
    try:
        shared_store().publish(code, st.session_state[TOKEN], state, points)
    except StoreUnavailable as exc:
        st.caption(f"Room {code}: not sent, {as_text(exc)}. The lesson goes on here.")
        return
    except StoreRejected as exc:
        stop_presenting()
        st.session_state[NOTICE] = f"You no longer present the room: {exc}"
        return
    if points:
        st.session_state[SENT] = points[-1]["t_end_s"]
    st.caption(f":material/cast: Presenting to room **{code}**.")



# --- what a learner accepts from a room ------------------------------------------------------------
#
# A room's messages are signed (dashboard/classroom/store.py), so only a presenter of this app writes
# them. A learner still reads them as input: every field is checked for its type and range, and what
# fails is left out, so no message can stop a learner's page or make it draw without bound.

_NODE_STATES = {"idle", "busy", "saturated", "down", "users"}


def _number(value, low: float = -1e15, high: float = 1e15) -> float | None:
    """Return `value` as a finite float within [low, high], or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def _text(value, limit: int = 120) -> str | None:
    """Return `value` if it is a string, cut to `limit` characters, else None."""
    return value[:limit] if isinstance(value, str) else None


def readable_point(point) -> dict | None:
    """Return a chart point as the live view can draw it (spans of METRICS, finite numbers), or None."""
    from dashboard.view.series import METRICS, SPANS

    if not isinstance(point, dict) or _number(point.get("t_end_s"), 0) is None:
        return None
    clean = {"t_end_s": float(point["t_end_s"])}
    for span in SPANS:
        values = point.get(span)
        if isinstance(values, list) and len(values) == len(METRICS):
            clean[span] = [None if v is None else _number(v) for v in values]
    return clean if "1" in clean else None


def readable_points(points: list) -> list[tuple[dict, dict | None]]:
    """Return (now, before) chart points from a room's entries, in order, leaving out what is malformed."""
    pairs = []
    for entry in points[-HISTORY_POINTS:]:
        now = readable_point(entry.get("now")) if isinstance(entry, dict) else None
        if now is not None:
            pairs.append((now, readable_point(entry.get("before"))))
    return pairs


def _node(node) -> dict | None:
    """Return a diagram node with the fields the view reads, checked, or None."""
    if not isinstance(node, dict) or _text(node.get("id"), 60) is None:
        return None
    lines = node.get("lines") if isinstance(node.get("lines"), list) else []
    return {"id": node["id"][:60], "title": _text(node.get("title"), 80) or "", "state":
            node.get("state") if node.get("state") in _NODE_STATES else "idle",
            "bottleneck": node.get("bottleneck") is True,
            "lines": [line[:80] for line in lines[:8] if isinstance(line, str)]}


def readable_diagram(diagram) -> dict | None:
    """Return a room's diagram with its columns of nodes and its edges checked, or None."""
    if not isinstance(diagram, dict) or not isinstance(diagram.get("columns"), list):
        return None
    columns = [[n for n in map(_node, column[:20]) if n] for column in diagram["columns"][:10] if isinstance(column, list)]
    edges = [{"from": e["from"][:60], "to": e["to"][:60], "rps": _number(e.get("rps"), 0) or 0.0,
              "label": _text(e.get("label"), 20) or ""}
             for e in (diagram.get("edges") if isinstance(diagram.get("edges"), list) else [])[:400]
             if isinstance(e, dict) and isinstance(e.get("from"), str) and isinstance(e.get("to"), str)]
    return {"columns": columns, "edges": edges}


def readable_theory(theory) -> dict | None:
    """Return a published M/M/c queue {servers, service_s, rate_rps} if every figure is in range, else None."""
    if not isinstance(theory, dict):
        return None
    servers = theory.get("servers")
    service_s, rate = _number(theory.get("service_s"), 1e-6, 1e6), _number(theory.get("rate_rps"), 0, 1e9)
    if not isinstance(servers, int) or isinstance(servers, bool) or not 1 <= servers <= 10_000 \
            or service_s is None or not service_s > 0 or rate is None:
        return None
    return {"servers": servers, "service_s": service_s, "rate_rps": rate}


def readable_state(state: dict) -> dict:
    """Return the fields of a room's state the live view draws from, each checked (defaults where not)."""
    from curriculum.playback import MAX_MARKS, SPANS, SPEEDS

    now = _number(state.get("now"), 0, 1e9) or 0.0
    since = _number(state.get("since"), 0, now)
    marks = []
    for mark in (state.get("marks") if isinstance(state.get("marks"), list) else [])[-MAX_MARKS:]:
        if isinstance(mark, (list, tuple)) and len(mark) == 2 and _number(mark[0], 0, 1e9) is not None \
                and isinstance(mark[1], str):
            marks.append((float(mark[0]), mark[1][:120]))
    watched = state.get("watched") if isinstance(state.get("watched"), list) else []
    return {"now": now, "since": since, "marks": marks, "theory": readable_theory(state.get("theory")),
            "span": state.get("span") if state.get("span") in SPANS else "10",
            "speed": state.get("speed") if state.get("speed") in SPEEDS else None,
            "watched": tuple(m[:40] for m in watched[:10] if isinstance(m, str)),
            "diagram": readable_diagram(state.get("diagram"))}
