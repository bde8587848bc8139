"""A frame: everything the live view shows at one moment, as data, built from points.

The headline numbers over the chosen span (with "before → now" while a comparison runs), the
charts, the architecture diagram and the counts. The lesson player builds a frame on every tick
from its playback; a learner following a room builds the same frame from the points the presenter
published; the tests and the screenshots of every lesson step build it without Streamlit.
"""

from __future__ import annotations

import hashlib
import json
import math

from dashboard.view import charts
from dashboard.view.diagram import diagram, topology
from dashboard.view.series import COUNTED, FALLBACK, SPAN_LABELS, series_label, shown_as, value
from engine import Simulation
from engine.labels import change_percent, format_value
from engine.theory import mmc_wait

HEADLINE = ("latency_p95_s", "throughput_rps", "error_rate", "usd_per_month", "usd_per_1k_requests")
SIMULATED_TIME = "Simulated time"


def theory_queue(sim: Simulation) -> dict | None:
    """Return the M/M/c queue the running configuration is, when it is one theory predicts, else None.

    That is a single web replica with an unbounded queue and exponential handler times, steady
    Poisson arrivals, nothing behind it and patient clients: {"servers": c, "service_s": the mean
    handler time, "rate_rps": the arrival rate}. A CPU-bound handler's servers are the cores it runs on.
    """
    scenario = sim.scenario
    web, traffic = scenario.web, scenario.traffic
    settings = sim.controls.settings()
    if (scenario.database or scenario.llm or scenario.cache or traffic.trace or traffic.pattern.kind != "steady"
            or traffic.closed_loop or web.handler_ms.dist != "exponential" or web.accept_queue is not None
            or web.async_io or settings["web_replicas"] != 1 or settings["down"] or traffic.client_timeout_s is not None):
        return None
    return {"servers": min(settings["web_workers"], web.cores_per_replica()),
            "service_s": web.handler_ms.mean_s() / web.speed(), "rate_rps": settings["rate_rps"]}


def theory_mean_latency_s(theory: dict | None) -> float | None:
    """Return the M/M/c mean time in system, Erlang C's Wq plus the service time (None if overloaded or no theory)."""
    if theory is None:
        return None
    servers, service_rate = theory["servers"], 1 / theory["service_s"]
    if theory["rate_rps"] >= servers * service_rate:
        return None  # overloaded: the queue grows without bound, there is no steady state to predict
    return mmc_wait(theory["rate_rps"], service_rate, servers) + theory["service_s"]


def span_windows(sim: Simulation, span: str, since: float | None) -> tuple[list[dict], dict | None]:
    """Return the raw windows a span covers (at most 60) and the record over it: what the diagram reads."""
    if span == "since" and since is None:
        span = FALLBACK["since"]
    seconds = (sim.now - since) if span == "since" else float(span)
    windows = list(sim.windows)[-max(1, min(60, round(seconds / sim.scenario.window_s))):]
    if not windows:
        return [], None
    key = span if span == "since" else float(span)
    return windows, (windows[-1].get("rolled") or {}).get(key, windows[-1])


def of_playback(playback, now: list[dict], before: list[dict], *, span: str, watched=(), presenter: bool = False,
                notices=()) -> dict:
    """Return the frame of a playback whose runs' points are `now` and `before`."""
    sim = playback.now.sim
    windows, rolled = span_windows(sim, span, playback.since)
    return frame(now, before, span=span, t_s=playback.t, marks=playback.marks, t0=playback.since,
                 theory=theory_queue(sim), diagram=diagram(topology(sim), windows, rolled),
                 watched=tuple(watched), presenter=presenter, notices=tuple(notices))


def _last_common(now: list[dict], before: list[dict]) -> tuple[dict | None, dict | None]:
    """Return the latest points of now and before that end at the same time (equal windows)."""
    if not now:
        return None, None
    if not before:
        return now[-1], None
    t = min(now[-1]["t_end_s"], before[-1]["t_end_s"])
    pick = lambda points: next((p for p in reversed(points) if p["t_end_s"] <= t + 1e-9), None)  # noqa: E731
    return pick(now), pick(before)


def _verdict(metric: str, before, now) -> str:
    """Return 'better', 'worse' or 'neutral' for a change of `metric` from before to now."""
    worse = series_label(metric).higher_is_worse
    if before is None or now is None or worse is None or abs(change_percent(before, now) or 0.0) < 0.005:
        return "neutral"
    return "worse" if (now > before) == worse else "better"


def headline(now: list[dict], before: list[dict], span: str, watched: list[str], t_s: float) -> list[dict]:
    """Return the headline cells: simulated time, then the watched metrics, then the usual ones, over `span`."""
    last, last_before = _last_common(now, before)
    cells = [{"metric": "t_end_s", "label": SIMULATED_TIME, "value": _duration(t_s), "watched": False,
              "help": "How far the simulation has run."}]
    shown = [m for m in dict.fromkeys([*(shown_as(m) for m in watched), *HEADLINE]) if m]
    for metric in shown:
        label = series_label(metric)
        now_value = value(last, span, metric)
        cell = {"metric": metric, "label": label.text[:1].upper() + label.text[1:] if label.text[:1] != "p" else
                label.text,
                "value": format_value(now_value, label.unit), "watched": metric in {shown_as(m) for m in watched},
                "help": "Since the change." if span == "since" else f"Over the last {SPAN_LABELS[span]} of simulated time."}
        if last_before is not None:
            before_value = value(last_before, span, metric)
            delta = change_percent(before_value, now_value)
            cell.update(before=format_value(before_value, label.unit),
                        delta=None if delta is None else f"{'+' if delta >= 0 else '−'}{abs(delta) * 100:.0f} %",
                        verdict=_verdict(metric, before_value, now_value))
        cells.append(cell)
    return cells


def _duration(seconds: float) -> str:
    """Write simulated time as a person reads it: 45 s, 12 min 30 s, 3 h 05 min."""
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def counts(now: list[dict], before: list[dict], span: str, t0: float | None = None) -> dict:
    """Return the counts over the span (those that happened at all), now and, while comparing, before."""
    last, last_before = _last_common(now, before)
    if span == "since":
        span = "since" if t0 is not None else FALLBACK["since"]
    if span == "since":
        seconds = (last["t_end_s"] - math.floor(t0)) if last is not None else 0.0
    else:
        seconds = float(span)
        if last is not None and last["t_end_s"] < seconds:
            seconds = last["t_end_s"]  # the run is younger than the span
    columns = ["", "before", "now"] if last_before is not None else ["", SPAN_LABELS[span]]
    rows = []
    for kind in COUNTED:
        metric = f"{kind}_per_s"
        values = [value(p, span, metric) for p in ([last_before, last] if last_before is not None else [last])]
        totals = [None if v is None else round(v * seconds) for v in values]
        if kind in ("arrivals", "completions") or any(totals):
            rows.append([series_label(kind).text, *(format_value(t, "count") for t in totals)])
    ttft = [value(p, span, "ttft_p95_s") for p in ([last_before, last] if last_before is not None else [last])]
    if any(v is not None for v in ttft):
        rows.append([series_label("ttft_p95_s").text, *(format_value(v, "s") for v in ttft)])
    title = "Counts since the change" if span == "since" else f"Counts over the last {SPAN_LABELS[span]}"
    return {"title": title, "columns": columns, "rows": rows}


def _revision(figure: dict) -> str:
    """Return a short fingerprint of a figure: the browser redraws a chart only when it changes."""
    return hashlib.blake2b(json.dumps(figure, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def frame(now: list[dict], before: list[dict], *, span: str, t_s: float, marks=(), t0: float | None = None,
          theory: dict | None = None, diagram: dict | None = None, watched: tuple[str, ...] = (),
          presenter: bool = False, notices: tuple[str, ...] = ()) -> dict:
    """Return everything the live view shows, as data: headline, charts, diagram, counts, notices."""
    if span == "since" and t0 is None:
        span = FALLBACK["since"]  # no comparison running: nothing to count "since"
    # The axis runs to the last closed window, or to the latest change if that is later: a change made
    # a moment ago (or while paused) shows at once. Between windows nothing moves, so the browser
    # need not redraw the charts.
    latest_mark = max((t for t, _ in marks if t <= t_s), default=float("-inf"))
    x_range = [now[0]["t_end_s"] - 1, max(now[-1]["t_end_s"], latest_mark)] if now else None
    shown_marks = [(t, text) for t, text in marks if x_range and x_range[0] <= t <= x_range[1]]
    style = {"presenter": presenter, "marks": shown_marks, "x_range": x_range}
    figures = [
        ("latency", charts.latency(now, before, span, t0=t0, theory_s=theory_mean_latency_s(theory), **style), True),
        ("throughput", charts.throughput(now, before, span, t0=t0, **style), True),
        ("tiers", charts.tiers(now, before, span, t0=t0, **style), True),
        ("spend", charts.spend(now, before, span, t0=t0, **style), False),
    ]
    if theory is not None and now:
        figures.append(("knee", charts.knee(now, span, theory, presenter=presenter), False))
    if now and charts.replicas_move(now):
        figures.append(("replicas", charts.replicas(now, span, **style), False))
    return {
        "time": f"{t_s:.3f}",
        "presenter": presenter,
        "notices": list(notices),
        "headline": headline(now, before, span, list(watched), t_s),
        "charts": [{"id": name, "figure": figure, "wide": wide, "rev": _revision(figure)} for name, figure, wide in figures],
        "diagram": diagram,
        "counts": counts(now, before, span, t0),
    }

