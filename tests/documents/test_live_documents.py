"""Documents in the live room: the room is told as pages become ready."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.documents import samples
from tests.realtime.client import Tablet, sign_in

pytestmark = pytest.mark.anyio


async def upload(base_url: str, mid: int, data: bytes, **fields: str) -> dict[str, Any]:
    token = await sign_in(base_url, "thuky")
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        response = await http.post(
            f"/api/meetings/{mid}/documents", files={"file": ("a.pdf", data, "application/pdf")},
            data=fields, headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()["document"]
    return document


def is_(type_: str, doc_id: int) -> Any:
    def match(ev: dict[str, Any]) -> bool:
        if ev["type"] != type_:
            return False
        payload = ev["payload"]
        return bool(payload.get("document", {}).get("id") == doc_id
                    or doc_id in payload.get("document_ids", []))

    return match


async def test_the_room_is_told_as_pages_become_ready(live_server: LiveServer,
                                                      room: dict[str, Any]) -> None:
    mid = room["meeting_id"]
    delegate = await Tablet.open(live_server.url, "daibieu1")
    observer = await Tablet.open(live_server.url, "quansat")
    for tablet in (delegate, observer):
        assert (await tablet.call("meeting.join", {"meeting_id": mid}))["ok"]
    doc = await upload(live_server.url, mid, samples.pdf(4), title="Báo cáo quý")
    secret = await upload(live_server.url, mid, samples.pdf(1, marker="Mat"),
                          title="Nhân sự", confidential="true")
    added = await delegate.wait_for(is_("document.added", doc["id"]))
    assert added["seq"] is not None and added["payload"]["document"]["title"] == "Báo cáo quý"
    ready = await delegate.wait_for(is_("document.ready", doc["id"]))
    assert ready["seq"] is not None and ready["seq"] > added["seq"]
    assert ready["payload"]["status"] == "ready" and ready["payload"]["page_count"] == 4
    progress = [e for e in delegate.of_type("document.progress")
                if doc["id"] in e["payload"]["document_ids"]]
    assert progress and all(e["seq"] is None for e in progress)
    assert progress[0]["payload"]["pages"][0] == 1  # the first page is announced first
    assert sorted(p for e in progress for p in e["payload"]["pages"]) == [1, 2, 3, 4]
    assert progress[-1]["payload"]["pages_ready"] == 4
    await delegate.wait_for(is_("document.ready", secret["id"]))
    # Observers learn no id, title or count of confidential documents (issue #14): in place of
    # the logged events about one, a placeholder keeps their sequence gap-free.
    added_secret = delegate.of_type("document.added")[-1]
    assert added_secret["payload"]["document"]["id"] == secret["id"]
    hidden = await observer.wait_for(lambda e: e["seq"] == added_secret["seq"])
    assert hidden["type"] == "event.withheld" and hidden["payload"] == {}
    ready_secret = next(e for e in delegate.of_type("document.ready")
                        if secret["id"] in e["payload"]["document_ids"])
    withheld = await observer.wait_for(lambda e: e["seq"] == ready_secret["seq"])
    assert withheld["type"] == "event.withheld" and withheld["payload"] == {}
    for ev in observer.events:
        if ev["type"] in ("document.progress", "document.ready"):
            assert secret["id"] not in ev["payload"]["document_ids"]
            assert ev["payload"]["document_ids"]
    # Joining later: the snapshot says where rendering stands; a resync re-sends that part.
    late = await Tablet.open(live_server.url, "daibieu2")
    snapshot = (await late.call("meeting.join", {"meeting_id": mid}))["snapshot"]
    states = {d["id"]: (d["status"], d["pages_ready"]) for d in snapshot["documents"]}
    assert states == {doc["id"]: ("ready", 4), secret["id"]: ("ready", 1)}
    resync = await late.call("meeting.join", {"meeting_id": mid, "since": 1})
    assert resync["mode"] == "events" and len(resync["private"]["documents"]) == 2
    observed = (await observer.call("meeting.join", {"meeting_id": mid}))["snapshot"]
    assert [d["id"] for d in observed["documents"]] == [doc["id"]]
    for tablet in (delegate, observer, late):
        await tablet.close()
