"""The live room through real Socket.IO clients on a real uvicorn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.client import Tablet

pytestmark = pytest.mark.anyio


async def start(live_server: LiveServer, room: dict[str, Any]) -> tuple[Tablet, int]:
    chair = await Tablet.open(live_server.url, "chutich")
    mid = room["meeting_id"]
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    answer = await chair.call("meeting.start", {"meeting_id": mid})
    assert answer["ok"], answer
    return chair, mid


async def test_join_answers_a_snapshot_with_the_sequence_number(live_server: LiveServer,
                                                                room: dict[str, Any]) -> None:
    delegate = await Tablet.open(live_server.url, "daibieu1")
    answer = await delegate.call("meeting.join", {"meeting_id": room["meeting_id"]})
    assert answer["ok"] and answer["mode"] == "snapshot" and answer["seq"] == 0
    snap = answer["snapshot"]
    assert snap["meeting"]["title"] == "Phiên họp thử nghiệm trực tuyến"
    assert snap["meeting"]["you"]["role"] == "delegate"
    assert [i["number"] for i in snap["agenda"]["items"]] == ["1", "2", "2.1", "2.2", "3", "4"]
    await delegate.close()


async def test_chair_moves_and_every_tablet_follows_in_sequence(live_server: LiveServer,
                                                                room: dict[str, Any]) -> None:
    chair, mid = await start(live_server, room)
    delegates = [await Tablet.open(live_server.url, u) for u in ("daibieu1", "daibieu2")]
    for d in delegates:
        assert (await d.call("meeting.join", {"meeting_id": mid}))["seq"] == 1
    for _ in range(3):
        assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    for d in delegates:
        await d.wait_for(lambda ev: ev["seq"] == 4)
        moves = d.of_type("agenda.current")
        assert [ev["seq"] for ev in moves] == [2, 3, 4]
        assert moves[-1]["payload"]["number"] == "2.1"
        assert moves[-1]["payload"]["title"] == "Thu ngân sách"
    for t in [chair, *delegates]:
        await t.close()


async def test_delegate_cannot_drive_and_nothing_changes(live_server: LiveServer,
                                                         room: dict[str, Any]) -> None:
    chair, mid = await start(live_server, room)
    delegate = await Tablet.open(live_server.url, "daibieu1")
    await delegate.call("meeting.join", {"meeting_id": mid})
    for name in ("agenda.next", "agenda.previous", "meeting.end"):
        answer = await delegate.call(name, {"meeting_id": mid})
        assert answer == {"ok": False, "error": answer["error"]}
        assert answer["error"]["code"] == "forbidden_role"
    refused = await delegate.call("agenda.goto", {"meeting_id": mid, "item_id": 1})
    assert refused["error"]["code"] == "forbidden_role"
    again = await delegate.call("meeting.join", {"meeting_id": mid, "since": 0})
    assert again["seq"] == 1 and [e["type"] for e in again["events"]] == ["meeting.status"]
    await chair.close()
    await delegate.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"meeting_id": "một"}, "invalid_payload"),
        ({"meeting_id": 1, "item_id": 1, "extra": True}, "invalid_payload"),
        ({"meeting_id": 1, "item_id": -3}, "invalid_payload"),
        ({"meeting_id": 1, "item_id": 9999}, "agenda_item_not_found"),
        ({"meeting_id": 424242, "item_id": 1}, "meeting_not_found"),
        ({"meeting_id": 1, "item_id": 1, "client_id": "x"}, "invalid_payload"),
    ],
)
async def test_bad_payloads_get_error_acks_and_change_nothing(
    live_server: LiveServer, room: dict[str, Any], payload: dict[str, Any], code: str
) -> None:
    chair, mid = await start(live_server, room)
    answer = await chair.call("agenda.goto", payload)
    assert answer["ok"] is False and answer["error"]["code"] == code
    state = await chair.call("meeting.join", {"meeting_id": mid, "since": 1})
    assert state["events"] == [] and state["seq"] == 1
    assert (await chair.call("whoami"))["ok"]  # the connection carries on
    await chair.close()


async def test_a_retried_command_applies_once(live_server: LiveServer,
                                              room: dict[str, Any]) -> None:
    chair, mid = await start(live_server, room)
    first = await chair.call("agenda.next", {"meeting_id": mid}, client_id="retry-0001")
    retry = await chair.call("agenda.next", {"meeting_id": mid}, client_id="retry-0001")
    assert first["ok"] and retry["ok"] and retry["duplicate"] is True
    assert retry["seq"] == first["seq"] == 2
    other = await chair.call("agenda.goto", {"meeting_id": mid, "item_id": 1},
                             client_id="retry-0001")
    assert other["error"]["code"] == "client_id_reused"
    state = await chair.call("meeting.join", {"meeting_id": mid, "since": 1})
    assert [e["seq"] for e in state["events"]] == [2]
    await chair.close()


async def test_resync_returns_exactly_the_missed_events(live_server: LiveServer,
                                                        room: dict[str, Any]) -> None:
    chair, mid = await start(live_server, room)
    delegate = await Tablet.open(live_server.url, "daibieu1")
    seen = (await delegate.call("meeting.join", {"meeting_id": mid}))["seq"]
    await delegate.close()  # the Wi-Fi drops
    for _ in range(4):
        await chair.call("agenda.next", {"meeting_id": mid})
    back = await Tablet.open(live_server.url, "daibieu1")
    answer = await back.call("meeting.join", {"meeting_id": mid, "since": seen})
    assert answer["mode"] == "events"
    assert [e["seq"] for e in answer["events"]] == [2, 3, 4, 5]
    assert answer["events"][-1]["payload"]["title"] == "Chi ngân sách"
    stale = await back.call("meeting.join", {"meeting_id": mid, "since": 99})
    assert stale["error"]["code"] == "unknown_seq"
    negative = await back.call("meeting.join", {"meeting_id": mid, "since": -1})
    assert negative["error"]["code"] == "invalid_payload"
    await chair.close()
    await back.close()


async def test_observers_and_outsiders_see_only_what_they_may(live_server: LiveServer,
                                                              room: dict[str, Any]) -> None:
    chair, mid = await start(live_server, room)
    observer = await Tablet.open(live_server.url, "quansat")
    delegate = await Tablet.open(live_server.url, "daibieu1")
    snap = (await observer.call("meeting.join", {"meeting_id": mid}))["snapshot"]
    secret = next(i for i in snap["agenda"]["items"] if i["confidential"])
    assert secret["title"] == "Nội dung mật (confidential)"
    await delegate.call("meeting.join", {"meeting_id": mid})
    secret_id = secret["id"]
    await chair.call("agenda.goto", {"meeting_id": mid, "item_id": secret_id})
    seen_by_observer = await observer.wait_for(lambda e: e["type"] == "agenda.current")
    seen_by_delegate = await delegate.wait_for(lambda e: e["type"] == "agenda.current")
    assert seen_by_observer["seq"] == seen_by_delegate["seq"]
    assert seen_by_observer["payload"]["title"] == "Nội dung mật (confidential)"
    assert seen_by_delegate["payload"]["title"] == "Nhân sự lãnh đạo"
    replay = await observer.call("meeting.join", {"meeting_id": mid, "since": 1})
    assert replay["events"][0]["payload"]["title"] == "Nội dung mật (confidential)"
    outsider = await Tablet.open(live_server.url, "nguoingoai")
    refused = await outsider.call("meeting.join", {"meeting_id": mid})
    assert refused["error"]["code"] == "meeting_not_found"
    await asyncio.sleep(0.1)  # nothing must come: give a wrongly sent event the time to arrive
    assert outsider.events == []
    for t in (chair, observer, delegate, outsider):
        await t.close()


async def test_floods_and_oversized_messages_are_refused_and_the_connection_lives(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    chair, mid = await start(live_server, room)
    big = await chair.call("agenda.goto", {"meeting_id": mid, "item_id": 1, "x": "a" * 200_000})
    assert big["error"]["code"] == "payload_too_large"
    answers = await asyncio.gather(*(chair.call("whoami") for _ in range(5)),
                                   *(chair.call("agenda.goto", {"meeting_id": mid, "item_id": 1})
                                     for _ in range(80)))
    codes = {a["error"]["code"] for a in answers if not a["ok"]}
    assert "rate_limited" in codes
    # The limit is time: waiting as long as the refusals say (rounded to a tenth) is enough.
    retry_after = max(a["error"]["details"]["retry_after"] for a in answers
                      if not a["ok"] and a["error"]["code"] == "rate_limited")
    assert 0 <= retry_after <= 2.5
    await asyncio.sleep(retry_after + 0.1)
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": 2}))["ok"]
    await chair.close()
