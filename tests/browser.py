"""Debian's chromium for the browser tests (Playwright cannot download a browser here; .ci/run installs it)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def skip_without_chromium() -> None:
    """Skip the calling test module when chromium is missing, except in CI, where that is a failure."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("chromium is not installed (CI installs it)", allow_module_level=True)


def launch(playwright):
    """Launch Debian's chromium headless."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
              "--disable-sync"])


def settled(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=30_000)


@contextmanager
def app_server():
    """Start the app on a free port, as Streamlit's own end-to-end tests do; yield its address; stop it."""
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


def blank_charts(page) -> int:
    """Return how many of the live view's chart panels on screen show no plot in a screenshot taken now."""
    from PIL import Image

    boxes = page.evaluate("""() => Array.from(document.querySelectorAll('.gsl-chart')).map(e => {
        const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })""")
    shot = Image.open(io.BytesIO(page.screenshot())).convert("L")
    blank = 0
    for x, y, width, height in boxes:
        if width < 50 or height < 50 or y > shot.height or y + height < 0:
            continue  # off screen: not part of this frame
        crop = shot.crop((int(x), int(max(y, 0)), int(x + width), int(min(y + height, shot.height))))
        inked = sum(1 for value in crop.get_flattened_data() if value < 200)  # lines, axes, text
        blank += inked < 0.005 * crop.width * crop.height
    return blank


def truncated(page) -> list[str]:
    """Return the buttons, inputs, labels and headline texts on screen whose text is cut (scrollWidth > clientWidth)."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        'button, [data-testid=stWidgetLabel] p, [data-testid=stSidebarNav] span, .gsl-label, .gsl-value, ' +
        '.gsl-compare, input[type=number], input[type=text]:not([data-baseweb=select] input)'))
        .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
        .map(e => (e.innerText || e.value || '').slice(0, 40))""")
