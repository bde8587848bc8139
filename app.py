"""GenAI Scaling Lab: the app's entry point, only a router that lists the pages and runs the chosen one.

`streamlit run app.py` (or `make run`). Pages live in dashboard/pages/, the pieces every live page
shares (the player, the live view, the controls) in dashboard/view/, the classroom's shared state
in dashboard/classroom/. Every page has its own address (/lessons, /live, ...); the home page is /.
"""

import streamlit as st

from dashboard.classroom.shared import banner
from dashboard.pages import sections

PRESENTER_CSS = """
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.45rem; }
[data-testid="stMain"] [data-testid="stWidgetLabel"] p { font-size: 1.2rem; }
[data-testid="stMain"] button [data-testid="stMarkdownContainer"] p { font-size: 1.25rem; }
[data-testid="stMain"] h1 { font-size: 3.2rem; }
[data-testid="stMain"] input, [data-testid="stMain"] textarea,
[data-testid="stMain"] [data-baseweb="select"] > div { font-size: 1.2rem; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] p { font-size: 1.1rem; }
"""

st.set_page_config(page_title="GenAI Scaling Lab", layout="wide")
# Drawn here, in the entry file, so the choice holds on every page. The theme cannot change at run
# time, so presenter mode is style: larger type in the page (the live view and its charts grow
# too), readable from the back of a room; the sidebar keeps its size and can be collapsed.
if st.sidebar.toggle("Presenter mode", key="presenter", help="Larger type and numbers for a projector."):
    st.html("<style>" + PRESENTER_CSS + "</style>")
banner()
st.navigation(sections()).run()
