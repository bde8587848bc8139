"""Reading the live view as a learner sees it: the frame the page sent to the live view component."""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest


def frame(at: AppTest) -> dict:
    """Return the live view's frame (headline, charts, diagram, counts) the page drew last."""
    views = [element for element in at.get("bidi_component") if element.proto.component_name == "gsl_live_view"]
    assert views, "the page drew no live view"
    return json.loads(views[-1].proto.json)


def chart(frame_: dict, chart_id: str) -> dict:
    """Return one chart's Plotly figure."""
    return next(chart_["figure"] for chart_ in frame_["charts"] if chart_["id"] == chart_id)


def trace(figure: dict, name: str) -> dict:
    """Return the trace called `name` of a figure."""
    return next(t for t in figure["data"] if t["name"] == name)


def names(figure: dict) -> list[str]:
    """Return the names of a figure's traces."""
    return [t["name"] for t in figure["data"]]


def cells(frame_: dict) -> dict[str, dict]:
    """Return the headline cells by label."""
    return {cell["label"]: cell for cell in frame_["headline"]}


def nodes(frame_: dict) -> dict[str, dict]:
    """Return the diagram's nodes by id."""
    return {node["id"]: node for column in frame_["diagram"]["columns"] for node in column}


def unescaped(text: str) -> str:
    """Return a message as the browser shows it: the backslashes that keep Markdown from reading it removed."""
    return re.sub(r"\\(.)", r"\1", text)


def errors(at: AppTest) -> list[str]:
    """Return the error messages on the page as a learner reads them."""
    return [unescaped(e.value) for e in at.error]
