"""The secretary's pages: create a meeting, participants, agenda (keyboard and drag), upload with
progress and render progress, publish, what changed since a version, export and import."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LAPTOP, api_token, sample_pdf, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def agenda_titles(page: Any) -> list[str]:
    titles: list[str] = page.locator("#prep-agenda li .item-main strong").all_inner_texts()
    return titles


def test_a_secretary_prepares_publishes_and_exports_a_meeting(
    new_tablet: Any, live_server: Any, room: dict[str, Any], make_user: Any, tmp_path: Any
) -> None:
    make_user("quantri", "Quản Trị Viên", is_admin=True)
    page = new_tablet("quantri", "/manage", viewport=LAPTOP, via_form=True)
    page.on("dialog", lambda dialog: dialog.accept())

    # Create the meeting.
    page.fill("#nm-title", "Họp giao ban tháng 3")
    page.fill("#nm-place", "Phòng họp số 2")
    page.fill("#nm-starts", "2026-03-02T08:00")
    page.click("#new-meeting button[type=submit]")
    page.wait_for_url("**/manage/meetings/*")
    meeting_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#prep-title")).to_have_text("Họp giao ban tháng 3")
    expect(page.locator("#prep-status")).to_have_attribute("data-status", "draft")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    # The details form saves only what changed.
    page.fill("#d-place", "Phòng họp số 3")
    page.click("#details-form button[type=submit]")
    expect(page.locator("#details-state")).to_have_text("Đã lưu")

    # Participants.
    people = (("chutich", "chair"), ("daibieu1", "delegate"), ("daibieu2", "delegate"))
    for username, role in people:
        page.fill("#ap-username", username)
        page.select_option("#ap-role", role)
        page.click("#add-person button[type=submit]")
        expect(page.locator("#people-rows tr", has_text=username)).to_have_count(1)
    expect(page.locator("#people-rows tr")).to_have_count(3)

    # Agenda: three items, then reorder with the keyboard buttons and by dragging.
    for title in ("Khai mạc", "Báo cáo kết quả", "Bế mạc"):
        page.fill("#ai-title", title)
        page.click("#add-item button[type=submit]")
        expect(page.locator("#prep-agenda li", has_text=title)).to_have_count(1)
    assert agenda_titles(page) == ["Khai mạc", "Báo cáo kết quả", "Bế mạc"]
    page.locator("#prep-agenda li", has_text="Bế mạc").locator("[data-action=up]").click()
    expect(page.locator("#prep-agenda li .item-main strong")).to_have_text(
        ["Khai mạc", "Bế mạc", "Báo cáo kết quả"]
    )
    # The moved item keeps the focus, so the keyboard can go on moving it.
    focused = page.evaluate("document.activeElement.closest('li').textContent")
    assert "Bế mạc" in focused
    page.keyboard.press("Enter")  # ↑ again, on the focused button
    expect(page.locator("#prep-agenda li .item-main strong")).to_have_text(
        ["Bế mạc", "Khai mạc", "Báo cáo kết quả"]
    )
    # Drag "Bế mạc" by its handle below "Báo cáo kết quả".
    handle = page.locator("#prep-agenda li", has_text="Bế mạc").locator(".drag-handle")
    target = page.locator("#prep-agenda li", has_text="Báo cáo kết quả")
    box = target.bounding_box()
    assert box is not None
    handle.hover()
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + box["height"] * 0.5, steps=4)
    page.mouse.move(box["x"] + 40, box["y"] + box["height"] * 0.85, steps=4)
    page.mouse.up()
    expect(page.locator("#prep-agenda li .item-main strong")).to_have_text(
        ["Khai mạc", "Báo cáo kết quả", "Bế mạc"]
    )

    # Upload a document for the report with upload and render progress.
    report_id = page.locator("#prep-agenda li", has_text="Báo cáo kết quả").get_attribute(
        "data-item-id"
    )
    page.select_option("#up-item", report_id)
    page.fill("#up-title", "Báo cáo kết quả quý I")
    page.set_input_files("#up-file", files=[{
        "name": "bao-cao-quy-1.pdf", "mimeType": "application/pdf", "buffer": sample_pdf(6),
    }])
    page.click("#upload-form button[type=submit]")
    row = page.locator("#docs-rows tr", has_text="Báo cáo kết quả quý I")
    expect(row).to_have_attribute("data-status", "ready", timeout=60_000)
    expect(row.locator(".render-state")).to_have_text("6 trang")
    report = page.locator("#prep-agenda li", has_text="Báo cáo kết quả")
    expect(report.locator(".doc-chip")).to_have_count(1)

    # Publish; then a change makes version 2, listed under "what changed".
    page.click("#publish-button")
    expect(page.locator("#prep-status")).to_have_attribute("data-status", "published")
    page.fill("#ai-title", "Kiến nghị của đại biểu")
    page.click("#add-item button[type=submit]")
    expect(page.locator("#prep-version")).to_have_text("Phiên bản 2")
    expect(page.locator("#changes li[data-action='item.added']")).to_contain_text(
        "Kiến nghị của đại biểu"
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "secretary")

    # Export the pack, then import it again from the start page: the same agenda.
    token = api_token(live_server.url, "quantri")
    exported = httpx.get(f"{live_server.url}/api/meetings/{meeting_id}/pack.zip",
                         headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert exported.status_code == 200
    page.goto("/manage")
    expect(page.locator(f"tr[data-meeting-id='{meeting_id}']")).to_have_count(1)
    page.set_input_files("#pack-file", files=[{
        "name": "pack.zip", "mimeType": "application/zip", "buffer": exported.content,
    }])
    page.click("#import-pack button[type=submit]")
    page.wait_for_url(lambda url: "/manage/meetings/" in url and not url.endswith(f"/{meeting_id}"))
    expect(page.locator("#prep-agenda li .item-main strong")).to_have_text(
        ["Khai mạc", "Báo cáo kết quả", "Bế mạc", "Kiến nghị của đại biểu"]
    )


def test_a_bad_pack_lists_its_problems(new_tablet: Any, make_user: Any, live_server: Any) -> None:
    make_user("quantri", "Quản Trị Viên", is_admin=True)
    page = new_tablet("quantri", "/manage", viewport=LAPTOP)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "meeting.yaml", "meeting:\n  title: ''\nagenda:\n  - title: 5\n    bogus: 1\n"
        )
    page.set_input_files("#pack-file", files=[{
        "name": "bad.zip", "mimeType": "application/zip", "buffer": buffer.getvalue(),
    }])
    page.click("#import-pack button[type=submit]")
    expect(page.locator("#pack-problems li").first).to_contain_text("meeting.yaml")
    assert page.url.endswith("/manage")
