"""A widget for every scenario field, drawn from the scenario's own schema.

Teams prototyping an architecture want every knob, and the knobs change whenever the engine
grows one. So the form is not written by hand: it walks the pydantic models of the scenario
format and draws, for each field, the widget its type calls for (a number box bounded by the
field's range, a choice for a fixed set of values, a switch for an optional part), labelled with
the field's title in words ("Client timeout (s)", engine/labels.py) and described by its own
description, the one that carries its unit and source. The settings most teams leave alone
(ADVANCED) are folded under "More settings" in their part. What the widgets hold is returned as
plain data; validating it is the scenario format's job.
"""

from __future__ import annotations

import math
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from engine.labels import choice_label, field_title
from engine.scenario import (Autoscale, Database, HostedLLM, LLMRouter, PromptKeys, ResponseCache, Retries, Scenario,
                             SelfHostedLLM, SemanticLookup, Traffic, Web)

MAX_JS_INT = 2**53 - 1  # the browser holds numbers as doubles: larger integers lose digits
MAX_ITEMS = 20  # list items drawn at once; longer lists are edited as YAML

# The settings most teams leave at their defaults, per part: drawn folded under "More settings", the
# common knobs above them. The one list of them (tests/test_dashboard_form.py checks each name is a field).
_DEPLOYMENT = ("weight", "model_max_output_tokens", "context_window_tokens", "prompt_cache_share",
               "cancel_on_disconnect", "overhead_ms", "prefill_tokens_per_s", "itl_ms")
ADVANCED: dict[type[BaseModel], tuple[str, ...]] = {
    Scenario: ("duration_s", "window_s"),
    Traffic: ("trace", "closed_loop", "user_population", "heavy_users"),
    PromptKeys: ("paraphrase_share", "questions_per_topic"),
    Retries: ("max_backoff_s", "budget"),
    Web: ("family", "cores", "cpu_speed", "price_per_hour_usd", "handler_ms"),
    Autoscale: ("evaluate_every_s", "scale_down_cooldown_s", "warmup_s"),
    Database: ("cores", "read_ms", "read_cpu_ms", "write_ms", "write_cpu_ms", "commit_flush_ms", "pool_size",
               "pool_max_overflow", "pool_timeout_s", "network_rtt_ms", "replication_lag_ms", "price_per_hour_usd",
               "failover_s"),
    HostedLLM: (*_DEPLOYMENT, "max_concurrency", "price_cached_input_per_m_usd"),
    SelfHostedLLM: (*_DEPLOYMENT, "max_num_batched_tokens", "decode_ns_per_kv_token"),
    LLMRouter: ("backoff_base_s", "backoff_cap_s", "max_retry_after_s", "cooldown_s", "allowed_fails"),
    ResponseCache: ("lookup_ms", "size", "price_per_hour_usd"),
    SemanticLookup: ("embed_ms", "search_ms", "curve"),
}


def _unwrap(annotation: Any) -> tuple[Any, bool, str | None]:
    """Return (the type without Optional and Annotated, whether None is allowed, the union's discriminator)."""
    optional, discriminator = False, None
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extras = get_args(annotation)
            discriminator = next((e.discriminator for e in extras if isinstance(e, FieldInfo) and e.discriminator),
                                 discriminator)
        elif origin in (Union, types.UnionType) and type(None) in get_args(annotation):
            optional = True
            rest = [a for a in get_args(annotation) if a is not type(None)]
            annotation = rest[0] if len(rest) == 1 else Union[tuple(rest)]
        else:
            return annotation, optional, discriminator


def _variants(annotation: Any) -> list[type[BaseModel]]:
    """Return the models a union of models allows (one model is a union of one)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _tag(model: type[BaseModel], discriminator: str) -> str:
    """Return the value of `discriminator` that selects `model` in a union."""
    return get_args(model.model_fields[discriminator].annotation)[0]


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    """Return the (lowest, highest) value a number field allows, as inclusive bounds for a widget."""
    low = high = None
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low = item.gt  # the widget cannot say "greater than"; validation names the bound if it is hit
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high = item.lt
    return low, high


def seed(model: type[BaseModel]) -> dict[str, Any]:
    """Return data for a new `model`: its defaults, and the lowest allowed value where a field has none."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if not info.is_required():
            default = info.get_default(call_default_factory=True)
            data[name] = default.model_dump(mode="json") if isinstance(default, BaseModel) else default
            continue
        annotation, _, _ = _unwrap(info.annotation)
        low, _ = _bounds(info)
        if get_origin(annotation) is list:
            item = _variants(_unwrap(get_args(annotation)[0])[0])
            data[name] = [seed(item[0])] if item else []
        elif get_origin(annotation) is Literal:
            data[name] = get_args(annotation)[0]
        elif annotation in (int, float):
            data[name] = annotation(max(low or 0, 1))
        elif _variants(annotation):
            data[name] = seed(_variants(annotation)[0])
        else:
            data[name] = ""
    return data


def _title(name: str, info: FieldInfo) -> str:
    """Return a field's label: its title in words (every scenario field has one; a name is turned into words)."""
    return info.title or field_title(name)


def _empty(description: str | None) -> str:
    """Return what an empty optional number means, from its description ('null = never' -> 'never')."""
    said = re.search(r"null = ([^;(]+)|(default(?::| from) [^;(]+)", description or "")
    if not said:
        return "none"
    words = (said.group(1) or said.group(2)).strip().rstrip(",.")
    return "default" if re.search(r"[a-z]\.[a-z]|_", words) else words  # a field's path is for the help


def _step(info: FieldInfo, kind: type) -> float | int:
    """Return a step for a number box that suits the size of the field's default."""
    if kind is int:
        return 1
    default = info.get_default(call_default_factory=True)
    if not isinstance(default, (int, float)) or default == 0:
        return 0.1
    return 10.0 ** (math.floor(math.log10(abs(default))) - 1)


def _scalar(name: str, info: FieldInfo, annotation: Any, optional: bool, value: Any, key: str) -> Any:
    """Draw one widget for a plain field and return what it holds."""
    help_text, label = info.description, _title(name, info)
    if key not in st.session_state:
        st.session_state[key] = value  # first drawing: show the scenario's value
    if get_origin(annotation) is Literal:
        options = list(get_args(annotation))
        if st.session_state[key] not in options and not optional:
            st.session_state[key] = options[0]
        return st.selectbox(label, options, key=key, help=help_text, index=None if optional else 0,
                            format_func=choice_label, placeholder="none" if optional else "Choose an option")
    if annotation is bool:
        return st.toggle(label, key=key, help=help_text)
    if annotation in (int, float):
        low, high = _bounds(info)
        if annotation is int:
            low = None if low is None else int(low)
            high = MAX_JS_INT if high is None else min(int(high), MAX_JS_INT)
        else:
            low = None if low is None else float(low)
            high = None if high is None else float(high)
            if st.session_state[key] is not None:
                st.session_state[key] = float(st.session_state[key])
        placeholder = _empty(help_text) if optional else None
        return st.number_input(label, min_value=low, max_value=high, step=_step(info, annotation), key=key,
                               value=None if optional else "min", help=help_text, placeholder=placeholder,
                               format=None if annotation is int else "%g")
    if annotation is str:
        limit = next((m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)), None)
        if limit and limit > 200:
            text = st.text_area(label, key=key, help=help_text, max_chars=limit, height=80)
        else:
            text = st.text_input(label, key=key, help=help_text, max_chars=limit,
                                 placeholder=_empty(help_text) if optional else None)
        return (text or None) if optional else text  # an emptied optional box is null, not ""
    raise TypeError(f"{name}: no widget for {annotation!r}")


def _names(value: Any) -> str:
    """Return a list of names as the comma-separated text its widget shows."""
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def edit_model(model: type[BaseModel], data: dict[str, Any], key: str, fixed: dict[str, Any] | None = None,
               only: tuple[str, ...] | None = None, folded: bool = False) -> dict[str, Any]:
    """Draw a widget for each field of `model` (or those in `only`), filled from `data`; return what they hold.

    `fixed` fields are not drawn: a union's selector above the model has chosen them. The model's
    ADVANCED fields go under "More settings", unless the model is `folded` in one already (Streamlit
    does not fold a fold).
    """
    result: dict[str, Any] = dict(fixed or {})
    names = [name for name in model.model_fields if name not in result and (only is None or name in only)]
    advanced = ADVANCED.get(model, ())
    _edit_fields(model, [name for name in names if name not in advanced], data, key, result, folded)
    more = [name for name in names if name in advanced]
    if more and folded:
        _edit_fields(model, more, data, key, result, folded)
    elif more:
        with st.expander("More settings"):
            _edit_fields(model, more, data, key, result, True)
    return result


def _edit_fields(model: type[BaseModel], names: list[str], data: dict[str, Any], key: str, result: dict[str, Any],
                 folded: bool) -> None:
    """Draw the named fields of `model` into `result`: plain ones three to a row, then each part in its box."""
    defaults = seed(model)
    unwrapped = {name: _unwrap(model.model_fields[name].annotation) for name in names}
    parts = {name for name, (annotation, _, _) in unwrapped.items() if _variants(annotation) or (
        get_origin(annotation) is list and _variants(_unwrap(get_args(annotation)[0])[0]))}
    grid = st.container() if len(parts) < len(names) else None  # above the parts, in rows that stay aligned
    count, row = 0, []
    for name in names:
        info = model.model_fields[name]
        annotation, optional, discriminator = unwrapped[name]
        discriminator = discriminator or info.discriminator
        value = data.get(name, defaults.get(name))
        path = f"{key}.{name}"
        variants = _variants(annotation)
        if variants:
            result[name] = _edit_part(_title(name, info), info, variants, discriminator, optional, value, path, folded)
        elif name in parts:
            result[name] = _edit_list(_title(name, info), info, get_args(annotation)[0], value or [], path, folded)
        elif get_origin(annotation) is list:
            row = grid.columns(3, vertical_alignment="bottom") if count % 3 == 0 else row
            with row[count % 3]:
                if path not in st.session_state:
                    st.session_state[path] = _names(value)
                text = st.text_input(_title(name, info), key=path,
                                     help=f"{info.description or ''} (comma-separated)")
            result[name] = [part.strip() for part in text.split(",") if part.strip()]
            count += 1
        else:
            row = grid.columns(3, vertical_alignment="bottom") if count % 3 == 0 else row
            with row[count % 3]:
                result[name] = _scalar(name, info, annotation, optional, value, path)
            count += 1


def _edit_part(title: str, info: FieldInfo, variants: list[type[BaseModel]], discriminator: str | None,
               optional: bool, value: Any, key: str, folded: bool = False) -> dict[str, Any] | None:
    """Draw a nested part: a switch if it is optional, a choice of kind if it is a union, then its fields."""
    # Described by the field, else by what the part is (its model's first line) when it has one kind.
    help_text = info.description or ((variants[0].__doc__ or "").split("\n")[0] if len(variants) == 1 else None)
    with st.container(border=True):
        if optional:
            if f"{key}:on" not in st.session_state:
                st.session_state[f"{key}:on"] = value is not None
            if not st.toggle(f"**{title}**", key=f"{key}:on", help=help_text):
                return None
        else:
            st.markdown(f"**{title}**", help=help_text)
        model = variants[0]
        if len(variants) > 1:
            tags = [_tag(v, discriminator) for v in variants]
            current = value.get(discriminator) if isinstance(value, dict) else None
            if f"{key}:kind" not in st.session_state:
                st.session_state[f"{key}:kind"] = current if current in tags else tags[0]
            chosen = st.selectbox(_title(discriminator, variants[0].model_fields[discriminator]), tags,
                                  key=f"{key}:kind", format_func=choice_label)
            model = variants[tags.index(chosen)]
            if current != chosen:
                value = None  # another kind: start from its own defaults
        data = value if isinstance(value, dict) else seed(model)
        if not discriminator:
            return edit_model(model, data, key, folded=folded)
        tag = _tag(model, discriminator)
        return edit_model(model, data, f"{key}:{tag}", {discriminator: tag}, folded=folded)


def _edit_list(title: str, info: FieldInfo, item: Any, items: list, key: str, folded: bool = False) -> list:
    """Draw a list of parts: how many, then each one in turn (new ones start from defaults)."""
    annotation, _, discriminator = _unwrap(item)
    variants = _variants(annotation)
    limit = next((m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)), None)
    low = next((m.min_length for m in info.metadata if isinstance(m, annotated_types.MinLen)), 0)
    if len(items) > MAX_ITEMS:
        st.caption(f"{title}: {len(items)}; edit them in the YAML below (the form shows up to {MAX_ITEMS}).")
        return items
    if f"{key}:n" not in st.session_state:
        st.session_state[f"{key}:n"] = len(items)
    count = st.number_input(f"{title}: how many", min_value=low, max_value=min(limit or MAX_ITEMS, MAX_ITEMS),
                            step=1, key=f"{key}:n", help=info.description)
    result = []
    for index in range(count):
        value = items[index] if index < len(items) else None
        if value is None:
            value = seed(variants[0])
            if "name" in value:
                value["name"] = f"{value['name']}_{index + 1}"
        one = f"{title.removesuffix('s')} {index + 1}"  # Failures -> Failure 1
        result.append(_edit_part(one, info, variants, discriminator, False, value, f"{key}.{index}", folded))
    return result


# The scenario's parts, grouped as the architecture diagram draws them.
GROUPS = {
    "Run": ("name", "description", "seed", "duration_s", "window_s"),
    "Traffic": ("traffic",),
    "Web tier": ("load_balancer", "web"),
    "Database": ("database",),
    "LLM": ("llm",),
    "Caches, limits, retrieval": ("cache", "token_limits", "retrieval"),
    "Failures": ("failures",),
}


def edit_scenario(model: type[BaseModel], data: dict[str, Any], key: str) -> dict[str, Any]:
    """Draw every field of a scenario, one tab per group of components, and return the data they hold."""
    grouped = {name for names in GROUPS.values() for name in names}
    groups = {**GROUPS, "Other": tuple(name for name in model.model_fields if name not in grouped)}
    groups = {title: names for title, names in groups.items() if names}
    result: dict[str, Any] = {}
    for tab, names in zip(st.tabs(list(groups)), groups.values()):
        with tab:
            result.update(edit_model(model, data, key, only=names))
    return result
