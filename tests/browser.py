"""Headless Chromium for the browser tests (Debian's `chromium`, driven by Playwright), the folder
their screenshots go to, and axe-core's accessibility check of our pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
# axe-core from npm (tests/bpmnlint/package.json, installed by `make`).
AXE = REPO / "tests" / "bpmnlint" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A launched browser, closed afterwards; a missing Chromium fails the test, never skips it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: make install (npm ci in tests/bpmnlint)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshots() -> Path:
    folder = Path(os.environ.get("DATA_DIR", REPO / ".data")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def assert_accessible(page: Page, name: str) -> None:
    """Zero WCAG 2.1 A/AA violations on the page as it is now. axe is evaluated (not added as a
    <script>), so the page's own Content-Security-Policy stays on."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))",
        WCAG,
    )
    assert violations == [], f"{name}: {violations}"
