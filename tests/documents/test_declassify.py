"""Confidentiality is sticky: only an explicit, audited declassification by the secretary lowers
it, for every version of the document at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import select

from ecabinet.services import audit
from ecabinet.storage.models import AuditRecord, Document, Event
from tests.documents import samples
from tests.documents.conftest import Api

SECRET_ITEM = "Nhân sự lãnh đạo"


def _items(api: Api, mid: int) -> dict[str, int]:
    return {i["title"]: i["id"] for i in api.get(f"/api/meetings/{mid}/agenda").json()["items"]}


def _rows(app: Any, *ids: int) -> dict[int, tuple[bool, int]]:
    def read(session: Any) -> dict[int, tuple[bool, int]]:
        return {i: (d.confidential, d.access_version)
                for i in ids if (d := session.get(Document, i)) is not None}

    found: dict[int, tuple[bool, int]] = app.runtime.db.run_sync(read)
    return found


def test_confidentiality_stays_until_the_secretary_declassifies_with_a_reason(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    secretary, delegate, observer = as_user("thuky"), as_user("daibieu1"), as_user("quansat")
    items = _items(secretary, mid)
    old = secretary.uploaded(mid, samples.pdf(1, marker="Cu"), title="Đề án")["id"]
    r = secretary.client.post(f"/api/documents/{old}/versions", headers=secretary.headers,
                              files={"file": ("v2.pdf", samples.pdf(1, marker="Moi"),
                                              "application/pdf")})
    new = r.json()["document"]["id"]
    item_url = f"/api/meetings/{mid}/agenda/{items[SECRET_ITEM]}"
    # Attached to a confidential item: both versions are confidential, for good.
    attach = secretary.client.post(f"{item_url}/documents", json={"document_id": new},
                                   headers=secretary.headers)
    assert attach.status_code in (200, 201), attach.text
    assert _rows(app, old, new) == {old: (True, 2), new: (True, 2)}
    patch = secretary.client.patch(item_url, json={"confidential": False},
                                   headers=secretary.headers)
    assert patch.status_code == 200, patch.text
    assert _rows(app, old, new) == {old: (True, 2), new: (True, 2)}  # sticky
    patch = secretary.client.patch(item_url, json={"confidential": True},
                                   headers=secretary.headers)
    url = f"/api/documents/{new}/declassify"
    body = {"reason": "Đã công bố tại kỳ họp trước"}

    def post(api: Api, payload: Any, **headers: str) -> Any:
        return api.client.post(url, json=payload, headers={**api.headers, **headers})

    # Wrong role, bad payload, and while a confidential item holds it: nothing changes.
    assert post(delegate, body).json()["error"]["code"] == "forbidden_role"
    assert post(observer, body).status_code == 404
    for bad in ({}, {"reason": ""}, {"reason": 12}, {"reason": "x" * 501},
                {"reason": "Lý do", "extra": 1}):
        answer = post(secretary, bad)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_payload"
    held = post(secretary, body)
    assert held.status_code == 409
    assert held.json()["error"]["code"] == "document_in_confidential_item"
    assert _rows(app, old, new) == {old: (True, 2), new: (True, 2)}
    # Taken off the item, it is still confidential until declassified.
    gone = secretary.client.delete(f"{item_url}/documents/{new}", headers=secretary.headers)
    assert gone.status_code == 200, gone.text
    assert delegate.get(f"/api/documents/{old}/file").status_code == 403
    done = post(secretary, body)
    assert done.status_code == 200, done.text
    assert done.json()["document"]["confidential"] is False
    assert done.json()["document"]["access_version"] == 3
    assert _rows(app, old, new) == {old: (False, 3), new: (False, 3)}
    assert post(secretary, body).json()["error"]["code"] == "document_not_confidential"
    assert delegate.get(f"/api/documents/{old}/file").status_code == 200
    assert observer.get(f"/api/documents/{new}").status_code == 200

    def trail(session: Any) -> tuple[list[AuditRecord], list[Event]]:
        records = list(session.exec(select(AuditRecord).where(
            AuditRecord.action == audit.DECLASSIFIED)).all())
        events = list(session.exec(select(Event).where(
            Event.type == "document.reclassified").order_by(Event.seq)).all())  # type: ignore[arg-type]
        return records, events

    records, events = app.runtime.db.run_sync(trail)
    assert [(r.subject, r.details["reason"], r.details["versions"]) for r in records] == [
        (f"document:{new}", body["reason"], [old, new])]
    assert app.runtime.db.run_sync(audit.verify) == []
    # Made confidential (by the item), then declassified: the room heard both.
    assert [[d["confidential"] for d in e.payload["documents"]] for e in events] == [
        [True], [False]]
    assert events[0].observer_payload == {"documents": [], "removed_ids": [new],
                                          "pack_version": events[0].payload["pack_version"]}
    assert events[1].observer_payload is not None
    assert [d["id"] for d in events[1].observer_payload["documents"]] == [new]


def test_making_an_item_confidential_makes_its_documents_confidential_for_good(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    secretary, observer = as_user("thuky"), as_user("quansat")
    item = _items(secretary, mid)["Bế mạc"]
    doc = secretary.uploaded(mid, samples.pdf(1), title="Kết luận", item_id=item)["id"]
    assert observer.get(f"/api/documents/{doc}").status_code == 200
    url = f"/api/meetings/{mid}/agenda/{item}"
    for value in (True, False):
        r = secretary.client.patch(url, json={"confidential": value}, headers=secretary.headers)
        assert r.status_code == 200, r.text
        assert _rows(app, doc) == {doc: (True, 2)}
        assert observer.get(f"/api/documents/{doc}").status_code == 404
