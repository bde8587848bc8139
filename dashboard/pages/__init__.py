"""The app's pages, one module each, and the one list of them (with their addresses) the router runs.

Each page module defines `render_<page>()` and calls it when Streamlit runs the file as the page's
script, so a page can also be drawn from elsewhere (a learner's own lesson inside the classroom).
"""

from __future__ import annotations

import streamlit as st


def sections() -> dict[str, list]:
    """Return the app's pages by section; every page has its own URL path (the home page is also /)."""
    return {
        "": [st.Page("dashboard/pages/home.py", title="Home", icon=":material/home:", default=True)],
        "Learn": [st.Page("dashboard/pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
                  st.Page("dashboard/pages/glossary.py", title="Glossary", icon=":material/menu_book:", url_path="glossary"),
                  st.Page("dashboard/pages/sources.py", title="Sources", icon=":material/format_quote:", url_path="sources")],
        "Build": [st.Page("dashboard/pages/live.py", title="Live simulation", icon=":material/monitoring:", url_path="live"),
                  st.Page("dashboard/pages/sandbox.py", title="Sandbox", icon=":material/tune:", url_path="sandbox"),
                  st.Page("dashboard/pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
                  st.Page("dashboard/pages/capacity.py", title="Capacity", icon=":material/trending_up:", url_path="capacity"),
                  st.Page("dashboard/pages/search.py", title="Search", icon=":material/travel_explore:", url_path="search"),
                  st.Page("dashboard/pages/lab_page.py", title="Lab", icon=":material/science:", url_path="lab")],
        "Teach": [st.Page("dashboard/pages/classroom.py", title="Classroom", icon=":material/groups:", url_path="classroom")],
    }


def page(url_path: str):
    """Return the page at `url_path` (for st.page_link and st.switch_page)."""
    return next(p for group in sections().values() for p in group if p.url_path == url_path)
