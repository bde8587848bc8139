"""Labels: what each metric and each scenario setting is called for people, and how numbers are written.

A metric's name (`latency_p95_s`) is for code and files; a learner reads "p95 latency" and "2.31 s".
This table gives every metric in `engine.metrics.METRICS` one human label and one unit, and
`format_value` writes its numbers the same way everywhere (every page of the app, the CLI's text
output): compact (1.3k req/s, $29.5k), with a unit, never more digits than a reader can use.
tests/test_labels.py checks that every metric has a label.

A scenario field is named the same way (`client_timeout_s`) and read as "Client timeout (s)": its
title, made from its name by `field_title` (a few abbreviations spelled out, the unit ending put in
brackets) unless the field says its own with `title=`. A field path and a problem the format
reports are written with those titles too (`path_title`, `problem_in_words`), and a choice's
value as people say it (`choice_label`). The YAML and the CLI keep the names; the form shows words.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple, get_args

from pydantic import BaseModel

from engine.metrics import METRICS, TIERS


class Label(NamedTuple):
    """How a metric is shown: its label, its unit (see UNITS) and whether a rise is bad news."""

    text: str
    unit: str
    higher_is_worse: bool | None = None  # None: neither (arrivals, replicas)


# Units a metric can have, and how a number in each is written (see format_value).
UNITS = ("s", "req/s", "/s", "share", "usd", "usd/month", "count", "tokens", "replicas", "requests", "")

_TIER_NAMES = {"web": "web tier", "web_cpu": "web CPU", "db_primary": "database primary", "db_replica": "database replicas",
               "llm": "LLM"}

LABELS: dict[str, Label] = {
    "t_start_s": Label("window start", "s"),
    "t_end_s": Label("simulated time", "s"),
    "arrivals": Label("requests arrived", "count"),
    "retries": Label("client retries", "count", True),
    "completions": Label("requests answered", "count"),
    "dropped": Label("dropped (503)", "count", True),
    "timed_out": Label("timed out", "count", True),
    "failed": Label("failed", "count", True),
    "rate_limited": Label("refused (429)", "count", True),
    "llm_429s": Label("provider 429s", "count", True),
    "llm_retries": Label("LLM retries", "count", True),
    "llm_fallbacks": Label("fallbacks", "count", True),
    "retrievals": Label("retrievals", "count"),
    "truncated": Label("answers cut at the output cap", "count", True),
    "too_long": Label("calls over the context window", "count", True),
    "history_tokens": Label("history tokens re-sent", "tokens"),
    "errors": Label("errors", "count", True),
    "error_rate": Label("error rate", "share", True),
    "throughput_rps": Label("throughput", "req/s", False),
    "latency_mean_s": Label("mean latency", "s", True),
    "latency_p50_s": Label("median latency", "s", True),
    "latency_p95_s": Label("p95 latency", "s", True),
    "latency_p99_s": Label("p99 latency", "s", True),
    "ttft_mean_s": Label("mean time to first token", "s", True),
    "ttft_p50_s": Label("median time to first token", "s", True),
    "ttft_p95_s": Label("p95 time to first token", "s", True),
    "ttft_p99_s": Label("p99 time to first token", "s", True),
    "input_tokens": Label("prompt tokens", "tokens"),
    "output_tokens": Label("output tokens", "tokens"),
    "cached_input_tokens": Label("prompt tokens from the prefix cache", "tokens", False),
    "usd_tokens": Label("token spend", "usd", True),
    "usd_infra": Label("instance spend", "usd", True),
    "usd_total": Label("spend", "usd", True),
    "usd_cumulative": Label("spend so far", "usd", True),
    "usd_tokens_cumulative": Label("token spend so far", "usd", True),
    "usd_per_1k_requests": Label("USD per 1,000 requests", "usd", True),
    "db_reads_primary": Label("reads on the primary", "count"),
    "db_reads_replica": Label("reads on replicas", "count"),
    "db_writes": Label("database writes", "count"),
    "stale_reads": Label("stale reads", "count", True),
    "llm_batch_mean": Label("sequences per batch", ""),
    "cache_hits": Label("exact cache hits", "count", False),
    "semantic_hits": Label("semantic hits", "count", False),
    "false_hits": Label("wrong answers from the cache", "count", True),
    "cache_misses": Label("cache misses", "count", True),
    "cache_hit_rate": Label("cache hit rate", "share", False),
    "wrong_answer_rate": Label("wrong-answer rate", "share", True),
    "cache_evictions": Label("cache evictions", "count"),
    "tokens_saved": Label("tokens saved by the cache", "tokens", False),
    "usd_saved": Label("spend saved by the cache", "usd", False),
    "in_flight": Label("requests in flight", "requests"),
    "web_replicas": Label("web replicas billed", "replicas"),
    "web_replicas_ready": Label("web replicas ready", "replicas"),
    "llm_replicas": Label("LLM replicas billed", "replicas"),
    "llm_replicas_ready": Label("LLM replicas ready", "replicas"),
    "deployments": Label("per LLM deployment", ""),
    "usd_per_month": Label("USD per month", "usd/month", True),
    "instances": Label("per instance", ""),
    **{f"{tier}_{name}": Label(f"{_TIER_NAMES[tier]} {text}", unit, worse) for tier in TIERS
       for name, text, unit, worse in (("utilisation", "utilisation", "share", None),
                                       ("queue_length", "requests waiting", "requests", True),
                                       ("wait_mean_s", "mean wait", "s", True))},
}


# Load-balancing algorithms as people call them.
ALGORITHM_LABELS = {"round_robin": "round robin", "least_connections": "least connections",
                    "power_of_two": "power of two choices", "random": "random"}


def label(metric: str) -> str:
    """Return the human label of `metric` (its name if it has none)."""
    entry = LABELS.get(metric)
    return entry.text if entry else metric


def _compact(value: float, digits: int = 3) -> str:
    """Write a number with about `digits` significant digits and a k/M/B suffix: 1.3k, 29.5k, 4.2M."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit * 0.9995:
            return f"{_significant(value / limit, digits)}{suffix}"
    return _significant(value, digits)


def _significant(value: float, digits: int) -> str:
    """Write `value` with `digits` significant digits, without trailing zeros or exponent notation."""
    if value == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: float | int | None, unit: str) -> str:
    """Write a number in `unit` (one of UNITS) the way every page and the CLI show it; '–' when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if unit == "s":
        if abs(value) < 0.9995:
            return f"{_significant(value * 1000, 3)} ms"
        return f"{_compact(value)} s"
    if unit == "share":
        percent = value * 100
        return f"{_significant(percent, 3) if abs(percent) < 99.95 else f'{percent:.0f}'} %" if percent else "0 %"
    if unit == "usd":
        return f"${_compact(value)}" if abs(value) >= 0.01 or value == 0 else f"${_significant(value, 2)}"
    if unit == "usd/month":
        return f"${_compact(value)}/mo"
    if unit == "req/s":
        return f"{_compact(value)} req/s"
    if unit == "/s":
        return f"{_compact(value)}/s"
    if unit in ("count", "tokens", "replicas", "requests"):
        return _compact(value) if abs(value) >= 10_000 else _significant(value, 3) if isinstance(value, float) \
            else f"{value:,}"
    return _compact(value)


def format_metric(metric: str, value) -> str:
    """Write `metric`'s value in its unit."""
    entry = LABELS.get(metric)
    return format_value(value, entry.unit if entry else "")


def change_percent(before: float | None, now: float | None) -> float | None:
    """Return (now - before) / before, or None when it cannot be said (missing, or before is 0)."""
    if before is None or now is None or not before:
        return None
    return (now - before) / abs(before)


def describe_change(metric: str, before: float | None, now: float | None) -> str:
    """Return 'before → now (+12 %)' in the metric's unit: what a learner compares after a change."""
    delta = change_percent(before, now)
    shown = f"{format_metric(metric, before)} → {format_metric(metric, now)}"
    if delta is None:
        return shown
    return f"{shown} ({'+' if delta >= 0 else '−'}{_significant(abs(delta) * 100, 2)} %)"




# What the parts of a scenario field's name mean to people (see field_title). A field whose name
# cannot be read this way says its own words with `title=` beside its description.
WORDS = {"llm": "LLM", "db": "database", "cpu": "CPU", "io": "I/O", "ttl": "time to live", "rtt": "round trip",
         "ttft": "time to first token", "kv": "KV", "p50": "median", "p95": "p95", "p99": "p99",
         "max": "maximum", "min": "minimum", "num": "number of", "zipf": "Zipf", "usd": "USD", "rps": "req/s",
         "ms": "ms", "s": "s"}

# Name endings that are the field's unit, written after its words in brackets, longest first.
UNIT_ENDINGS = (("_per_m_usd", "USD per million tokens"), ("_per_hour_usd", "USD per hour"),
                ("_tokens_per_s", "tokens/s"), ("_rps", "req/s"), ("_ms", "ms"), ("_ns", "ns"), ("_s", "s"),
                ("_usd", "USD"))

# A choice's value as people say it, where replacing _ and - with spaces is not enough.
CHOICE_LABELS = {**ALGORITHM_LABELS, "key_value": "key-value", "self_hosted": "self-hosted", "hosted": "hosted API",
                 "router": "gateway over several deployments", "empirical": "from a trace", "fixed": "fixed lengths",
                 "lognormal": "log-normal", "same_server": "on the web server", "separate": "on its own server",
                 "azure_windows": "Azure's windows", "utilisation": "utilisation"}


def _words(name: str) -> str:
    """Return a snake_case name's parts as words, the first capitalised (a percentile stays p95)."""
    text = " ".join(WORDS.get(part, part) for part in name.split("_") if part)
    return text if re.match(r"p\d", text) else text[:1].upper() + text[1:]


def field_title(name: str, _info: object = None) -> str:
    """Return a scenario field's label from its name: `client_timeout_s` -> 'Client timeout (s)'.

    Every part of the scenario format uses it for the fields that set no `title=` (pydantic's
    field_title_generator), so a field's `title` is always words.
    """
    for ending, unit in UNIT_ENDINGS:
        if name.endswith(ending) and len(name) > len(ending):
            return f"{_words(name[:-len(ending)])} ({unit})"
    return _words(name)


def choice_label(value: object) -> str:
    """Return one of a field's allowed values as people say it: `key_value` -> 'key-value'."""
    if not isinstance(value, str):
        return str(value)
    return CHOICE_LABELS.get(value, value.replace("_", " ").replace("-", " "))


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Return the models a field's type holds: itself, a union's members, a list's items."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _walk(root: type[BaseModel], path: str) -> tuple[list[str], list[list[type[BaseModel]]]] | None:
    """Follow a dotted field path from `root`: its parts' titles and the models met on the way (None: no such path)."""
    titles, models = [], [[root]]
    for part in path.split("."):
        if part.isdigit() and titles:
            titles[-1] = f"{titles[-1].removesuffix('s')} {int(part) + 1}"  # failures.0 -> Failure 1
            continue
        info = next((m.model_fields[part] for m in models[-1] if part in m.model_fields), None)
        if info is None:
            return None
        titles.append(info.title or field_title(part))
        models.append(_models_in(info.annotation))
    return titles, models


def path_title(root: type[BaseModel], path: str) -> str:
    """Return a field path as people read it: `traffic.prompt_keys` -> 'Traffic › Prompt keys' (unknown: as it is)."""
    walked = _walk(root, path)
    return " › ".join(walked[0]) if walked else path


_CODE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+)+\b")  # a snake_case name or a dotted path
_LEADING_PATH = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")


def problem_in_words(root: type[BaseModel], problem: str) -> str:
    """Return one of the scenario format's problems with its field names in words.

    'cache: needs traffic.prompt_keys' -> 'Response cache: needs Traffic › Prompt keys'. A name in the
    sentence is looked up from the innermost part the problem is about outwards, then from the
    top; a value such as `same_server` is written as a choice; anything else is left as it is.
    """
    leading = _LEADING_PATH.match(problem)
    walked = _walk(root, leading.group(1)) if leading else None
    if walked is None:
        return _CODE_NAME.sub(lambda m: _name_in_words(root, [[root]], m.group()), problem)
    titles, models = walked
    rest = _CODE_NAME.sub(lambda m: _name_in_words(root, models, m.group()), problem[leading.end():])
    return f"{' › '.join(titles)}: {rest}"


def _name_in_words(root: type[BaseModel], around: list[list[type[BaseModel]]], name: str) -> str:
    """Return a field name met in a sentence in words, looked up in the parts `around` it (innermost first)."""
    for models in [*reversed(around), [root]]:
        for model in models:
            walked = _walk(model, name)
            if walked:
                title = re.sub(r" \([^)]*\)$", "", " › ".join(walked[0]))  # in a sentence, without its unit
                return title if "." in name or re.match(r"[A-Z]{2}", title) else title[:1].lower() + title[1:]
    return choice_label(name) if "." not in name else name


def setting_in_words(root: type[BaseModel], path: str, value: object) -> str:
    """Return one setting as people read it: ('web.replicas', 4) -> 'Web tier › Replicas: 4'; a part set to
    null reads 'none', a part given as a mapping 'on', a switch 'yes' or 'no'."""
    if value is None:
        shown = "none"
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    elif isinstance(value, dict):
        shown = "on"
    elif isinstance(value, float):
        shown = f"{value:g}"
    else:
        shown = choice_label(value)
    return f"{path_title(root, path)}: {shown}"


def names_in_words(names: list[str], most: int = 12) -> str:
    """Return component names as a message lists them: each numbered run once, 'web-0 to web-999, db-primary'
    (a thousand replicas are one item, not a thousand), and past `most` items, a count of the rest."""
    items: list[str | list] = []  # a name, or a run [stem, first, last]
    for name in names:
        stem, _, number = name.rpartition("-")
        if not (stem and number.isdigit()):
            items.append(name)
        elif items and isinstance(items[-1], list) and items[-1][0] == stem and items[-1][2] == int(number) - 1:
            items[-1][2] = int(number)
        else:
            items.append([stem, int(number), int(number)])
    words = [item if isinstance(item, str) else f"{item[0]}-{item[1]}" if item[1] == item[2]
             else f"{item[0]}-{item[1]} to {item[0]}-{item[2]}" for item in items[:most]]
    return ", ".join(words) + (f" and {len(items) - most:,} more" if len(items) > most else "")
