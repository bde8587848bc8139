"""In a real browser: open the app, play a lesson, change it, and see the charts move.

Uses Debian's chromium (Playwright cannot download browsers here); .ci/run installs it. Screenshots
of every page go to tests/screenshots/ (made by the test, not committed) for a person to look at.
"""

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import launch, settled, skip_without_chromium

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
PAGES = ["lessons", "glossary", "live", "sandbox", "compare", "capacity"]

skip_without_chromium()

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """Start the app on a free port, as Streamlit's own end-to-end tests do; stop it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("the app did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Launch Debian's chromium headless."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def simulated_time(page) -> float:
    """Read the 'Simulated time' number off the headline strip."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Simulated time")
    return float(metric.locator("[data-testid='stMetricValue']").inner_text().split()[0].replace(",", ""))


def test_every_page_opens_and_is_photographed(server, browser):
    SHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    for name in PAGES:
        page.goto(f"{server}/{name}")
        settled(page)
        assert page.locator("[data-testid='stException']").count() == 0, name
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_playing_a_lesson_moves_the_charts_and_a_change_shows_on_them(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{server}/lessons")
    settled(page)
    page.get_by_role("button", name="Next step").click()
    settled(page)
    page.get_by_role("button", name="Start").click()
    page.wait_for_timeout(3_000)
    first = simulated_time(page)
    page.wait_for_timeout(2_000)
    second = simulated_time(page)
    assert second > first > 0  # the fragment ticks in the browser: the view keeps moving
    rate = page.get_by_label("Arrival rate (req/s)")
    rate.fill("4")
    rate.press("Enter")
    page.wait_for_timeout(2_500)
    assert page.locator(".annotation-text", has_text="rate_rps = 4").count() > 0  # the change is marked
    page.screenshot(path=str(SHOTS / "lesson-playing.png"), full_page=True)


def test_the_sandbox_form_applies_a_changed_knob(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{server}/sandbox")
    settled(page)
    page.get_by_text("Edit every setting", exact=True).click()
    page.get_by_role("tab", name="Web tier").click()
    replicas = page.get_by_role("tabpanel").get_by_label("replicas", exact=True)
    replicas.fill("6")
    replicas.press("Enter")
    settled(page)
    page.screenshot(path=str(SHOTS / "sandbox-settings.png"), full_page=True)
    page.get_by_role("button", name="Apply and restart").click()
    expect(page.get_by_label("YAML", exact=True)).to_have_value(re.compile(r"\n  replicas: 6\n"))
    assert page.locator("[data-testid='stException']").count() == 0
