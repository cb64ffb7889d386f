"""Offline reading: the service worker keeps the app shell, the last known meeting state and the
pack's page images, so a tablet that loses the network reloads and keeps reading."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import agenda_items, api_token, upload_document
from tests.waiting import ConditionTimeout, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMAGE_SHOWN = """(src) => {
  const img = document.getElementById('page-img');
  return img.getAttribute('src') === src && img.complete && img.naturalWidth > 0;
}"""


def test_a_tablet_keeps_reading_without_the_network(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    report = next(i for i in items if i["number"] == "2")
    doc = upload_document(live_server.url, meeting_id, item_id=report["id"],
                          title="Báo cáo tài chính 2025", pages=6)

    page = new_tablet("daibieu1", f"/meetings/{meeting_id}", service_workers="allow")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "yes")
    page.wait_for_function("() => caches.match(location.pathname).then(Boolean)")
    link = page.locator(f"#agenda-list button.doc-link[data-doc-id='{doc['id']}']")
    expect(link.locator(".doc-meta")).to_have_text("6 trang", timeout=60_000)

    page.click("#offline-download")
    expect(page.locator("#offline-state")).to_contain_text("sẵn sàng")

    # What the tablet knows is stored (IndexedDB) up to its last event.
    page.wait_for_function("() => window.ecabinet.savedSeq === window.ecabinet.link.seq")
    # The network goes; the tablet is reloaded (it slept, or someone pressed reload).
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
    expect(page.locator("#agenda-list li.agenda-item")).to_have_count(len(items))
    link.click()
    page.wait_for_function(IMAGE_SHOWN, arg=f"/api/documents/{doc['id']}/pages/1/tablet?v=1")
    page.click("#thumbs button[data-page='3']")
    page.wait_for_function(IMAGE_SHOWN, arg=f"/api/documents/{doc['id']}/pages/4/tablet?v=1")
    expect(page.locator("#page-indicator")).to_have_text("Trang 4/6")
    # Search works offline too: the pages' text was downloaded with the images.
    page.fill("#search-input", "đầu tư")
    expect(page.locator("#search-count")).to_contain_text("kết quả")

    page.context.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


# What the device keeps: the service worker's caches, the tablet's IndexedDB database.
KEPT = """async () => ({
  caches: (await caches.keys()).filter((n) => n.startsWith('ecabinet-')),
  pages: (await Promise.all((await caches.keys()).filter((n) => n.startsWith('ecabinet-pages'))
    .map((n) => caches.open(n).then((c) => c.keys())))).flat().length,
  databases: (await indexedDB.databases()).map((d) => d.name),
})"""
NOTHING = {"caches": [], "pages": 0, "databases": []}


def kept_after_a_while(page: Any) -> dict[str, Any]:
    """What the device keeps once it had time to forget (or the last thing seen)."""
    kept: dict[str, Any] = {}

    def forgotten() -> bool:
        nonlocal kept
        kept = page.evaluate(KEPT)
        return kept == NOTHING

    with contextlib.suppress(ConditionTimeout):
        wait_until(forgotten, "the tablet forgets the meeting", timeout=15, interval=0.2)
    return kept


def reading_offline(new_tablet: Any, live_server: Any, meeting_id: int, username: str) -> Any:
    """A tablet that downloaded the pack for offline reading and stored what it knows."""
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    report = next(i for i in items if i["number"] == "2")
    upload_document(live_server.url, meeting_id, item_id=report["id"], title="Báo cáo", pages=2)
    page = new_tablet(username, f"/meetings/{meeting_id}", service_workers="allow")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "yes")
    expect(page.locator(".doc-link .doc-meta").first).to_have_text("2 trang", timeout=60_000)
    page.click("#offline-download")
    expect(page.locator("#offline-state")).to_contain_text("sẵn sàng")
    page.wait_for_function("() => window.ecabinet.savedSeq === window.ecabinet.link.seq")
    kept = page.evaluate(KEPT)
    assert kept["pages"] >= 6 and "ecabinet" in kept["databases"], kept
    return page


def test_signing_out_leaves_nothing_of_the_meeting_on_the_tablet(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    page = reading_offline(new_tablet, live_server, room["meeting_id"], "daibieu1")
    page.click("form[action='/signout'] button[type=submit]")
    page.wait_for_url("**/signin")
    assert kept_after_a_while(page) == NOTHING


def test_a_session_ended_elsewhere_leaves_nothing_on_the_tablet(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    page = reading_offline(new_tablet, live_server, room["meeting_id"], "daibieu2")
    # "Sign out everywhere" from another device (a lost tablet).
    token = api_token(live_server.url, "daibieu2")
    answer = httpx.post(f"{live_server.url}/api/auth/signout-all",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    page.wait_for_url("**/signin**")
    assert kept_after_a_while(page) == NOTHING
