"""Charts drawn once (Compare, Capacity, Search, the Lab, a trace's shape), readable from the back of a room.

The live view sizes its own charts for presenter mode as it builds them (charts.layout). Every other
chart is drawn through `show_figure`, which gives it the same presenter font when the mode is on.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.view.charts import PRESENTER_FONT

ROOM_HEIGHT = 1.25  # x the chart's height: larger type needs more room between ticks


def for_the_room(figure: go.Figure) -> go.Figure:
    """Set every text of `figure` at presenter size (ticks, axis and chart titles, legend, annotations such
    as subplot titles, hover) and let the margins grow to hold it; return the figure."""
    figure.update_layout(font_size=PRESENTER_FONT, title_font_size=PRESENTER_FONT + 4,
                         legend_font_size=PRESENTER_FONT, hoverlabel_font_size=PRESENTER_FONT)
    figure.update_annotations(font_size=PRESENTER_FONT)
    figure.update_xaxes(automargin=True, tickfont_size=PRESENTER_FONT, title_font_size=PRESENTER_FONT)
    figure.update_yaxes(automargin=True, tickfont_size=PRESENTER_FONT, title_font_size=PRESENTER_FONT)
    if figure.layout.height:
        figure.update_layout(height=round(figure.layout.height * ROOM_HEIGHT))
    return figure


def show_figure(figure: go.Figure, key: str) -> None:
    """Draw `figure` across the page, at presenter size when presenter mode is on."""
    if st.session_state.get("presenter"):
        for_the_room(figure)
    st.plotly_chart(figure, key=key, width="stretch")
