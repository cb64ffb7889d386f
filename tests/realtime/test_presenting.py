"""Presenter mode through real Socket.IO clients: present, follow, hand over, confidentiality."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.realtime.client import sign_in
from tests.realtime.liveroom import (
    add_document,
    close,
    head,
    join,
    participants,
    peek,
    refused,
    started,
)

pytestmark = pytest.mark.anyio


async def test_chair_presents_and_tablets_follow_page_by_page(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    doc = add_document(app, mid, title="Báo cáo tài chính", pages=5)
    delegate, answer = await join(live_server, "daibieu1", mid)
    assert answer["snapshot"]["presenting"]["document_id"] is None
    for page in (0, 1, 4):
        ack = await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                                "page": page})
        assert ack["ok"] and ack["presenting"]["page"] == page
    await delegate.wait_for(lambda e: e["type"] == "present.changed" and e["payload"]["page"] == 4)
    moves = delegate.of_type("present.changed")
    assert [e["payload"]["page"] for e in moves] == [0, 1, 4]
    last = moves[-1]["payload"]
    assert last["document_id"] == doc and last["title"] == "Báo cáo tài chính"
    assert last["page_count"] == 5 and last["presenter"]["full_name"] == "Nguyễn Văn An"
    assert last["handed_over"] is False
    # A tablet that browsed away returns to the presenter from the snapshot or the cheap read.
    fresh = await peek(live_server, "daibieu2", mid)
    assert fresh["snapshot"]["presenting"] == last
    token = await sign_in(live_server.url, "daibieu2")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        read = await http.get(f"/api/meetings/{mid}/presenting",
                              headers={"Authorization": f"Bearer {token}"})
        assert read.status_code == 200 and read.json() == last
        outsider = await sign_in(live_server.url, "nguoingoai")
        hidden = await http.get(f"/api/meetings/{mid}/presenting",
                                headers={"Authorization": f"Bearer {outsider}"})
        assert hidden.status_code == 404
        assert (await http.get(f"/api/meetings/{mid}/presenting")).status_code == 401
    # Out of range, another meeting's document, a document that failed: refused, nothing moves.
    seq = await head(chair, mid)
    await refused(chair, "present.page", {"meeting_id": mid, "document_id": doc, "page": 5},
                  "page_out_of_range")
    failed = add_document(app, mid, title="Hỏng", status="failed", pages=None)
    await refused(chair, "present.page", {"meeting_id": mid, "document_id": failed, "page": 0},
                  "document_failed")
    await refused(chair, "present.page", {"meeting_id": mid, "document_id": 99999, "page": 0},
                  "document_not_found")
    assert await head(chair, mid) == seq
    # Pages of a document still rendering (page count unknown) may be shown.
    pending = add_document(app, mid, title="Đang xử lý", status="pending", pages=None)
    ack = await chair.call("present.page", {"meeting_id": mid, "document_id": pending,
                                            "page": 7})
    assert ack["ok"] and ack["presenting"]["page_count"] is None
    stop = await chair.call("present.stop", {"meeting_id": mid})
    assert stop["ok"] and stop["presenting"]["document_id"] is None
    await refused(chair, "present.stop", {"meeting_id": mid}, "not_presenting")
    ended = await delegate.wait_for(lambda e: e["type"] == "present.changed"
                                    and e["payload"]["document_id"] is None)
    assert ended["payload"]["presenter"]["full_name"] == "Nguyễn Văn An"
    await close(chair, delegate)


async def test_chair_hands_presenting_to_a_speaker_and_takes_it_back(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    ids = participants(app, mid)
    doc = add_document(app, mid, pages=10)
    speaker, _ = await join(live_server, "daibieu1", mid)
    other, _ = await join(live_server, "daibieu2", mid)
    await refused(speaker, "present.page", {"meeting_id": mid, "document_id": doc, "page": 1},
                  "not_presenter")
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                              "page": 2}))["ok"]
    handed = await chair.call("present.handover", {"meeting_id": mid,
                                                   "participant_id": ids["daibieu1"]})
    assert handed["ok"] and handed["presenting"]["handed_over"] is True
    assert handed["presenting"]["page"] == 2  # the page shown stays
    assert handed["presenting"]["presenter"]["participant_id"] == ids["daibieu1"]
    turned = await speaker.call("present.page", {"meeting_id": mid, "document_id": doc,
                                                 "page": 3})
    assert turned["ok"]
    seen = await other.wait_for(lambda e: e["type"] == "present.changed"
                                and e["payload"]["page"] == 3)
    assert seen["payload"]["presenter"]["full_name"] == "Lê Hoàng Minh"
    await refused(other, "present.page", {"meeting_id": mid, "document_id": doc, "page": 0},
                  "not_presenter")
    # The chair can still turn pages while a speaker presents.
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                              "page": 4}))["ok"]
    await refused(chair, "present.handover",
                  {"meeting_id": mid, "participant_id": ids["quansat"]}, "presenter_not_allowed")
    await refused(chair, "present.handover", {"meeting_id": mid, "participant_id": 99999},
                  "participant_not_found")
    back = await chair.call("present.reclaim", {"meeting_id": mid})
    assert back["ok"] and back["presenting"]["handed_over"] is False
    assert back["presenting"]["presenter"]["participant_id"] == ids["chutich"]
    await refused(speaker, "present.page", {"meeting_id": mid, "document_id": doc, "page": 5},
                  "not_presenter")
    await refused(speaker, "present.stop", {"meeting_id": mid}, "not_presenter")
    await close(chair, speaker, other)


async def test_observers_never_see_a_confidential_document(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    secret = add_document(app, mid, title="Phương án nhân sự", confidential=True, pages=2)
    observer, _ = await join(live_server, "quansat", mid)
    delegate, _ = await join(live_server, "daibieu1", mid)
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": secret,
                                              "page": 1}))["ok"]
    watched = await observer.wait_for(lambda e: e["type"] == "present.changed")
    member = await delegate.wait_for(lambda e: e["type"] == "present.changed")
    assert watched["seq"] == member["seq"]
    assert member["payload"]["document_id"] == secret and member["payload"]["page"] == 1
    assert watched["payload"]["confidential"] is True
    assert {k: watched["payload"][k] for k in ("document_id", "page", "page_count", "title")} == {
        "document_id": None, "page": None, "page_count": None, "title": None}
    assert "Phương án" not in str(watched)
    again = await peek(live_server, "quansat", mid)
    assert again["snapshot"]["presenting"]["document_id"] is None
    replay = await observer.call("meeting.join", {"meeting_id": mid, "since": watched["seq"] - 1})
    assert replay["events"][0]["payload"]["document_id"] is None
    token = await sign_in(live_server.url, "quansat")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        read = await http.get(f"/api/meetings/{mid}/presenting",
                              headers={"Authorization": f"Bearer {token}"})
    assert read.json()["document_id"] is None and read.json()["confidential"] is True
    await close(chair, observer, delegate)


async def test_present_commands_refuse_wrong_roles_and_bad_payloads(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    doc = add_document(app, mid)
    ids = participants(app, mid)
    chair, _ = await join(live_server, "chutich", mid)
    # Before the session opens nothing can be presented.
    await refused(chair, "present.page", {"meeting_id": mid, "document_id": doc, "page": 0},
                  "meeting_not_in_session")
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    observer, _ = await join(live_server, "quansat", mid)
    delegate, _ = await join(live_server, "daibieu1", mid)
    secretary, _ = await join(live_server, "thuky", mid)
    seq = await head(chair, mid)
    page = {"meeting_id": mid, "document_id": doc, "page": 0}
    for name, payload in (("present.page", page), ("present.stop", {"meeting_id": mid})):
        await refused(observer, name, payload, "forbidden_role")
    for who in (delegate, secretary, observer):
        await refused(who, "present.handover",
                      {"meeting_id": mid, "participant_id": ids["daibieu1"]}, "forbidden_role")
        await refused(who, "present.reclaim", {"meeting_id": mid}, "forbidden_role")
    await refused(secretary, "present.page", page, "not_presenter")
    bad = [
        ("present.page", {"meeting_id": mid, "document_id": doc}),
        ("present.page", {"meeting_id": mid, "document_id": doc, "page": -1}),
        ("present.page", {"meeting_id": mid, "document_id": "một", "page": 0}),
        ("present.page", {"meeting_id": mid, "document_id": doc, "page": 0, "zoom": 2}),
        ("present.stop", {"meeting_id": mid, "page": 1}),
        ("present.handover", {"meeting_id": mid}),
        ("present.handover", {"meeting_id": mid, "participant_id": 0}),
        ("present.reclaim", {"meeting_id": "x"}),
    ]
    for name, payload in bad:
        await refused(chair, name, payload, "invalid_payload")
    await refused(chair, "present.page", {**page, "meeting_id": 424242}, "meeting_not_found")
    assert await head(chair, mid) == seq
    snap = await peek(live_server, "daibieu2", mid)
    assert snap["snapshot"]["presenting"]["document_id"] is None
    await close(chair, observer, delegate, secretary)
