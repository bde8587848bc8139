"""A widget for every scenario field, drawn from the scenario's own schema.

Teams prototyping an architecture want every knob, and the knobs change whenever the engine
grows one. So the form is not written by hand: it walks the pydantic models of the scenario
format and draws, for each field, the widget its type calls for (a number box bounded by the
field's range, a choice for a fixed set of values, a switch for an optional part), labelled with
the field's name and described by its own description, the one that carries its unit and source.
What the widgets hold is returned as plain data; validating it is the scenario format's job.
"""

from __future__ import annotations

import math
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

MAX_JS_INT = 2**53 - 1  # the browser holds numbers as doubles: larger integers lose digits
MAX_ITEMS = 20  # list items drawn at once; longer lists are edited as YAML


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
    help_text = info.description
    if key not in st.session_state:
        st.session_state[key] = value  # first drawing: show the scenario's value
    if get_origin(annotation) is Literal:
        options = list(get_args(annotation))
        if st.session_state[key] not in options and not optional:
            st.session_state[key] = options[0]
        return st.selectbox(name, options, key=key, help=help_text, index=None if optional else 0,
                            placeholder="none" if optional else "Choose an option")
    if annotation is bool:
        return st.toggle(name, key=key, help=help_text)
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
        placeholder = f"null: {help_text}" if optional else None
        return st.number_input(name, min_value=low, max_value=high, step=_step(info, annotation), key=key,
                               value=None if optional else "min", help=help_text, placeholder=placeholder,
                               format=None if annotation is int else "%g")
    if annotation is str:
        limit = next((m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)), None)
        if limit and limit > 200:
            return st.text_area(name, key=key, help=help_text, max_chars=limit, height=80)
        return st.text_input(name, key=key, help=help_text, max_chars=limit)
    raise TypeError(f"{name}: no widget for {annotation!r}")


def _names(value: Any) -> str:
    """Return a list of names as the comma-separated text its widget shows."""
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def edit_model(model: type[BaseModel], data: dict[str, Any], key: str,
               fixed: dict[str, Any] | None = None, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Draw a widget for each field of `model` (or those in `only`), filled from `data`; return what they hold.

    `fixed` fields are not drawn: a union's selector above the model has chosen them.
    """
    result: dict[str, Any] = dict(fixed or {})
    defaults = seed(model)
    scalars = st.columns(3)
    count = 0
    for name, info in model.model_fields.items():
        if name in result or (only is not None and name not in only):
            continue
        annotation, optional, discriminator = _unwrap(info.annotation)
        discriminator = discriminator or info.discriminator
        value = data.get(name, defaults.get(name))
        path = f"{key}.{name}"
        variants = _variants(annotation)
        if variants:
            result[name] = _edit_part(name, info, variants, discriminator, optional, value, path)
        elif get_origin(annotation) is list and _variants(_unwrap(get_args(annotation)[0])[0]):
            result[name] = _edit_list(name, info, get_args(annotation)[0], value or [], path)
        elif get_origin(annotation) is list:
            with scalars[count % 3]:
                if path not in st.session_state:
                    st.session_state[path] = _names(value)
                text = st.text_input(name, key=path, help=f"{info.description or ''} (comma-separated)")
            result[name] = [part.strip() for part in text.split(",") if part.strip()]
            count += 1
        else:
            with scalars[count % 3]:
                result[name] = _scalar(name, info, annotation, optional, value, path)
            count += 1
    return result


def _edit_part(name: str, info: FieldInfo, variants: list[type[BaseModel]], discriminator: str | None,
               optional: bool, value: Any, key: str) -> dict[str, Any] | None:
    """Draw a nested part: a switch if it is optional, a choice of kind if it is a union, then its fields."""
    with st.container(border=True):
        if optional:
            if f"{key}:on" not in st.session_state:
                st.session_state[f"{key}:on"] = value is not None
            if not st.toggle(f"**{name}**", key=f"{key}:on", help=info.description):
                return None
        else:
            st.markdown(f"**{name}**", help=info.description)
        model = variants[0]
        if len(variants) > 1:
            tags = [_tag(v, discriminator) for v in variants]
            current = value.get(discriminator) if isinstance(value, dict) else None
            if f"{key}:kind" not in st.session_state:
                st.session_state[f"{key}:kind"] = current if current in tags else tags[0]
            chosen = st.selectbox(f"{name}: {discriminator}", tags, key=f"{key}:kind")
            model = variants[tags.index(chosen)]
            if current != chosen:
                value = None  # another kind: start from its own defaults
        data = value if isinstance(value, dict) else seed(model)
        if not discriminator:
            return edit_model(model, data, key)
        tag = _tag(model, discriminator)
        return edit_model(model, data, f"{key}:{tag}", {discriminator: tag})


def _edit_list(name: str, info: FieldInfo, item: Any, items: list, key: str) -> list:
    """Draw a list of parts: how many, then each one in turn (new ones start from defaults)."""
    annotation, _, discriminator = _unwrap(item)
    variants = _variants(annotation)
    limit = next((m.max_length for m in info.metadata if isinstance(m, annotated_types.MaxLen)), None)
    low = next((m.min_length for m in info.metadata if isinstance(m, annotated_types.MinLen)), 0)
    if len(items) > MAX_ITEMS:
        st.caption(f"{name}: {len(items)} items; edit them in the YAML below (the form shows up to {MAX_ITEMS}).")
        return items
    if f"{key}:n" not in st.session_state:
        st.session_state[f"{key}:n"] = len(items)
    count = st.number_input(f"{name}: how many", min_value=low, max_value=min(limit or MAX_ITEMS, MAX_ITEMS),
                            step=1, key=f"{key}:n", help=info.description)
    result = []
    for index in range(count):
        value = items[index] if index < len(items) else None
        if value is None:
            value = seed(variants[0])
            if "name" in value:
                value["name"] = f"{value['name']}_{index + 1}"
        result.append(_edit_part(f"{name} {index + 1}", info, variants, discriminator, False, value, f"{key}.{index}"))
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
