"""The home page: what the lab is, where to go first, and a short tour on a first visit."""

from __future__ import annotations

import streamlit as st

from curriculum.tour import Tour, load_tour
from dashboard.pages import page
from dashboard.view.controls import draw_controls
from dashboard.view.player import Player

TOUR_STEP, TOUR_DONE, TOUR_PLAYER = "tour_step", "tour_done", "tour"


@st.cache_resource(show_spinner=False)
def tour() -> Tour:
    """Return the tour (lessons/tour.yaml), read once per process."""
    return load_tour()


def _tour_player(the_tour: Tour, lesson) -> Player:
    """Return the tour's player: the lesson step it names, opened as the lesson page opens it."""
    if TOUR_PLAYER not in st.session_state:
        step = lesson.steps[the_tour.live.step]
        build = lambda: lesson.playback(lesson.opening_at(the_tour.live.step))  # noqa: E731
        player = Player(TOUR_PLAYER, build, warm_up_s=step.opening_warmup_s(), speed=step.speed)
        player.watched = tuple(step.watched())
        st.session_state[TOUR_PLAYER] = player
    return st.session_state[TOUR_PLAYER]


def _end_tour() -> None:
    """Close the tour (skipped or finished); it stays closed for this visit."""
    st.session_state[TOUR_DONE] = True
    player = st.session_state.get(TOUR_PLAYER)
    if player is not None:
        player.pause()


def _draw_tour(the_tour: Tour) -> None:
    """Draw the tour's current step, its live simulation if it has one, and the ways on."""
    index = min(st.session_state.get(TOUR_STEP, 0), len(the_tour.steps) - 1)
    step = the_tour.steps[index]
    with st.container(border=True, key="tour_box"):
        st.caption(f"Tour, step {index + 1} of {len(the_tour.steps)} (about {the_tour.minutes():.0f} minutes in all)")
        st.subheader(step.title)
        st.markdown(step.text)
        if step.live:
            from dashboard.pages.lessons import lesson_named

            lesson = lesson_named(the_tour.live.lesson)
            player = _tour_player(the_tour, lesson)
            player.draw_buttons()
            player.draw_view(controls=lambda: draw_controls(player, lesson.steps[the_tour.live.step].controls))
        with st.container(horizontal=True):
            if index < len(the_tour.steps) - 1:
                st.button("Next", key="tour_next", type="primary", icon=":material/arrow_forward:",
                          on_click=lambda: st.session_state.update({TOUR_STEP: index + 1}))
                st.button("Skip the tour", key="tour_skip", on_click=_end_tour)
            else:
                st.button("Finish the tour", key="tour_finish", type="primary", on_click=_end_tour)


def render_home() -> None:
    """Render the home page: one line on what this is, the tour on a first visit, then the three ways in."""
    st.title("GenAI Scaling Lab")
    st.markdown("How an application built on a large language model grows from one user to millions. "
                "A simulation of the whole request path (load balancer, web servers, database, caches, "
                "the model) runs live while you change the architecture, and latency, errors and spend "
                "move because its queues move.")
    if not st.session_state.get(TOUR_DONE):
        _draw_tour(tour())
    learn, build, teach = st.columns(3, border=True)
    with learn:
        st.subheader("Learn")
        st.markdown("Sixteen lessons, one server to ten million users, each with experiments you run.")
        st.page_link(page("lessons"), label="Start the lessons",
                     icon=":material/school:")
    with build:
        st.subheader("Build")
        st.markdown("Prototype an architecture: start from a template, replay your own traffic, compare two "
                    "designs, size it for your users, and search for the cheapest one that meets your target.")
        st.page_link(page("sandbox"), label="Open the sandbox", icon=":material/tune:")
        st.page_link(page("search"), label="Find the cheapest architecture", icon=":material/travel_explore:")
    with teach:
        st.subheader("Teach")
        st.markdown("Present a lesson to a room; learners follow on their own screens.")
        st.page_link(page("classroom"), label="Open a classroom", icon=":material/groups:")
    if st.session_state.get(TOUR_DONE):
        st.button("Take the tour again", key="tour_again", icon=":material/tour:",
                  on_click=lambda: st.session_state.update({TOUR_DONE: False, TOUR_STEP: 0}))


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_home()
