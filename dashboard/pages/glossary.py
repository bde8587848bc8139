"""The glossary: every term the lessons use, to look up again (the text is data: lessons/glossary.md)."""

from __future__ import annotations

import re

import streamlit as st

from curriculum.format import LESSONS_DIR
from dashboard.view.text import as_text

GLOSSARY = LESSONS_DIR / "glossary.md"
ENTRY = re.compile(r"^\*\*(.+?)\*\*:", re.MULTILINE)


@st.cache_data(show_spinner=False)
def glossary_text() -> str:
    """Return the glossary's markdown."""
    return GLOSSARY.read_text(encoding="utf-8")


def entries(text: str) -> list[str]:
    """Return the terms the glossary defines, in order."""
    return ENTRY.findall(text)


def render_glossary() -> None:
    """Render the glossary, with a filter."""
    st.title("Glossary")
    text = glossary_text()
    wanted = st.text_input("Find a term", key="glossary_find", max_chars=60).strip().lower()
    paragraphs = text.split("\n\n")
    shown = [p for p in paragraphs[1:] if wanted in p.lower()] if wanted else paragraphs
    st.markdown("\n\n".join(shown) if shown else f"No term mentions “{as_text(wanted)}”.")  # typed: text, not markup


if __name__ == "__main__":  # Streamlit runs this file as the page
    render_glossary()
