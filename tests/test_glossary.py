"""The glossary: every term a lesson sets in bold is defined there, and the page finds terms."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from curriculum.format import LESSONS_DIR, lesson_folders
from dashboard.pages.glossary import GLOSSARY, entries

BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def normal(term: str) -> str:
    """Lower-case a term, collapse its spaces and drop a plural s, for matching."""
    term = " ".join(term.lower().split()).strip(" .:")
    return term[:-1] if term.endswith("s") and not term.endswith("ss") else term


DEFINED = [normal(term) for term in entries(GLOSSARY.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("folder", lesson_folders())
def test_every_term_a_lesson_sets_in_bold_is_in_the_glossary(folder):
    for path in sorted((LESSONS_DIR / folder).glob("[0-9]*.md")):
        for term in BOLD.findall(path.read_text(encoding="utf-8")):
            assert any(normal(term) in entry for entry in DEFINED), f"{folder}/{path.name}: **{term}** is not in the glossary"


def test_the_glossary_is_in_alphabetical_order():
    terms = entries(GLOSSARY.read_text(encoding="utf-8"))
    assert len(terms) > 40
    assert terms == sorted(terms, key=lambda t: re.sub(r"[^a-z0-9]", "", t.lower()))


def test_the_page_shows_the_glossary_and_filters_it():
    at = AppTest.from_string("from dashboard.pages.glossary import render_glossary\nrender_glossary()\n").run()
    assert not at.exception
    assert "**Replica**" in at.markdown[0].value and "**Token**" in at.markdown[0].value
    at.text_input(key="glossary_find").set_value("replica").run()
    shown = at.markdown[0].value
    assert "**Replica**" in shown and "**Token**:" not in shown
    at.text_input(key="glossary_find").set_value("zzzz").run()
    assert "No term mentions “zzzz”" in at.markdown[0].value
    at.text_input(key="glossary_find").set_value("![x](https://attacker.example/p.png)").run()
    assert at.markdown[0].value == "No term mentions “\\!\\[x\\]\\(https\u2060\\://attacker\\.example/p\\.png\\)”."
