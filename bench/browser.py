"""What a learner feels, measured in a real browser: time to the first chart, to a change, updates per second.

Starts the app, drives Debian's chromium with Playwright and prints three figures (issue 4's
targets): how long after opening a lesson its first chart is drawn (target 2 s), how long after a
control is changed the charts show it (target 1 s), and how many times per second the live view
updates while a scenario of one million daily users plays (target 2). Figures, not a test: a shared
two-core machine makes timings vary. Run with `python -m bench.browser`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from dashboard.pages.sandbox import encode_link
from engine import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
MILLION_USERS = {
    "name": "One million daily users",
    "traffic": {"users": {"daily_active": 1_000_000, "requests_per_user_per_day": 10, "peak_to_average": 2}},
    "load_balancer": {"algorithm": "least_connections"},
    "web": {"replicas": 12, "size": "large", "async_io": True},
    "database": {"placement": "separate", "read_replicas": 2, "cores": 16, "max_connections": 1000},
    "llm": {"kind": "hosted"},
}


def start_app() -> tuple[subprocess.Popen, str]:
    """Start the app on a free port and wait until it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                                str(port), "--server.fileWatcherType", "none"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.25)
    process.terminate()
    raise RuntimeError("the app did not start")


def simulated_time(page) -> str:
    """Return the text of the 'Simulated time' number."""
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Simulated time")
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def main() -> int:
    """Measure and print the three figures."""
    process, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/lessons")  # warm-up: the first load compiles and caches
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            started = time.perf_counter()
            page.goto(f"{url}/lessons")
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            first_chart = time.perf_counter() - started

            page.get_by_role("button", name="Next step").click()
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
            page.get_by_role("button", name="Start").click()
            page.wait_for_timeout(2_000)
            rate = page.get_by_label("Arrival rate (req/s)")
            rate.fill("4")
            started = time.perf_counter()
            rate.press("Enter")
            page.locator(".annotation-text", has_text="rate_rps = 4").first.wait_for(timeout=30_000)
            change_seen = time.perf_counter() - started

            link = encode_link(parse_scenario(MILLION_USERS))
            page.goto(f"{url}/sandbox?s={link}")
            page.wait_for_selector(".js-plotly-plot", timeout=60_000)
            page.get_by_role("button", name="Start").click()
            page.wait_for_timeout(2_000)
            seen, changes, started = simulated_time(page), 0, time.perf_counter()
            while time.perf_counter() - started < 10:
                now = simulated_time(page)
                changes += now != seen
                seen = now
                page.wait_for_timeout(50)
            updates_per_s = changes / (time.perf_counter() - started)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    print("GenAI Scaling Lab in a real browser (Debian chromium, headless)")
    print(f"  first chart after opening a lesson: {first_chart:.2f} s   target <= 2 s")
    print(f"  a changed control shown on the charts after: {change_seen:.2f} s   target <= 1 s")
    print(f"  live view updates per second at 1,000,000 daily users: {updates_per_s:.1f}   target >= 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
