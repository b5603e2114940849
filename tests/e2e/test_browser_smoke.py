"""A real browser on the real server: the pages' foundation (DSFR layout, French error page,
security headers) renders styled, with its scripts allowed by the Content-Security-Policy.

The server is `passemarche serve` (gunicorn) on a SQLite database of its own; Chromium is Debian's
(see tests/e2e/browser.py). Screenshots land in test-output/<test name>/.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e import browser
from tests.e2e.conftest import PASSEMARCHE, process_env

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """The e2e conftest's environment, on a migrated SQLite file instead of PostgreSQL/Redis."""
    env = process_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'passemarche.sqlite3'}")
    subprocess.run(
        [str(PASSEMARCHE), "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60
    )
    return env


def test_an_unknown_page_shows_the_french_error_page_styled_by_the_dsfr(
    start_server, browser_page, browser_console
):
    server = start_server(workers=1)
    base = f"http://127.0.0.1:{server.port}"
    responses = []
    browser_page.on("response", lambda r: responses.append(r))

    response = browser_page.goto(f"{base}/buyer/page-inconnue", wait_until="load")

    assert response.status == 404
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert browser_page.title() == "Page introuvable – Passe Marché"
    assert browser_page.locator("html").get_attribute("lang") == "fr"
    assert browser_page.locator("h1").inner_text() == "Page introuvable"
    assert "La page demandée n’existe pas." in browser_page.locator("main").inner_text()
    assert "Passe Marché" in browser_page.locator("header").inner_text()

    # The DSFR stylesheet loaded and applies (Marianne font); no other file was missing.
    stylesheets = [r for r in responses if r.request.resource_type == "stylesheet"]
    # (sorted: the two stylesheets load in parallel, in either order)
    assert sorted((r.status, r.url.rsplit("/", 1)[-1]) for r in stylesheets) == [
        (200, "dsfr.min.css"),
        (200, "pages.css"),
    ]
    assert all(r.status in (200, 404) for r in responses), [(r.status, r.url) for r in responses]
    assert [r.url for r in responses if r.status == 404] == [f"{base}/buyer/page-inconnue"]
    font = browser_page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Marianne" in font
    browser_page.wait_for_function("document.fonts.status === 'loaded'")
    assert browser_page.evaluate("document.fonts.check('1rem Marianne')")
    # DSFR's script ran (it marks the document) despite `script-src 'self'`.
    browser_page.wait_for_selector("html[data-fr-js='true']", state="attached")
    # Nothing refused by the CSP, no script error; the one failed load is the page's own 404.
    errors = [m for m in browser_console if m.startswith(("error", "pageerror"))]
    assert len(errors) == 1 and "status of 404" in errors[0], browser_console

    path = browser.screenshot(browser_page, "page-introuvable")
    assert path.stat().st_size > 10_000

    # Keyboard first: the first Tab reaches the skip link, which leads to the content.
    browser_page.keyboard.press("Tab")
    focused = browser_page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Aller au contenu"
    browser_page.keyboard.press("Enter")
    assert browser_page.evaluate("document.activeElement.id") == "contenu"
