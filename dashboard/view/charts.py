"""The live view's charts, built from points: each answers one question a learner has while a run plays.

- How long do requests take? Latency percentiles, the time to the first token where an LLM answers (what a
  user waits for when answers stream), and the M/M/c theory's mean where it applies.
- How many are answered, and how many fail, and how? Throughput over errors stacked by kind.
- Where do they wait? Each tier's utilisation beside the requests waiting in front of it: a tier
  near 100 % busy with a line forming is the bottleneck.
- What does it cost? Spend per month at the current rate, instances and tokens.
- Did the fleet move? Replicas billed and ready (drawn only when they change).
- How close to the knee is it? Where the queue is one theory predicts (M/M/c), Erlang C's mean
  latency against utilisation, with the run's own windows on it.

Every line shows the rolling span the learner chose (10 s by default), with the raw per-second
line faint behind it. While a comparison runs (curriculum/playback.py) the run as it was before
the change is drawn faded and dashed in the same colour, on identical traffic, so the two visibly
part at the change mark. Figures are plain Plotly JSON (dicts): built fast on every tick and drawn
in place by the live view component, never re-created.
"""

from __future__ import annotations

from dashboard.view.series import ERROR_KINDS, column, series_label
from engine.metrics import TIERS
from engine.theory import erlang_c

HEIGHT, PRESENTER_HEIGHT = 270, 380  # px, the plot; its legend is drawn below it
FONT, PRESENTER_FONT = 12, 20  # px: chart text; presenter mode must be readable from the back of a room
BEFORE_OPACITY = 0.45
RAW_OPACITY = 0.22
TIER_COLOURS = {"web": "#1f77b4", "web_cpu": "#17becf", "db_primary": "#2ca02c", "db_replica": "#9467bd", "llm": "#d62728"}
COLOURS = {"p50": "#2ca02c", "p95": "#1f77b4", "p99": "#d62728", "mean": "#7f7f7f", "completions": "#1f77b4",
           "cache": "#ff7f0e", "wrong": "#8c564b", "tokens": "#ff7f0e", "instances": "#1f77b4", "theory": "#555555",
           "dropped": "#e377c2", "timed_out": "#ff7f0e", "failed": "#d62728", "rate_limited": "#8c564b"}


def plain(text: str) -> str:
    """Return `text` safe inside Plotly text, which reads a few HTML tags: no tag can be made of it."""
    return str(text).replace("<", "‹").replace(">", "›")


def _line(x, y, name: str, colour: str, *, before: bool = False, raw: bool = False, dash: str | None = None,
          axis: str = "", group: str | None = None, legend: bool = True) -> dict:
    """Return one line trace: solid for now, faded and dashed for before, faint and thin for the raw span."""
    trace = {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name, "line": {"color": colour, "width": 2},
             "hovertemplate": "%{y:.3~s}<extra>" + plain(name) + "</extra>", "connectgaps": False}
    if before:
        trace["line"].update(dash="dash", width=2)
        trace["opacity"] = BEFORE_OPACITY
    elif raw:
        trace["line"]["width"] = 1
        trace["opacity"] = RAW_OPACITY
        trace["showlegend"] = False
        trace["hoverinfo"] = "skip"
        trace.pop("hovertemplate")
    if dash:
        trace["line"]["dash"] = dash
    if axis:
        trace["xaxis"], trace["yaxis"] = f"x{axis}", f"y{axis}"
    if group:
        trace["legendgroup"] = group
    if not legend:
        trace["showlegend"] = False
    return trace


def _times(points: list[dict]) -> list[float]:
    """Return the points' end times."""
    return [p["t_end_s"] for p in points]


def _after(before: list[dict], t0: float | None, now: list[dict]) -> list[dict]:
    """Return the "before" line's points: from the last window both runs shared (before the change) on.

    Until the change the two runs were one, so the line starts at now's last point at or before it,
    and both lines visibly part from there.
    """
    if t0 is None:
        return before
    shared = [p for p in now if p["t_end_s"] <= t0][-1:]
    return shared + [p for p in before if p["t_end_s"] > t0]


def layout(title: str, y_title: str, *, presenter: bool = False, y_format: str = "", marks=(), extra: dict | None = None,
           x_range: list | None = None, panels: tuple[str, ...] = ("x",)) -> dict:
    """Return a live chart's layout: fixed height, legend below, change marks, readable ticks; larger for a room."""
    font = PRESENTER_FONT if presenter else FONT
    result = {
        "title": {"text": plain(title), "font": {"size": font + 4}, "x": 0.01, "xanchor": "left"},
        "height": PRESENTER_HEIGHT if presenter else HEIGHT,
        # Fixed margins, no automargin: measuring labels on every redraw is most of what a redraw costs.
        "margin": {"l": 90 if presenter else 62, "r": 16, "t": 48 if presenter else 36, "b": 44 if presenter else 30},
        "font": {"size": font},
        "uirevision": "live",
        "showlegend": False,  # the live view draws each chart's legend itself, once, below it
        "xaxis": {"ticksuffix": " s", "range": x_range, "ticklabeloverflow": "allow"},
        "yaxis": {"title": {"text": plain(y_title), "standoff": 4}, "rangemode": "tozero", "tickformat": y_format,
                  "ticklabeloverflow": "allow"},
        "hovermode": "x unified",
        "shapes": [], "annotations": [],
        "plot_bgcolor": "white", "paper_bgcolor": "white",
    }
    result["xaxis"]["gridcolor"] = result["yaxis"]["gridcolor"] = "#eeeeee"
    for t, text in marks:  # a dashed line on every panel, the label on the first
        for axis in panels:
            result["shapes"].append({"type": "line", "xref": axis, "yref": "paper", "x0": t, "x1": t, "y0": 0, "y1": 1,
                                     "line": {"color": "#888", "width": 1.5, "dash": "dash"}})
        result["annotations"].append({"x": t, "y": 1, "xref": "x", "yref": "paper", "text": plain(text),
                                      "showarrow": False, "xanchor": "left", "yanchor": "top",
                                      "font": {"size": font - 1, "color": "#555"}, "bgcolor": "rgba(255,255,255,0.8)"})
    result.update(extra or {})
    return result


def latency(now: list[dict], before: list[dict], span: str, *, t0=None, theory_s=None, **style) -> dict:
    """Latency percentiles of completed requests at the chosen span; p95 raw behind; p95 before, faded."""
    t = _times(now)
    traces = []
    if span != "1":
        traces.append(_line(t, column(now, "1", "latency_p95_s"), "p95, each second", COLOURS["p95"], raw=True))
    for q in ("p50", "p95", "p99"):
        traces.append(_line(t, column(now, span, f"latency_{q}_s"), q, COLOURS[q]))
    if before:
        shown = _after(before, t0, now)
        for q in ("p50", "p95"):
            traces.append(_line(_times(shown), column(shown, span, f"latency_{q}_s"), f"{q} before", COLOURS[q],
                                before=True))
    first = column(now, span, "ttft_p95_s")
    if any(v is not None for v in first):  # an LLM answers: when its first token came, beside when the last did
        traces.append(_line(t, first, "first token, p95", COLOURS["tokens"], dash="dash"))
    if theory_s is not None and t:
        traces.append(_line([t[0], t[-1]], [theory_s, theory_s], "mean, M/M/c theory", COLOURS["theory"], dash="dot"))
    return {"data": traces, "layout": layout("Latency of answered requests", "seconds", **style)}


def throughput(now: list[dict], before: list[dict], span: str, *, t0=None, **style) -> dict:
    """Answered requests per second as a line over errors per second stacked by kind; before, faded.

    Errors are stacked areas rather than bars: one shape per kind instead of one per window, which
    the browser redraws several times a second.
    """
    t = _times(now)
    traces = [{**_line(t, column(now, span, f"{kind}_per_s"), label, COLOURS[kind]), "stackgroup": "errors",
               "line": {"color": COLOURS[kind], "width": 0.5}} for kind, label in ERROR_KINDS.items()]
    if span != "1":
        traces.append(_line(t, column(now, "1", "throughput_rps"), "answered, each second", COLOURS["completions"],
                            raw=True))
    traces.append(_line(t, column(now, span, "throughput_rps"), "answered", COLOURS["completions"]))
    if before:
        shown = _after(before, t0, now)
        times = _times(shown)
        traces.append(_line(times, column(shown, span, "throughput_rps"), "answered before", COLOURS["completions"],
                            before=True))
        errors = [sum(v or 0 for v in values) for values in zip(*(column(shown, span, f"{k}_per_s") for k in ERROR_KINDS))]
        traces.append(_line(times, errors, "errors before", COLOURS["failed"], before=True))
    return {"data": traces, "layout": layout("Answered and failed requests per second", "requests per second",
                                             **style)}


def tiers(now: list[dict], before: list[dict], span: str, *, t0=None, presenter: bool = False, marks=(),
          x_range=None) -> dict:
    """Each tier's utilisation (and the cache's right and wrong answers) beside the requests waiting in front of it."""
    t = _times(now)
    shown = _after(before, t0, now) if before else []
    tb = _times(shown)
    traces = []
    for tier in TIERS:
        busy = column(now, span, f"{tier}_utilisation")
        if all(v is None for v in busy):
            continue
        name, colour = series_label(f"{tier}_utilisation").text.removesuffix(" utilisation"), TIER_COLOURS[tier]
        traces.append(_line(t, busy, f"{name}", colour, group=tier))
        traces.append(_line(t, column(now, span, f"{tier}_queue_length"), f"{name} waiting", colour, axis="2",
                            group=tier, legend=False))
        if shown:
            traces.append(_line(tb, column(shown, span, f"{tier}_utilisation"), f"{name} before", colour, before=True,
                                group=tier))
            traces.append(_line(tb, column(shown, span, f"{tier}_queue_length"), f"{name} waiting before", colour,
                                before=True, axis="2", group=tier, legend=False))
    for metric, colour in (("cache_hit_rate", COLOURS["cache"]), ("wrong_answer_rate", COLOURS["wrong"])):
        rates = column(now, span, metric)
        if metric == "wrong_answer_rate" and not any(rates):
            continue  # an exact cache never answers wrong: no line for it
        if any(v is not None for v in rates):
            name = series_label(metric).text
            traces.append(_line(t, rates, name, colour, dash="dot"))
            if shown:
                traces.append(_line(tb, column(shown, span, metric), f"{name} before", colour, before=True))
    extra = {
        "xaxis": {"domain": [0, 0.44], "ticksuffix": " s", "range": x_range, "gridcolor": "#eee",
                  "ticklabeloverflow": "allow"},
        "xaxis2": {"domain": [0.58, 1], "ticksuffix": " s", "range": x_range, "anchor": "y2", "gridcolor": "#eee",
                   "ticklabeloverflow": "allow"},
        "yaxis": {"title": {"text": "busy", "standoff": 4}, "range": [0, 1.05], "tickformat": ".0%",
                  "gridcolor": "#eee", "ticklabeloverflow": "allow"},
        # Requests waiting, time-averaged, are often a fraction of one: 0.0008, never "800µ".
        "yaxis2": {"title": {"text": "waiting", "standoff": 4}, "rangemode": "tozero", "anchor": "x2",
                   "exponentformat": "none", "gridcolor": "#eee", "ticklabeloverflow": "allow"},
    }
    result = layout("Where requests wait: busy (left) and waiting in line (right)", "", presenter=presenter, marks=marks,
                    extra=extra, panels=("x", "x2"))
    return {"data": traces, "layout": result}


def spend(now: list[dict], before: list[dict], span: str, *, t0=None, **style) -> dict:
    """What the run costs per month at its current rate, instances and tokens stacked; the before total faded."""
    t = _times(now)
    traces = [
        {**_line(t, column(now, span, "usd_infra_per_month"), "instances", COLOURS["instances"]), "stackgroup": "usd"},
        {**_line(t, column(now, span, "usd_tokens_per_month"), "tokens", COLOURS["tokens"]), "stackgroup": "usd"},
    ]
    if before:
        shown = _after(before, t0, now)
        traces.append(_line(_times(shown), column(shown, span, "usd_per_month"), "total before", "#333", before=True))
    return {"data": traces, "layout": layout("Spend per month at this rate", "USD per month", y_format="$~s",
                                             **style)}


def replicas(now: list[dict], span: str, **style) -> dict:
    """Replicas billed and taking traffic per tier: the gap is replicas still warming up."""
    t = _times(now)
    series = {"web billed": ("web_replicas", "dot"), "web ready": ("web_replicas_ready", None),
              "LLM billed": ("llm_replicas", "dot"), "LLM ready": ("llm_replicas_ready", None)}
    traces = []
    for name, (metric, dash) in series.items():
        values = column(now, span, metric)
        if any(v is not None for v in values):
            trace = _line(t, values, name, TIER_COLOURS["web" if name.startswith("web") else "llm"], dash=dash)
            trace["line"]["shape"] = "hv"
            traces.append(trace)
    return {"data": traces, "layout": layout("Replicas", "replicas", **style)}


def replicas_move(points: list[dict]) -> bool:
    """Return whether a tier's replica count changed, or replicas were warming, over these points."""
    keys = ("web_replicas", "web_replicas_ready", "llm_replicas", "llm_replicas_ready")
    columns = {key: column(points, "1", key) for key in keys}
    return any(len(set(values)) > 1 for values in columns.values()) or any(
        a != b for pair in (("web_replicas", "web_replicas_ready"), ("llm_replicas", "llm_replicas_ready"))
        for a, b in zip(columns[pair[0]], columns[pair[1]]))


def knee_curve(servers: int, service_s: float, points: int = 60) -> tuple[list[float], list[float]]:
    """Return Erlang C's mean time in system (s) against utilisation (0 to 0.99) for `servers` servers."""
    utilisations = [0.99 * i / (points - 1) for i in range(points)]
    latency = [service_s * (1 + erlang_c(servers, servers * rho) / (servers * (1 - rho))) if rho > 0 else service_s
               for rho in utilisations]
    return utilisations, latency


def knee(now: list[dict], span: str, theory: dict, *, presenter: bool = False) -> dict:
    """The utilisation knee: Erlang C's mean latency against utilisation, and where the run's windows sit on it.

    Utilisation is the arrival rate over what the servers can finish (rate x service time / servers),
    so a learner sees why the last 10 % of capacity costs more latency than the first 80 %.
    """
    servers, service_s = theory["servers"], theory["service_s"]
    x, y = knee_curve(servers, service_s)
    ceiling = service_s * 12
    traces = [_line(x, y, f"mean latency, M/M/{servers} theory (Erlang C)", COLOURS["theory"], dash="dot")]
    rates = column(now[-60:], span, "arrivals_per_s")
    means = column(now[-60:], span, "latency_mean_s")
    seen = [(rate * service_s / servers, mean) for rate, mean in zip(rates, means) if rate is not None and mean is not None]
    if seen:
        traces.append({"type": "scatter", "mode": "markers", "name": "measured, last minute", "x": [p[0] for p in seen[:-1]],
                       "y": [min(p[1], ceiling) for p in seen[:-1]],
                       "marker": {"color": COLOURS["mean"], "size": 6, "opacity": 0.35}})
        rho, mean = seen[-1]
        traces.append({"type": "scatter", "mode": "markers", "name": "measured, now", "x": [rho], "y": [min(mean, ceiling)],
                       "marker": {"color": COLOURS["p95"], "size": 14, "symbol": "diamond"}})
    result = layout("Mean latency against utilisation: the knee", "mean latency, seconds", presenter=presenter)
    result["xaxis"] = {"tickformat": ".0%", "range": [0, 1.05], "ticklabeloverflow": "allow"}
    result["yaxis"] = {**result["yaxis"], "range": [0, ceiling]}
    result["hovermode"] = "closest"
    return {"data": traces, "layout": result}
