"""Bad annotation commands get a clear error ack with a stable code, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from ecabinet.storage.models import Meeting
from tests.annotations.helpers import (
    create,
    device,
    highlight_of,
    ink,
    joined,
    make_pdf,
    note,
    store_document,
    visible,
)
from tests.conftest import LiveServer
from tests.realtime.client import Tablet

pytestmark = pytest.mark.anyio

TEXT = [[(72, 100, "Tờ trình về việc phê duyệt kế hoạch")], [(72, 100, "Trang hai")]]


async def refused(tablet: Tablet, name: str, payload: dict[str, Any], code: str) -> None:
    answer = await tablet.call(name, payload)
    assert answer["ok"] is False, (name, payload, answer)
    assert answer["error"]["code"] == code, (name, payload, answer)
    assert answer["error"]["message"], answer


async def seq_of(tablet: Tablet, mid: int) -> int:
    answer = await tablet.call("meeting.join", {"meeting_id": mid, "since": 0})
    value: int = answer["seq"]
    return value


async def test_bad_annotation_commands_change_nothing(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    pdf = make_pdf(TEXT)
    doc = store_document(app, mid, pdf, title="Tờ trình")
    secret = store_document(app, mid, pdf, title="Mật", confidential=True)
    d1, _ = await joined(live_server, "daibieu1", mid)
    d2, _ = await joined(live_server, "daibieu2", mid)
    observer, _ = await joined(live_server, "quansat", mid)
    shared = await create(d1, mid, doc, 0, highlight_of(pdf, 0, "kế hoạch"), "shared", uid="s")
    private = await create(d1, mid, doc, 1, note(100, 100, "riêng"), uid="p")
    before = {u: await visible(live_server, u, mid) for u in ("daibieu1", "daibieu2", "quansat")}
    seq = await seq_of(d1, mid)

    base = {"meeting_id": mid, "document_id": doc, "page": 0}
    # Too many points in one stroke (the limit is 5,000).
    long_stroke = [[10 + i % 500, 10 + (i // 500) * 50] for i in range(5001)]
    await refused(d1, "annotation.create",
                  {**base, "data": {"kind": "ink", "strokes": [long_stroke]}},
                  "too_many_points")
    # Coordinates off the page (A4 is 595 x 842 points).
    await refused(d1, "annotation.create", {**base, "data": note(600, 100, "x")}, "off_page")
    await refused(d1, "annotation.create", {**base, "data": ink((100, 100), (100, 900))},
                  "off_page")
    await refused(d1, "annotation.create",
                  {**base, "data": {"kind": "text", "rect": [-20, 10, 100, 40], "text": "x"}},
                  "off_page")
    # Unknown page, unknown document, a document the caller may not see.
    await refused(d1, "annotation.create", {**base, "page": 2, "data": note(1, 1, "x")},
                  "page_out_of_range")
    await refused(d1, "annotation.create",
                  {**base, "document_id": 999_999, "data": note(1, 1, "x")},
                  "document_not_found")
    await refused(observer, "annotation.create",
                  {**base, "document_id": secret, "data": note(1, 1, "x")},
                  "document_not_found")
    # Malformed payloads: no data, unknown kind, not-a-number, a bad colour, both references.
    await refused(d1, "annotation.create", base, "invalid_payload")
    await refused(d1, "annotation.create", {**base, "data": {"kind": "scribble"}},
                  "invalid_payload")
    await refused(d1, "annotation.create",
                  {**base, "data": {"kind": "note", "at": [float("nan"), 1], "text": "x"}},
                  "invalid_payload")
    await refused(d1, "annotation.create",
                  {**base, "data": {**note(1, 1, "x"), "colour": "red"}}, "invalid_payload")
    await refused(d1, "annotation.create", {**base, "visibility": "everyone",
                                            "data": note(1, 1, "x")}, "invalid_payload")
    await refused(d1, "annotation.update", {"meeting_id": mid, "uid": "s", "id": 1,
                                            "base_version": 1, "visibility": "private"},
                  "invalid_payload")
    # Observers keep private notes only.
    await refused(observer, "annotation.create", {**base, "visibility": "staff",
                                                  "data": note(1, 1, "x")},
                  "visibility_not_allowed")
    # Someone else's annotation: shared ones may be read but not changed; private ones do not
    # exist for anybody else; a uid names the caller's own annotations only.
    shared_id, private_id = shared["annotation"]["id"], private["annotation"]["id"]
    await refused(d2, "annotation.update", {"meeting_id": mid, "id": shared_id,
                                            "base_version": 1, "visibility": "private"},
                  "not_author")
    await refused(d2, "annotation.delete", {"meeting_id": mid, "id": shared_id}, "not_author")
    await refused(d2, "annotation.update", {"meeting_id": mid, "id": private_id,
                                            "base_version": 1, "visibility": "shared"},
                  "annotation_not_found")
    await refused(d2, "annotation.delete", {"meeting_id": mid, "uid": "s"},
                  "annotation_not_found")
    # Updates that make no sense.
    await refused(d1, "annotation.update", {"meeting_id": mid, "uid": "s", "base_version": 1},
                  "empty_update")
    await refused(d1, "annotation.update", {"meeting_id": mid, "uid": "s", "base_version": 7,
                                            "visibility": "private"}, "unknown_version")
    await refused(d1, "annotation.update", {"meeting_id": mid, "uid": "s", "base_version": 1,
                                            "data": note(5, 5, "x")}, "kind_mismatch")
    await refused(d1, "annotation.update", {"meeting_id": mid, "uid": "p", "base_version": 1,
                                            "page": 0, "data": note(5, 900, "x")}, "off_page")

    # An archived meeting takes no more annotations.
    def archive(session: Session) -> None:
        meeting = session.get(Meeting, mid)
        assert meeting is not None
        meeting.status = "archived"
        session.add(meeting)

    app.runtime.db.run_sync(archive)
    await refused(d1, "annotation.create", {**base, "data": note(1, 1, "x")},
                  "meeting_archived")
    await refused(d1, "annotation.delete", {"meeting_id": mid, "uid": "s"}, "meeting_archived")

    def unarchive(session: Session) -> None:
        meeting = session.get(Meeting, mid)
        assert meeting is not None
        meeting.status = "published"
        session.add(meeting)

    app.runtime.db.run_sync(unarchive)
    # Nothing changed anywhere: same annotations for everyone, no event logged.
    assert await seq_of(d1, mid) == seq
    for username, seen in before.items():
        assert await visible(live_server, username, mid) == seen, username
    # The outsider is refused before anything is looked at.
    outsider = await device(live_server, "nguoingoai")
    await refused(outsider, "annotation.create", {**base, "data": note(1, 1, "x")},
                  "meeting_not_found")
    for tablet in (d1, d2, observer, outsider):
        await tablet.close()
