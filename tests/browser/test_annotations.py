"""Annotations in the browser: private ones stay with their author, shared ones reach everyone,
notes, highlights and the eraser, an annotation made offline syncs on return, and the
presenter's live ink reaches the following tablets and can be kept."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LAPTOP, agenda_items, api_token, screenshot, upload_document

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def visible_page(page: Any) -> dict[str, float]:
    """The part of the page that is on screen (the stage scrolls a page taller than it)."""
    layer = page.locator("#annot-layer").bounding_box()
    stage = page.locator("#stage").bounding_box()
    assert layer is not None and stage is not None
    top = max(layer["y"], stage["y"])
    bottom = min(layer["y"] + layer["height"], stage["y"] + stage["height"])
    return {"x": layer["x"], "y": top, "width": layer["width"], "height": bottom - top}


def draw(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag across the page, in fractions of its visible part."""
    box = visible_page(page)
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2 + 8, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


def open_document(page: Any, item_id: int, document_id: int) -> None:
    page.click(f"#agenda-list li[data-item-id='{item_id}'] button.doc-link")
    expect(page.locator("#page-img")).to_have_attribute(
        "src", f"/api/documents/{document_id}/pages/1/tablet?v=1"
    )
    expect(page.locator("#annot-toolbar")).to_be_visible()


def saved(page: Any, selector: str) -> Any:
    """Annotations confirmed by the server (not waiting in the outbox)."""
    return page.locator(f"#annot-layer {selector}:not(.pending)")


def test_private_shared_offline_and_live_ink(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    meeting_id = room["meeting_id"]
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    report = next(i for i in items if i["number"] == "2")
    doc = upload_document(live_server.url, meeting_id, item_id=report["id"], title="Báo cáo",
                          pages=6)
    chair = new_tablet("chutich", f"/meetings/{meeting_id}/chair", viewport=LAPTOP)
    author = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    reader = new_tablet("daibieu2", f"/meetings/{meeting_id}")
    reader.on("dialog", lambda dialog: dialog.accept("Cần làm rõ số liệu quý 2"))
    for page in (chair, author, reader):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        open_document(page, report["id"], doc["id"])

    # A private ink stroke: the author sees it, nobody else does.
    author.click("#annot-toolbar [data-tool=pen]")
    draw(author, (0.2, 0.6), (0.6, 0.65))
    expect(saved(author, "g.ann-ink[data-visibility=private]")).to_have_count(1)

    # A shared one: everyone sees it; the private one stays the author's.
    author.select_option("#annot-visibility", "shared")
    draw(author, (0.2, 0.7), (0.7, 0.75))
    for page in (chair, reader):
        expect(saved(page, "g.ann-ink[data-visibility=shared]")).to_have_count(1)
        expect(page.locator("#annot-layer g.ann-ink[data-visibility=private]")).to_have_count(0)
    expect(saved(author, "g.ann-ink")).to_have_count(2)

    # A shared sticky note from the other delegate reaches the author with its text.
    reader.select_option("#annot-visibility", "shared")
    reader.click("#annot-toolbar [data-tool=note]")
    draw(reader, (0.8, 0.2), (0.8, 0.2))
    expect(author.locator("#notes-layer .note-pin")).to_have_attribute(
        "aria-label", "Ghi chú: Phạm Thị Thu Hà: Cần làm rõ số liệu quý 2"
    )

    # A highlight snaps to the words under the drag.
    author.select_option("#annot-visibility", "private")
    author.click("#annot-toolbar [data-tool=highlight]")
    draw(author, (0.08, 0.28), (0.6, 0.3))  # across the title line
    expect(saved(author, "g.ann-highlight rect").first).to_be_visible()

    # The eraser removes the author's shared stroke everywhere.
    author.click("#annot-toolbar [data-tool=eraser]")
    draw(author, (0.2, 0.7), (0.7, 0.75))  # along the shared stroke
    expect(reader.locator("#annot-layer g.ann-ink")).to_have_count(0)
    expect(saved(author, "g.ann-ink[data-visibility=private]")).to_have_count(1)

    # Offline: the annotation is kept on the tablet and queued, then synced on return.
    author.click("#annot-toolbar [data-tool=pen]")
    author.select_option("#annot-visibility", "shared")
    author.context.set_offline(True)
    expect(author.locator("#conn")).to_have_attribute("data-state", "offline")
    draw(author, (0.3, 0.8), (0.6, 0.85))
    expect(author.locator("#annot-toolbar")).to_have_attribute("data-queued", "1")
    expect(author.locator("#annot-layer g.ann-ink.pending")).to_have_count(1)
    author.context.set_offline(False)
    expect(author.locator("#annot-toolbar")).to_have_attribute("data-queued", "0")
    expect(saved(reader, "g.ann-ink[data-visibility=shared]")).to_have_count(1)
    screenshot(author, "delegate-annotations")

    # The presenter's live ink: streamed while drawn, kept as a shared annotation on request.
    chair.click("#meeting-start")
    chair.click("#present-page")
    expect(reader.locator("#presenter-info")).to_have_attribute("data-presenting", "yes")
    chair.click("#annot-toolbar [data-tool=pen]")
    expect(chair.locator("#ink-live")).to_be_visible()
    draw(chair, (0.1, 0.5), (0.9, 0.55))
    expect(reader.locator("#annot-layer path.live-ink")).to_have_count(1)
    chair.click("#ink-keep")
    expect(reader.locator("#annot-layer path.live-ink")).to_have_count(0)
    expect(saved(reader, "g.ann-ink[data-visibility=shared]")).to_have_count(2)


def test_a_reference_without_contents_is_fetched_if_still_readable(
    new_tablet: Any, live_server: Any, room: dict[str, Any]
) -> None:
    """The log names annotations without their contents: a tablet holding only the reference
    fetches the contents over the authorised read, and gets only what it may still read."""
    meeting_id = room["meeting_id"]
    items = agenda_items(live_server.url, meeting_id, api_token(live_server.url, "thuky"))
    report = next(i for i in items if i["number"] == "2")
    doc = upload_document(live_server.url, meeting_id, item_id=report["id"], title="Báo cáo",
                          pages=2)
    author = new_tablet("daibieu1", f"/meetings/{meeting_id}")
    reader = new_tablet("daibieu2", f"/meetings/{meeting_id}")
    author.on("dialog", lambda dialog: dialog.accept("Ý kiến chia sẻ"))
    for page in (author, reader):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        open_document(page, report["id"], doc["id"])
    author.click("#annot-toolbar [data-tool=pen]")
    draw(author, (0.2, 0.6), (0.6, 0.65))  # private
    author.select_option("#annot-visibility", "shared")
    author.click("#annot-toolbar [data-tool=note]")
    draw(author, (0.8, 0.2), (0.8, 0.2))
    pin = reader.locator("#notes-layer .note-pin")
    expect(pin).to_have_attribute("aria-label", "Ghi chú: Lê Hoàng Minh: Ý kiến chia sẻ")
    expect(saved(author, "g.ann-ink[data-visibility=private]")).to_have_count(1)
    refs = author.evaluate("""() => window.ecabinet.state.parts.annotations.map((a) => ({
        id: a.id, uid: a.uid, author_id: a.author.user_id, document_id: a.document_id,
        version: a.version }))""")
    assert len(refs) == 2

    # The reader loses the contents and hears only the references (its own state, no server
    # change): it fetches them, and gets the shared note back, never the private stroke.
    with reader.expect_response(lambda r: f"/api/documents/{doc['id']}/annotations?ids="
                                in r.url) as answer:
        reader.evaluate("""(refs) => {
            const state = window.ecabinet.state;
            state.parts.annotations = [];
            state.changed(["annotations"], null);
            state.apply({ meeting_id: state.parts.meeting.id, seq: null, type: "annotation.saved",
                          payload: { annotations: refs }, at: new Date().toISOString() });
        }""", refs)
    fetched = answer.value.json()["annotations"]
    assert [a["kind"] for a in fetched] == ["note"]
    expect(pin).to_have_attribute("aria-label", "Ghi chú: Lê Hoàng Minh: Ý kiến chia sẻ")
    expect(reader.locator("#annot-layer g.ann-ink")).to_have_count(0)
    assert reader.evaluate("() => window.ecabinet.state.parts.annotation_wanted") == {}
