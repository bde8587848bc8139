"""Every number the project cites can be checked inside the repository (docs/sources.md).

A learner has the repository, nothing beside it: a citation of a reference file outside it is a
dead end. These tests read every tracked text file the way a learner would follow a citation.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "docs" / "sources.md"
TEXT = (".md", ".yaml", ".yml", ".py", ".csv", ".toml", ".txt", ".ini", ".cfg")
OUTSIDE = re.compile(r"\.\./shared|shared/guides|shared/data|reference-numbers|reference numbers", re.IGNORECASE)
CITATION = re.compile(r"docs/sources\.md, ([A-Z][A-Za-z ]+?)(?=[).;:,]|$| and )")


def tracked_text_files() -> list[Path]:
    """Return the repository's tracked text files (this test itself excepted: it names what it forbids)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if name.endswith(TEXT) and not name.endswith("test_sources.py")]


def sections() -> set[str]:
    """Return the headings of docs/sources.md's sections."""
    return {line[3:].strip() for line in SOURCES.read_text().splitlines() if line.startswith("## ")}


def test_nothing_cites_a_file_outside_the_repository():
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
                 for path in tracked_text_files()
                 for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_every_citation_of_docs_sources_names_one_of_its_sections():
    known = sections()
    assert {"LLM serving", "Workload traces", "Prices", "Infrastructure", "Database capacity"} <= known
    cited: dict[str, list[str]] = {}
    for path in tracked_text_files():
        for match in CITATION.finditer(path.read_text(errors="replace")):
            cited.setdefault(match.group(1).strip(), []).append(str(path.relative_to(ROOT)))
    assert len(cited) >= 5  # the lessons, presets and engine cite it: the pattern must still find them
    unknown = {name: places for name, places in cited.items() if name not in known}
    assert unknown == {}


def test_the_figures_lessons_quote_are_written_in_docs_sources():
    """The figures lessons lean on most are on the page itself, not only a pointer to elsewhere."""
    text = SOURCES.read_text()
    for figure in ("407 ms", "18.6 ms", "61,680", "1,155", "36.6 %", "2.50", "10.00", "0.15", "0.60",
                   "15,000-25,000", "max_connections", "0.2-0.3 ms", "6 RPM per 1,000 TPM", "31 %"):
        assert figure in text, figure


def test_the_sources_page_shows_every_section_and_one_on_its_own():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("from dashboard.pages.sources import render_sources\nrender_sources()\n").run()
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    assert "Every outside number the project uses" in shown
    assert "61,680" in shown and "15,000-25,000" in shown  # LLM serving and Database capacity, all at once
    at.selectbox(key="sources_section").set_value("Prices").run()
    shown = "\n".join(m.value for m in at.markdown)
    assert "gpt-4o-mini" in shown and "61,680" not in shown
    assert set(at.selectbox(key="sources_section").options) >= {"LLM serving", "Prices", "Database capacity"}


def test_lessons_name_only_what_the_screen_shows():
    """Names a learner would look for in vain (the read-through found each of these in a lesson)."""
    gone = re.compile(r"[Ww]eb busy|db primary busy|[Uu]tilisation chart|\"Requests waiting in line\"|completions line|"
                      r"[Ee]rror bars|headline strip|charts' time span")
    lessons = ROOT / "lessons"
    offenders = [f"{path.relative_to(ROOT)}:{number}: {gone.search(line).group(0)}"
                 for path in sorted(lessons.rglob("*")) if path.suffix in (".md", ".yaml")
                 for number, line in enumerate(path.read_text().splitlines(), 1) if gone.search(line)]
    assert offenders == []
