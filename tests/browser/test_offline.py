"""Offline reading: the service worker keeps the app shell, the last known meeting state and the
pack's page images, so a tablet that loses the network reloads and keeps reading."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import agenda_items, api_token, upload_document

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
    page.wait_for_function(IMAGE_SHOWN, arg=f"/api/documents/{doc['id']}/pages/1/tablet")
    page.click("#thumbs button[data-page='3']")
    page.wait_for_function(IMAGE_SHOWN, arg=f"/api/documents/{doc['id']}/pages/4/tablet")
    expect(page.locator("#page-indicator")).to_have_text("Trang 4/6")
    # Search works offline too: the pages' text was downloaded with the images.
    page.fill("#search-input", "đầu tư")
    expect(page.locator("#search-count")).to_contain_text("kết quả")

    page.context.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
