"""Entry point of the GenAI Scaling Lab app: a router that lists the pages and runs the chosen one."""

import sys
from pathlib import Path

import streamlit as st

# `streamlit run` puts only this folder on sys.path; engine/ and dashboard/ live one level up.
# The check matters because Streamlit executes this file again on every rerun.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from dashboard.capacity import render_capacity  # noqa: E402
from dashboard.compare import render_compare  # noqa: E402
from dashboard.glossary import render_glossary  # noqa: E402
from dashboard.lessons import render_lessons  # noqa: E402
from dashboard.live import render_live  # noqa: E402
from dashboard.classroom import render_classroom  # noqa: E402
from dashboard.sandbox import render_sandbox  # noqa: E402
from dashboard.shared import banner  # noqa: E402

PRESENTER_CSS = """
html, body, [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.45rem; }
[data-testid="stMetricValue"] { font-size: 3.2rem; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem; }
h1 { font-size: 3.4rem; }
"""

st.set_page_config(page_title="GenAI Scaling Lab", layout="wide")
# Drawn here, in the entry file, so the choice holds on every page. The theme cannot change at run
# time, so presenter mode is style: larger type and numbers, readable from the back of a room.
if st.sidebar.toggle("Presenter mode", key="presenter", help="Larger type and numbers for a projector."):
    st.html("<style>" + PRESENTER_CSS + "</style>")
banner()
st.navigation({
    "Learn": [st.Page(render_lessons, title="Lessons", icon=":material/school:", url_path="lessons"),
              st.Page(render_glossary, title="Glossary", icon=":material/menu_book:", url_path="glossary")],
    "Build": [st.Page(render_live, title="Live simulation", icon=":material/monitoring:", url_path="live",
                      default=True),
              st.Page(render_sandbox, title="Sandbox", icon=":material/tune:", url_path="sandbox"),
              st.Page(render_compare, title="Compare", icon=":material/compare_arrows:", url_path="compare"),
              st.Page(render_capacity, title="Capacity", icon=":material/trending_up:", url_path="capacity")],
    "Teach": [st.Page(render_classroom, title="Classroom", icon=":material/groups:", url_path="classroom")],
}).run()
