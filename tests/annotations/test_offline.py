"""A device that was offline replays its queued changes and ends where the server is."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.annotations.helpers import (
    Replica,
    comparable,
    create,
    device,
    highlight_of,
    ink,
    joined,
    make_pdf,
    note,
    settles,
    store_document,
    visible,
)
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio

TEXT = [[(72, 100, "Dự thảo nghị quyết về đầu tư công trung hạn"),
         (72, 140, "Điều một phạm vi điều chỉnh và đối tượng áp dụng")]]


async def test_offline_changes_replay_to_the_same_state_as_the_other_device(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    pdf = make_pdf(TEXT)
    doc = store_document(app, mid, pdf, title="Dự thảo")
    phone, _ = await joined(live_server, "daibieu1", mid)  # device A
    laptop, answer_b = await joined(live_server, "daibieu1", mid)  # device B, always online
    other, answer_o = await joined(live_server, "daibieu2", mid)
    x = await create(phone, mid, doc, 0, note(300, 200, "Ý kiến ban đầu"), "shared", uid="x")
    y = await create(phone, mid, doc, 0, ink((80, 300), (90, 310)), uid="y")
    z = await create(phone, mid, doc, 0, highlight_of(pdf, 0, "đầu tư công"), "staff", uid="z")
    assert [a["version"] for a in (x, y, z)] == [1, 1, 1]
    # The last command before the Wi-Fi went: applied, but its answer never arrived.
    lost = {"meeting_id": mid, "client_id": uuid.uuid4().hex, "uid": "lost", "document_id": doc,
            "page": 0, "data": note(100, 500, "Gửi trước khi mất mạng")}
    assert (await phone.call("annotation.create", lost))["ok"]
    seen = max(e["seq"] for e in phone.events if e["seq"] is not None)
    await phone.close()

    # Meanwhile the other device of the same person edits, deletes and shares.
    ack = await laptop.call("annotation.update", {"meeting_id": mid, "uid": "x",
                                                  "base_version": 1,
                                                  "data": note(300, 200, "Sửa trên máy tính")})
    assert ack["ok"] and ack["version"] == 2
    assert (await laptop.call("annotation.delete", {"meeting_id": mid, "uid": "z"}))["ok"]
    ack = await laptop.call("annotation.update", {"meeting_id": mid, "uid": "y",
                                                  "base_version": 1, "visibility": "shared"})
    assert ack["version"] == 2

    # Offline, the phone queues its own changes (made from what it last knew).
    queued = Replica()
    queued.queue.append(("annotation.create", lost))  # re-sent with the same client id
    queued.offline("annotation.create", {"meeting_id": mid, "uid": "w", "document_id": doc,
                                         "page": 0, "data": note(200, 600, "Viết khi offline")})
    queued.offline("annotation.update", {"meeting_id": mid, "uid": "w", "base_version": 1,
                                         "visibility": "shared"})
    queued.offline("annotation.update", {"meeting_id": mid, "uid": "x", "base_version": 1,
                                         "data": note(310, 210, "Sửa trên điện thoại")})
    queued.offline("annotation.update", {"meeting_id": mid, "uid": "z", "base_version": 1,
                                         "data": highlight_of(pdf, 0, "đầu tư công")})
    queued.offline("annotation.delete", {"meeting_id": mid, "uid": "y", "base_version": 1})

    # Back online: re-join from the last sequence number, then replay the queue in order.
    phone, rejoin = await joined_since(live_server, mid, seen)
    assert rejoin["mode"] == "events"
    replica = Replica(rejoin["private"]["annotations"])
    acks = [await phone.call(name, body) for name, body in queued.queue]
    assert acks[0]["ok"] and acks[0]["duplicate"] is True
    assert acks[1]["ok"] and acks[1]["annotation"]["uid"] == "w"
    assert acks[2]["ok"] and acks[2]["version"] == 2
    # Last writer wins: made from version 1, it still applies, and says so.
    assert acks[3]["ok"] and acks[3]["stale"] is True and acks[3]["version"] == 3
    assert acks[3]["annotation"]["data"]["text"] == "Sửa trên điện thoại"
    # Deleted elsewhere meanwhile: refused, the deletion stands.
    assert acks[4]["error"]["code"] == "annotation_deleted"
    assert acks[5]["ok"] and acks[5]["deleted"] is True

    server_view = await visible(live_server, "daibieu1", mid)
    uids = {key.split(":", 1)[1] for key in server_view}
    assert uids == {"x", "w", "lost"}
    expected = comparable(server_view)
    phone_state = await settles(phone, rejoin["private"]["annotations"], expected)
    laptop_state = await settles(laptop, answer_b["snapshot"]["annotations"], expected)
    assert phone_state.state() == laptop_state.state() == expected
    assert replica.state() != expected  # the rejoin's part alone was not the end state
    # The other delegate follows the shared ones.
    await settles(other, answer_o["snapshot"]["annotations"],
                  comparable(await visible(live_server, "daibieu2", mid)))
    for tablet in (phone, laptop, other):
        await tablet.close()


async def joined_since(live_server: LiveServer, mid: int, since: int
                       ) -> tuple[Any, dict[str, Any]]:
    tablet = await device(live_server, "daibieu1")
    answer = await tablet.call("meeting.join", {"meeting_id": mid, "since": since})
    assert answer["ok"], answer
    return tablet, answer
