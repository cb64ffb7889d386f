"""Polls from the chair console to every tablet: open, vote with confirmation, progress and who
has not voted, close, publish, the result on every tablet; voting offline says it needs the
network."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LAPTOP, screenshot
from tests.conftest import USERS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def vote(page: Any, option: str) -> None:
    sheet = page.locator("#vote-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_have_attribute("data-mode", "ballot")
    page.click(f"#vote-choices label.choice-{option}")
    page.click("#vote-submit")
    expect(page.locator("#vote-confirm")).to_be_visible()
    page.click("#vote-confirm-yes")
    expect(page.locator("#vote-done")).to_be_visible()
    page.click("#vote-later")  # "Close" once voted
    expect(sheet).to_be_hidden()


def test_a_poll_from_opening_to_the_published_result(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    chair = new_tablet("chutich", f"/meetings/{meeting_id}/chair", viewport=LAPTOP)
    chair.on("dialog", lambda dialog: dialog.accept())
    first = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    second = new_tablet("daibieu2", f"/meetings/{meeting_id}")
    for page in (chair, first, second):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    chair.click("#meeting-start")
    chair.click("#agenda-next")

    # Both delegates check in from their tablets: the chair sees the quorum reached.
    for page in (first, second):
        page.click("#checkin-button")
        expect(page.locator("#me-panel")).to_have_attribute("data-attendance", "present")
    expect(chair.locator("#quorum .quorum-state")).to_have_attribute("data-reached", "yes")
    online = chair.locator("#attendance-list li[data-participant-id] .presence.online")
    expect(online).to_have_count(3)

    # The chair drafts a yes/no/abstain poll and opens it.
    chair.click("#poll-create summary")
    chair.fill("#poll-question", "Thông qua báo cáo tài chính năm 2025?")
    chair.click("#poll-form button[type=submit]")
    draft = chair.locator(".poll-card[data-status=draft]")
    expect(draft).to_have_count(1)
    draft.locator("[data-action='poll.open']").click()
    open_card = chair.locator(".poll-card[data-status=open]")
    expect(open_card.locator("[data-role=progress]")).to_have_text("0/3 đã biểu quyết")

    # The chair votes too (the sheet appears on the console as well); then the delegates.
    vote(chair, "abstain")
    vote(first, "yes")
    expect(open_card.locator("[data-role=progress]")).to_have_text("2/3 đã biểu quyết")
    # Who has not voted yet: only the second delegate.
    expect(open_card.locator(".not-voted li")).to_have_text([USERS["daibieu2"]])
    expect(first.locator("#vote-summary .voted")).to_be_visible()
    screenshot(second, "delegate-vote")
    vote(second, "yes")
    expect(open_card.locator("[data-role=progress]")).to_have_text("3/3 đã biểu quyết")

    # Close (the chair sees the result first), then publish: every tablet shows the result.
    open_card.locator("[data-action='poll.close']").click()
    closed = chair.locator(".poll-card[data-status=closed]")
    expect(closed.locator(".result")).to_have_attribute("data-outcome", "passed")
    for page in (first, second):
        expect(page.locator("#vote-sheet")).to_be_hidden()
    closed.locator("[data-action='poll.publish']").click()
    for page in (first, second):
        expect(page.locator("#vote-sheet")).to_have_attribute("data-mode", "result")
        expect(page.locator("#vote-sheet .result")).to_have_attribute("data-outcome", "passed")
        expect(page.locator("#vote-sheet .outcome")).to_have_text("Thông qua")
    screenshot(first, "delegate-result")
    screenshot(chair, "chair-poll")
    for page in (first, second):
        page.click("#vote-later")  # "Close" the result

    # A second poll while the first delegate's tablet is offline: voting says it needs the
    # network, and works once the tablet is back.
    if not chair.locator("#poll-question").is_visible():
        chair.click("#poll-create summary")
    chair.fill("#poll-question", "Đồng ý kế hoạch đầu tư công?")
    chair.click("#poll-form button[type=submit]")
    chair.locator(".poll-card[data-status=draft] [data-action='poll.open']").click()
    expect(first.locator("#vote-sheet")).to_have_attribute("data-mode", "ballot")
    first.context.set_offline(True)
    expect(first.locator("#conn")).to_have_attribute("data-state", "offline")
    first.click("#vote-choices label.choice-no")
    expect(first.locator("#vote-network")).to_be_visible()
    expect(first.locator("#vote-submit")).to_be_disabled()
    first.context.set_offline(False)
    expect(first.locator("#conn")).to_have_attribute("data-state", "live")
    expect(first.locator("#vote-network")).to_be_hidden()
    vote(first, "no")
    expect(chair.locator(".poll-card[data-status=open] [data-role=progress]")).to_have_text(
        "1/3 đã biểu quyết"
    )
