"""One chair and two delegates in separate browser contexts: agenda, presenting, connection loss."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    LAPTOP,
    TABLET_PORTRAIT,
    agenda_items,
    api_token,
    screenshot,
    upload_document,
)
from tests.conftest import USERS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


WATCH_SHIFTS = """() => {
  window.layoutShift = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!entry.hadRecentInput) window.layoutShift += entry.value;
    }
  }).observe({ type: "layout-shift" });
}"""


def item_by_number(items: list[dict[str, Any]], number: str) -> dict[str, Any]:
    return next(i for i in items if i["number"] == number)


def expect_live(*pages: Any) -> None:
    for page in pages:
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def expect_current(page: Any, item: dict[str, Any]) -> None:
    expect(page.locator("#agenda-list [aria-current=step]")).to_have_attribute(
        "data-item-id", str(item["id"])
    )
    expect(page.locator("#current-heading")).to_have_text(f"{item['number']}. {item['title']}")


def expect_page(page: Any, document_id: int, number: int, count: int = 8) -> None:
    expect(page.locator("#page-indicator")).to_have_text(f"Trang {number}/{count}")
    expect(page.locator("#page-img")).to_have_attribute(
        "src", f"/api/documents/{document_id}/pages/{number}/tablet?v=1"
    )


def test_the_room_follows_the_chair_and_the_presenter(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    opening, report = item_by_number(items, "1"), item_by_number(items, "2")
    doc = upload_document(live_server.url, meeting_id, item_id=report["id"],
                          title="Báo cáo tài chính 2025")

    chair = new_tablet("chutich", f"/meetings/{meeting_id}/chair", viewport=LAPTOP)
    follower = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    browser_ = new_tablet("daibieu2", f"/meetings/{meeting_id}", viewport=TABLET_PORTRAIT)
    expect_live(chair, follower, browser_)

    # The chair opens the session and moves through the agenda; both tablets show each item.
    chair.click("#meeting-start")
    for page in (follower, browser_):
        expect(page.locator("#meeting-status")).to_have_text("Đang họp")
    chair.click("#agenda-next")
    for page in (chair, follower, browser_):
        expect_current(page, opening)
    chair.click("#agenda-next")
    for page in (chair, follower, browser_):
        expect_current(page, report)

    # The chair opens the report and presents its first page: both tablets turn to it.
    chair.click(f"#agenda-list li[data-item-id='{report['id']}'] button.doc-link")
    expect_page(chair, doc["id"], 1)
    chair.click("#present-page")
    for page in (follower, browser_):
        expect_page(page, doc["id"], 1)
        expect(page.locator("#presenter-info")).to_have_attribute("data-presenting", "yes")

    # The second delegate browses to page 2 (that stops following) ...
    browser_.click("#thumbs button[data-page='1']")
    expect_page(browser_, doc["id"], 2)
    expect(browser_.locator("#follow-toggle")).not_to_be_checked()

    # ... so when the chair presents page 5, only the follower turns with it.
    chair.click("#thumbs button[data-page='4']")
    chair.click("#present-page")
    expect_page(follower, doc["id"], 5)
    expect(browser_.locator("#back-to-presenter")).to_be_enabled()
    expect_page(browser_, doc["id"], 2)

    # "Back to presenter" returns in one step and follows again.
    browser_.click("#back-to-presenter")
    expect_page(browser_, doc["id"], 5)
    expect(browser_.locator("#follow-toggle")).to_be_checked()
    expect(browser_.locator("#back-to-presenter")).to_be_disabled()

    # Keyboard: arrow keys turn the page on the follower (which then browses).
    follower.locator("#stage").focus()
    follower.keyboard.press("ArrowRight")
    expect_page(follower, doc["id"], 6)
    follower.keyboard.press("ArrowLeft")
    expect_page(follower, doc["id"], 5)

    # Zooming in swaps in the sharper image; fitting the width goes back to the tablet one.
    for _ in range(4):
        follower.keyboard.press("+")
    expect(follower.locator("#page-img")).to_have_attribute(
        "src", f"/api/documents/{doc['id']}/pages/5/zoom?v=1"
    )
    follower.click("#zoom-fit")
    expect(follower.locator("#page-img")).to_have_attribute(
        "src", f"/api/documents/{doc['id']}/pages/5/tablet?v=1"
    )
    # A swipe to the left turns to the next page.
    stage = follower.locator("#stage").bounding_box()
    assert stage is not None
    y = stage["y"] + stage["height"] / 2
    follower.mouse.move(stage["x"] + stage["width"] * 0.8, y)
    follower.mouse.down()
    follower.mouse.move(stage["x"] + stage["width"] * 0.3, y, steps=6)
    follower.mouse.up()
    expect_page(follower, doc["id"], 6)

    # Search highlights hits from the word boxes.
    follower.fill("#search-input", "chi dau tu")
    expect(follower.locator("#search-count")).to_contain_text("kết quả")
    follower.locator("#thumbs button.has-hits").first.click()
    expect(follower.locator("#hits-layer .hit").first).to_be_visible()

    screenshot(follower, "delegate")
    screenshot(browser_, "delegate-portrait")
    screenshot(chair, "chair")


def test_a_tablet_that_was_offline_catches_up(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    chair = new_tablet("chutich", f"/meetings/{meeting_id}/chair", viewport=LAPTOP)
    # "My meetings": the published meeting is upcoming, with its date in the reader's locale.
    delegate = new_tablet("daibieu1", "/")
    upcoming = delegate.locator("section[data-group=upcoming] li.meeting")
    expect(upcoming).to_have_count(1)
    upcoming.locator("a.button.primary").click()
    delegate.wait_for_url(f"**/meetings/{meeting_id}")
    expect_live(chair, delegate)
    chair.click("#meeting-start")
    chair.click("#agenda-next")
    expect_current(delegate, item_by_number(items, "1"))

    delegate.context.set_offline(True)
    expect(delegate.locator("#conn")).to_have_attribute("data-state", "offline")
    # Reading goes on offline: the agenda is still there.
    expect(delegate.locator("#agenda-list li.agenda-item")).to_have_count(len(items))

    chair.click("#agenda-next")
    expect_current(chair, item_by_number(items, "2"))
    chair.click("#agenda-next")
    expect_current(chair, item_by_number(items, "2.1"))
    expect_current(delegate, item_by_number(items, "1"))  # still offline: nothing new

    delegate.context.set_offline(False)
    expect(delegate.locator("#conn")).to_have_attribute("data-state", "live")
    expect_current(delegate, item_by_number(items, "2.1"))
    # The catch-up replayed the missed events in order: the tablet's sequence number is the
    # chair's.
    assert delegate.evaluate("window.ecabinet.link.seq") == chair.evaluate(
        "window.ecabinet.link.seq"
    )


def test_speaking_and_the_item_timer(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    chair = new_tablet("chutich", f"/meetings/{meeting_id}/chair", viewport=LAPTOP)
    first = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    second = new_tablet("daibieu2", f"/meetings/{meeting_id}")
    expect_live(chair, first, second)
    # Layout shifts not caused by the reader's own input, as the browser measures them.
    first.evaluate(WATCH_SHIFTS)
    chair.click("#meeting-start")
    chair.click("#agenda-next")

    # The item timer: the chair starts it, the tablets count with it.
    chair.click("#timer-start")
    for page in (first, second):
        expect(page.locator("#timer")).to_have_attribute("data-state", "running")
    chair.click("#timer-pause")
    expect(first.locator("#timer")).to_have_attribute("data-state", "paused")

    # Two requests to speak: each tablet shows its place in the queue.
    first.click("#speak-button")
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "1")
    second.click("#speak-button")
    expect(second.locator("#speak-panel")).to_have_attribute("data-position", "2")
    expect(chair.locator("#chair-queue li[data-request-id]")).to_have_count(2)

    # The chair moves the second request up: the positions swap on both tablets.
    chair.locator("#chair-queue li[data-request-id]").nth(1).locator("button", has_text="↑").click()
    expect(second.locator("#speak-panel")).to_have_attribute("data-position", "1")
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "2")

    # "Go to" in the console's agenda takes the room to that item (the queue is per item).
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    closing = item_by_number(items, "4")
    chair.click(f"#agenda-list li[data-item-id='{closing['id']}'] button.goto")
    expect_current(first, closing)
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "")
    chair.click("#agenda-prev")
    chair.click(f"#agenda-list li[data-item-id='{item_by_number(items, '1')['id']}'] button.goto")
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "2")

    # The chair gives the floor to the first in line; that tablet can end its own turn.
    chair.locator("#chair-queue li[data-request-id]").first.locator("button.primary").click()
    expect(second.locator("#speak-state")).to_have_text("Bạn đang phát biểu.")
    expect(first.locator("#speaking-now")).to_contain_text("Phạm Thị Thu Hà")
    second.click("#speak-button")  # "End my turn"
    expect(first.locator("#speaking-now")).to_have_text("Chưa có ai phát biểu.")
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "1")
    # The first delegate withdraws: the queue is empty everywhere.
    first.click("#speak-button")
    expect(first.locator("#speak-panel")).to_have_attribute("data-position", "")
    expect(chair.locator("#chair-queue li[data-request-id]")).to_have_count(0)
    # The chair marks the second delegate excused; that tablet says so, the quorum follows.
    mark = chair.locator(f"#attendance-list li[data-participant-id] >> text={USERS['daibieu2']}")
    mark.locator("xpath=ancestor::li").locator("button", has_text="Có lý do").click()
    expect(second.locator("#me-panel")).to_have_attribute("data-attendance", "excused")
    expect(second.locator("#checkin-state")).to_have_text("Vắng có lý do")

    # Nothing moved on the first tablet because of what others did.
    assert first.evaluate("window.layoutShift") < 0.01
