"""The home page: what the lab is, and where to go first."""

from __future__ import annotations

import streamlit as st

from dashboard.pages import page


def render_home() -> None:
    """Render the home page: one line on what this is, then the three ways in."""
    st.title("GenAI Scaling Lab")
    st.markdown("How an application built on a large language model grows from one user to millions. "
                "A simulation of the whole request path (load balancer, web servers, database, caches, "
                "the model) runs live while you change the architecture, and latency, errors and spend "
                "move because its queues move.")
    learn, build, teach = st.columns(3, border=True)
    with learn:
        st.subheader("Learn")
        st.markdown("Thirteen lessons, one server to ten million users, each with experiments you run.")
        st.page_link(page("lessons"), label="Start the lessons",
                     icon=":material/school:")
    with build:
        st.subheader("Build")
        st.markdown("Prototype an architecture: run it live, compare two designs, size it for your users.")
        st.page_link(page("sandbox"), label="Open the sandbox", icon=":material/tune:")
    with teach:
        st.subheader("Teach")
        st.markdown("Present a lesson to a room; learners follow on their own screens.")
        st.page_link(page("classroom"), label="Open a classroom", icon=":material/groups:")


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_home()
