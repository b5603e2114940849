"""Browser tests: Debian's Chromium (`/usr/bin/chromium`, installed by `make browser`) driven by
PyPI's playwright — never `playwright install`, which downloads browsers.

Fixtures (bring them into a test module with `browser_page = browser.browser_page`, etc.):
- `browser_page`: a page of a headless Chromium with a fresh profile of its own;
- `browser_console`: what that page wrote to its console (`type: text` strings), filled as it runs.

`screenshot(page, name)` writes `test-output/<test name>/<name>.png` (the folder is gitignored)
and returns its path. Without Chromium the tests are skipped with a one-line reason, and fail
under CI (CI=true), like the services of tests/conftest.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_unavailable

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Checked on these machines (see NOTES.md): no sandbox as root, no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"
VIEWPORT = {"width": 1280, "height": 900}


def _require_chromium() -> None:
    if not CHROMIUM.is_file():
        service_unavailable(
            f"Chromium at {CHROMIUM}",
            FileNotFoundError("not installed (make browser: apt-get install chromium)"),
        )


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        service_unavailable("playwright", error)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_console() -> list[str]:
    return []


@pytest.fixture
def browser_page(
    playwright_driver: Any, browser_console: list[str], tmp_path: Path
) -> Iterator[Any]:
    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=VIEWPORT,
        locale="fr-FR",
        timezone_id="Europe/Paris",
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(10_000)
        page.on(
            "console", lambda message: browser_console.append(f"{message.type}: {message.text}")
        )
        page.on("pageerror", lambda error: browser_console.append(f"pageerror: {error}"))
        yield page
    finally:
        context.close()


def _test_name() -> str:
    # "tests/e2e/test_browser_smoke.py::test_x[param] (call)" -> "test_browser_smoke.test_x-param"
    current = os.environ.get("PYTEST_CURRENT_TEST", "unknown").rsplit(" ", 1)[0]
    module, _, name = current.partition("::")
    raw = f"{Path(module).stem}.{name}" if name else Path(module).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-")


def screenshot(page: Any, name: str) -> Path:
    """A full-page PNG under test-output/<test name>/, to look at after the run."""
    folder = OUTPUT_DIR / _test_name()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
