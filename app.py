"""GenAI Scaling Lab: the app's entry point, only a router that lists the pages and runs the chosen one.

`streamlit run app.py` (or `make run`). Pages live in dashboard/pages/, the pieces every live page
shares (the player, the live view, the controls) in dashboard/view/, the classroom's shared state
in dashboard/classroom/. Every page has its own address (/lessons, /live, ...); the home page is /.
"""

import streamlit as st

from dashboard.classroom.shared import banner
from dashboard.pages import sections

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
st.navigation(sections()).run()
