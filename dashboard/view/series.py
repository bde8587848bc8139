"""What the live view plots, per window: a compact point per simulated second, at every rolling span.

A window record holds about a hundred figures; a chart needs a few dozen. A point keeps, for each
span the learner can choose (the raw 1 s window, the last 10 s, the last 60 s), the values of
`METRICS` in that order, rounded to four significant digits: small enough to publish to a room on
every tick, and the same points draw the presenter's charts and every learner's.
"""

from __future__ import annotations

from curriculum.playback import SPANS
from engine.labels import LABELS, Label
from engine.metrics import TIERS

DEFAULT_SPAN = "10"
SPAN_LABELS = {"1": "1 s", "10": "10 s", "60": "60 s", "since": "since the change"}
FALLBACK = {"since": "10"}  # before a comparison starts there is no change to count from

# Per-second rates of the error kinds, derived from counts over the span.
ERROR_KINDS = {kind: LABELS[kind].text for kind in ("dropped", "timed_out", "failed", "rate_limited")}
# Counts the learner may be asked about that have no chart of their own (rates per second over the span).
COUNTED = ("arrivals", "retries", "completions", "dropped", "timed_out", "failed", "rate_limited", "llm_429s", "llm_retries",
           "llm_fallbacks", "cache_hits", "semantic_hits", "false_hits", "stale_reads", "truncated", "too_long", "input_tokens",
           "history_tokens", "output_tokens")

METRICS: tuple[str, ...] = (
    "latency_p50_s", "latency_p95_s", "latency_p99_s", "latency_mean_s", "ttft_p95_s",
    "throughput_rps", "error_rate", "cache_hit_rate", "wrong_answer_rate", "usd_per_month", "usd_per_1k_requests",
    "usd_tokens_per_month", "usd_infra_per_month",
    *(f"{kind}_per_s" for kind in COUNTED),
    *(f"{tier}_{figure}" for tier in TIERS for figure in ("utilisation", "queue_length", "wait_mean_s")),
    "web_replicas", "web_replicas_ready", "llm_replicas", "llm_replicas_ready",
)
INDEX = {name: position for position, name in enumerate(METRICS)}

_MONTH_S = 30 * 86_400


# A metric a lesson claims about, as the live view shows it: a count becomes a rate per second and
# money over the window becomes money per month at that rate, so spans of any length compare.
_SHOWN_AS = {"usd_tokens": "usd_tokens_per_month", "usd_infra": "usd_infra_per_month", "usd_total": "usd_per_month",
             **{kind: f"{kind}_per_s" for kind in COUNTED}}


def shown_as(metric: str) -> str | None:
    """Return the series that shows engine metric `metric` on the live view (None if none does)."""
    shown = _SHOWN_AS.get(metric, metric)
    return shown if shown in INDEX else None


def _round(value):
    """Round a number to four significant digits (None stays None): what a chart can show, half the bytes."""
    if value is None or isinstance(value, int):
        return value
    return float(f"{value:.4g}")


def values_of(record: dict) -> list:
    """Return `METRICS` of one record (a window or a rolled span), in order."""
    seconds = record["t_end_s"] - record["t_start_s"]
    derived = {
        "usd_tokens_per_month": record["usd_tokens"] / seconds * _MONTH_S if seconds else None,
        "usd_infra_per_month": record["usd_infra"] / seconds * _MONTH_S if seconds else None,
        **{f"{kind}_per_s": record[kind] / seconds if seconds else None for kind in COUNTED},
    }
    return [_round(derived[name] if name in derived else record.get(name)) for name in METRICS]


def point(record: dict) -> dict:
    """Return the point of one window record: its end time and METRICS at every span."""
    spans = {"1": values_of(record)}
    for span_s, rolled in (record.get("rolled") or {}).items():
        spans[span_s if isinstance(span_s, str) else f"{span_s:g}"] = values_of(rolled)
    return {"t_end_s": record["t_end_s"], **spans}


def _at(point_: dict, span: str) -> list:
    """Return a point's values at `span`, or at the span that stands in for it where the point has none."""
    return point_.get(span) or point_.get(FALLBACK.get(span, "1")) or point_["1"]


def column(points_: list[dict], span: str, metric: str) -> list:
    """Return one metric at one span over the points."""
    position = INDEX[metric]
    return [_at(p, span)[position] for p in points_]


def value(point_: dict | None, span: str, metric: str):
    """Return one metric of one point at one span (None without a point)."""
    if point_ is None:
        return None
    return _at(point_, span)[INDEX[metric]]


def series_label(name: str) -> Label:
    """Return the label, unit and direction of a series (an engine metric, or one derived from it here)."""
    if name in LABELS:
        return LABELS[name]
    if name.endswith("_per_month"):
        base = LABELS[name.removesuffix("_per_month")]
        return Label(f"{base.text} per month", "usd/month", base.higher_is_worse)
    base = LABELS[name.removesuffix("_per_s")]
    return Label(f"{base.text} per second", "req/s" if base.unit == "count" else "/s", base.higher_is_worse)
