"""Browser tests: Debian's Chromium driven by Playwright against a real server.

Chromium is the system package (``/usr/bin/chromium``, installed by ``.ci/run``); Playwright's own
browser download is neither used nor needed. Locally a missing Chromium skips these tests with the
reason; under ``CI=true`` it fails them, like the PostgreSQL and Redis fixtures.

These tests run on SQLite only: the browser faces are the same whatever the database, and the
server-side behaviour is covered on both databases by the API and realtime tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest
from playwright.sync_api import expect

from ecabinet.pdf.fonts import find_font
from tests.conftest import CI, PASSWORD

CHROMIUM = os.environ.get("ECABINET_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
# Set to 1 to refresh the README's screenshots (docs/screenshots/*.png) from a run.
UPDATE_DOCS = os.environ.get("ECABINET_UPDATE_SCREENSHOTS", "") == "1"
TABLET_LANDSCAPE = {"width": 1280, "height": 800}
TABLET_PORTRAIT = {"width": 800, "height": 1280}
LAPTOP = {"width": 1440, "height": 900}
JS_ERRORS: list[str] = []


def require_chromium() -> str:
    """The Chromium executable; skip (locally) or fail (CI=true) when it is not installed."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path:
        return path
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if CI:
        pytest.fail(f"{message}; CI must run the browser tests, not skip them")
    pytest.skip(message)


@pytest.fixture
def database_url() -> None:
    """SQLite only for the browser tests (see the module docstring)."""
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_tablet(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """Open a signed-in page for ``username`` in its own browser context (its own cookies,
    storage and network, like a separate tablet)."""
    contexts: list[Any] = []

    def open_tablet(username: str, path: str = "/", viewport: dict[str, int] | None = None,
                    locale: str = "vi-VN", service_workers: str = "block",
                    via_form: bool = False) -> Any:
        context = browser.new_context(
            viewport=viewport or TABLET_LANDSCAPE, locale=locale, base_url=live_server.url,
            service_workers=service_workers,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: JS_ERRORS.append(f"{username}: {exc}"))
        if via_form:
            page.goto("/signin?next=" + path)
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.click("form[action='/signin'] button[type=submit]")
            page.wait_for_url(f"**{path}")
        else:
            # Quicker: a session made through the API, handed to the browser as its cookie.
            token = api_token(live_server.url, username)
            context.add_cookies(
                [{"name": "ecabinet_session", "value": token, "url": live_server.url}]
            )
            page.goto(path)
        return page

    JS_ERRORS.clear()
    yield open_tablet
    for context in contexts:
        context.close()
    assert JS_ERRORS == [], "uncaught errors in the pages"


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under artifacts/screenshots/ (and docs/screenshots/ on request)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("document.getElementById('toast')?.classList.remove('show')")
    toast = page.locator("#toast")
    if toast.count():
        expect(toast).to_have_css("opacity", "0")  # its fade-out is over
    page.screenshot(path=str(path))
    if UPDATE_DOCS and name in ("delegate", "chair", "secretary"):
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / f"{name}.png")
    return path


def sample_pdf(pages: int = 8, title: str = "Báo cáo tình hình kinh tế – xã hội") -> bytes:
    """A text PDF with Vietnamese words on every page (for paging and search)."""
    font = find_font()
    doc = pymupdf.open()
    try:
        for n in range(1, pages + 1):
            page = doc.new_page()
            page.insert_font(fontname="vn", fontbuffer=font.data)
            page.insert_text((60, 90), f"{title}", fontsize=18, fontname="vn")
            page.insert_text((60, 130), f"Trang {n} – Mục {n}: kết quả thực hiện kế hoạch",
                             fontsize=13, fontname="vn")
            body = "Thu ngân sách" if n % 2 else "Chi đầu tư công"
            for line in range(8):
                page.insert_text((60, 180 + 26 * line),
                                 f"{body} dòng {line + 1}: số liệu quý {n % 4 + 1} năm 2025.",
                                 fontsize=11, fontname="vn")
            page.draw_rect(pymupdf.Rect(60, 420, 535, 760), color=(0.1, 0.35, 0.7), width=1.5)
            page.insert_text((80, 460), f"Biểu đồ {n}", fontsize=14, fontname="vn")
        return bytes(doc.tobytes())
    finally:
        doc.close()


def api_token(base_url: str, username: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/signin",
                          json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def upload_document(base_url: str, meeting_id: int, *, item_id: int | None, title: str,
                    pages: int = 8, token: str | None = None) -> dict[str, Any]:
    """Upload a sample PDF as the secretary; returns the document as the server answered."""
    token = token or api_token(base_url, "thuky")
    fields = {"title": title}
    if item_id is not None:
        fields["item_id"] = str(item_id)
    response = httpx.post(
        f"{base_url}/api/meetings/{meeting_id}/documents",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": ("bao-cao.pdf", sample_pdf(pages), "application/pdf")},
        data=fields,
        timeout=60,
    )
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()["document"]
    return document


def agenda_items(base_url: str, meeting_id: int, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/api/meetings/{meeting_id}/agenda",
                         headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    body = response.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return items
