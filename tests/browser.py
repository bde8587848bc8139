"""Debian's chromium for the browser tests (Playwright cannot download a browser here; .ci/run installs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
