"""Sources: every outside figure the lessons and defaults cite, with where it comes from (docs/sources.md).

Lessons cite "docs/sources.md, <section>": this page shows that file, so a learner in the app can
follow a citation without the repository. A section can be picked on its own.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

SOURCES = Path(__file__).resolve().parents[2] / "docs" / "sources.md"


@st.cache_data(show_spinner=False)
def sources_text() -> str:
    """Return docs/sources.md's markdown."""
    return SOURCES.read_text(encoding="utf-8")


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """Return the page's introduction and {section heading: its markdown, heading included}."""
    intro, *parts = text.split("\n## ")
    return intro, {part.split("\n", 1)[0].strip(): "## " + part for part in parts}


def render_sources() -> None:
    """Render the sources, all of them or one section."""
    intro, parts = split_sections(sources_text())
    st.markdown(intro)
    chosen = st.selectbox("Section", ["All sections", *parts], key="sources_section")
    st.markdown("\n\n".join(parts.values()) if chosen == "All sections" else parts[chosen])


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_sources()
