"""The speaker queue through real Socket.IO clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from ecabinet.storage.models import SpeakerRequest
from tests.conftest import LiveServer
from tests.realtime.liveroom import (
    close,
    head,
    join,
    participants,
    peek,
    refused,
    started,
    user_ids,
)

pytestmark = pytest.mark.anyio


def turns(app: Any, mid: int) -> list[SpeakerRequest]:
    def read(session: Session) -> list[SpeakerRequest]:
        return list(session.exec(select(SpeakerRequest).where(SpeakerRequest.meeting_id == mid)
                                 .order_by(SpeakerRequest.id)).all())  # type: ignore[arg-type]

    rows: list[SpeakerRequest] = app.runtime.db.run_sync(read)
    return rows


def names(queue: list[dict[str, Any]]) -> list[str]:
    return [t["full_name"] for t in queue]


async def test_delegates_ask_the_chair_gives_the_floor_and_turns_are_recorded(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    d1, answer = await join(live_server, "daibieu1", mid)
    item = answer["snapshot"]["agenda"]["current_item_id"]
    d2, _ = await join(live_server, "daibieu2", mid)
    asked = await d1.call("speaker.request", {"meeting_id": mid})
    assert asked["ok"] and asked["status"] == "waiting"
    await refused(d1, "speaker.request", {"meeting_id": mid}, "already_requested")
    assert (await d2.call("speaker.request", {"meeting_id": mid}))["ok"]
    queue = await chair.wait_for(lambda e: e["type"] == "speaker.queue"
                                 and len(e["payload"]["waiting"]) == 2)
    assert queue["payload"]["item_id"] == item and queue["payload"]["speaking"] is None
    assert names(queue["payload"]["waiting"]) == ["Lê Hoàng Minh", "Phạm Thị Thu Hà"]
    granted = await chair.call("speaker.grant", {"meeting_id": mid, "limit_seconds": 180})
    assert granted == {"ok": True, "request_id": asked["request_id"], "status": "speaking",
                       "seq": granted["seq"]}
    now = await d2.wait_for(lambda e: e["type"] == "speaker.queue"
                            and e["payload"]["speaking"] is not None)
    speaking = now["payload"]["speaking"]
    assert speaking["full_name"] == "Lê Hoàng Minh" and speaking["limit_seconds"] == 180
    assert datetime.fromisoformat(speaking["started_at"]).tzinfo is not None
    assert names(now["payload"]["waiting"]) == ["Phạm Thị Thu Hà"]
    # Granting the next one ends the current turn.
    second = await chair.call("speaker.grant", {"meeting_id": mid})
    assert second["ok"]
    after = await d1.wait_for(lambda e: e["type"] == "speaker.queue"
                              and e["payload"]["speaking"] is not None
                              and e["payload"]["speaking"]["full_name"] == "Phạm Thị Thu Hà")
    assert names(after["payload"]["spoken"]) == ["Lê Hoàng Minh"]
    assert after["payload"]["speaking"]["limit_seconds"] is None
    await refused(d1, "speaker.end", {"meeting_id": mid}, "not_speaker")
    ended = await d2.call("speaker.end", {"meeting_id": mid})  # the speaker ends their own turn
    assert ended["ok"] and ended["status"] == "done"
    await refused(chair, "speaker.end", {"meeting_id": mid}, "nobody_speaking")
    await refused(chair, "speaker.grant", {"meeting_id": mid}, "queue_empty")
    # Having spoken, one may ask again on the same item.
    assert (await d1.call("speaker.request", {"meeting_id": mid}))["ok"]
    rows = turns(app, mid)
    assert [r.status for r in rows] == ["done", "done", "waiting"]
    for row in rows[:2]:
        assert row.started_at is not None and row.ended_at is not None
        assert row.requested_at <= row.started_at < row.ended_at
    assert rows[0].ended_at is not None and rows[1].started_at is not None
    assert rows[0].ended_at <= rows[1].started_at
    snap = await peek(live_server, "quansat", mid)
    part = snap["snapshot"]["speakers"]
    assert part["speaking"] is None
    [queue_part] = part["items"]
    assert queue_part["item_id"] == item and names(queue_part["waiting"]) == ["Lê Hoàng Minh"]
    assert names(queue_part["spoken"]) == ["Lê Hoàng Minh", "Phạm Thị Thu Hà"]
    await close(chair, d1, d2)


async def test_chair_reorders_refuses_and_delegates_withdraw(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    ids = participants(app, mid)
    d1, _ = await join(live_server, "daibieu1", mid)
    d2, _ = await join(live_server, "daibieu2", mid)
    r1 = (await d1.call("speaker.request", {"meeting_id": mid}))["request_id"]
    r2 = (await d2.call("speaker.request", {"meeting_id": mid}))["request_id"]
    # The chair puts someone who raised a hand into the queue; the chair asks for themself too.
    r3 = (await chair.call("speaker.request", {"meeting_id": mid,
                                               "participant_id": ids["chutich"]}))["request_id"]
    order = await chair.call("speaker.reorder", {"meeting_id": mid, "request_ids": [r3, r2, r1]})
    assert order["ok"] and order["order"] == [r3, r2, r1]
    seen = await d1.wait_for(lambda e: e["type"] == "speaker.queue"
                             and [t["id"] for t in e["payload"]["waiting"]] == [r3, r2, r1])
    assert [t["position"] for t in seen["payload"]["waiting"]] == [0, 1, 2]
    await refused(chair, "speaker.reorder", {"meeting_id": mid, "request_ids": [r2, r1]},
                  "queue_changed")
    await refused(chair, "speaker.reorder", {"meeting_id": mid, "request_ids": [r1, r1, r2, r3]},
                  "queue_changed")
    await refused(d1, "speaker.withdraw", {"meeting_id": mid, "request_id": r2},
                  "not_your_request")
    withdrawn = await d1.call("speaker.withdraw", {"meeting_id": mid})
    assert withdrawn["ok"] and withdrawn["status"] == "withdrawn"
    await refused(d1, "speaker.withdraw", {"meeting_id": mid}, "speaker_request_not_found")
    refusal = await chair.call("speaker.refuse", {"meeting_id": mid, "request_id": r2,
                                                  "reason": "Đã hết thời gian thảo luận"})
    assert refusal["ok"] and refusal["status"] == "refused"
    await refused(chair, "speaker.refuse", {"meeting_id": mid, "request_id": r2}, "not_waiting")
    await refused(chair, "speaker.grant", {"meeting_id": mid, "request_id": r1}, "not_waiting")
    last = await d2.wait_for(lambda e: e["type"] == "speaker.queue"
                             and [t["id"] for t in e["payload"]["waiting"]] == [r3])
    assert last["payload"]["spoken"] == []
    rows = {r.id: r for r in turns(app, mid)}
    assert rows[r2].note == "Đã hết thời gian thảo luận" and rows[r2].ended_at is not None
    users = user_ids(app)
    assert rows[r1].status == "withdrawn" and rows[r1].requested_by == users["daibieu1"]
    assert rows[r3].participant_id == ids["chutich"] and rows[r3].requested_by == users["chutich"]
    # A withdrawn or refused request does not block asking again.
    assert (await d1.call("speaker.request", {"meeting_id": mid}))["ok"]
    await close(chair, d1, d2)


async def test_queues_are_per_item_and_one_speaker_holds_the_floor(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    chair, mid = await started(live_server, room)
    d1, answer = await join(live_server, "daibieu1", mid)
    items = [i["id"] for i in answer["snapshot"]["agenda"]["items"]]
    first = answer["snapshot"]["agenda"]["current_item_id"]
    d2, _ = await join(live_server, "daibieu2", mid)
    # Asking ahead for a later item is allowed, and it is a separate queue.
    ahead = await d1.call("speaker.request", {"meeting_id": mid, "item_id": items[4]})
    now = await d1.call("speaker.request", {"meeting_id": mid})
    assert ahead["ok"] and now["ok"]
    assert (await d2.call("speaker.request", {"meeting_id": mid}))["ok"]
    assert (await chair.call("speaker.grant", {"meeting_id": mid}))["request_id"] == \
        now["request_id"]
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": items[4]}))["ok"]
    # d1 still speaks on the first item; granting the later item's queue ends that turn.
    granted = await chair.call("speaker.grant", {"meeting_id": mid})
    assert granted["request_id"] == ahead["request_id"]
    events = await d2.wait_for(lambda e: e["type"] == "speaker.queue"
                               and e["payload"]["item_id"] == items[4]
                               and e["payload"]["speaking"] is not None)
    old_item = [e for e in d2.of_type("speaker.queue") if e["seq"] == events["seq"] - 1]
    assert old_item and old_item[0]["payload"]["item_id"] == first
    assert [t["full_name"] for t in old_item[0]["payload"]["spoken"]] == ["Lê Hoàng Minh"]
    snap = await peek(live_server, "thuky", mid)
    part = snap["snapshot"]["speakers"]
    assert part["speaking"]["item_id"] == items[4]
    by_item = {q["item_id"]: q for q in part["items"]}
    assert [t["full_name"] for t in by_item[first]["waiting"]] == ["Phạm Thị Thu Hà"]
    assert by_item[items[4]]["waiting"] == []
    await close(chair, d1, d2)


async def test_speaker_commands_refuse_wrong_roles_and_bad_payloads(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    ids = participants(app, room["meeting_id"])
    chair, mid = await started(live_server, room)
    d1, _ = await join(live_server, "daibieu1", mid)
    secretary, _ = await join(live_server, "thuky", mid)
    observer, _ = await join(live_server, "quansat", mid)
    request_id = (await d1.call("speaker.request", {"meeting_id": mid}))["request_id"]
    seq = await head(chair, mid)
    await refused(observer, "speaker.request", {"meeting_id": mid}, "forbidden_role")
    await refused(observer, "speaker.withdraw", {"meeting_id": mid}, "forbidden_role")
    await refused(observer, "speaker.end", {"meeting_id": mid}, "forbidden_role")
    await refused(secretary, "speaker.request", {"meeting_id": mid}, "speaker_not_allowed")
    await refused(d1, "speaker.request", {"meeting_id": mid, "participant_id": ids["daibieu2"]},
                  "forbidden_role")
    await refused(chair, "speaker.request", {"meeting_id": mid,
                                             "participant_id": ids["quansat"]},
                  "speaker_not_allowed")
    chair_only = [
        ("speaker.grant", {}),
        ("speaker.reorder", {"request_ids": [request_id]}),
        ("speaker.refuse", {"request_id": request_id}),
    ]
    for tablet in (d1, secretary, observer):
        for name, extra in chair_only:
            await refused(tablet, name, {"meeting_id": mid, **extra}, "forbidden_role")
    await refused(secretary, "speaker.end", {"meeting_id": mid}, "forbidden_role")
    bad = [
        ("speaker.request", {"meeting_id": mid, "item_id": 0}),
        ("speaker.request", {"meeting_id": mid, "topic": "ngân sách"}),
        ("speaker.withdraw", {"meeting_id": mid, "request_id": "một"}),
        ("speaker.grant", {"meeting_id": mid, "limit_seconds": 5}),
        ("speaker.grant", {"meeting_id": mid, "limit_seconds": 99999}),
        ("speaker.reorder", {"meeting_id": mid}),
        ("speaker.reorder", {"meeting_id": mid, "request_ids": "1,2"}),
        ("speaker.reorder", {"meeting_id": mid, "request_ids": list(range(1001))}),
        ("speaker.refuse", {"meeting_id": mid}),
        ("speaker.refuse", {"meeting_id": mid, "request_id": request_id, "reason": "x" * 301}),
        ("speaker.end", {"meeting_id": mid, "request_id": request_id}),
    ]
    for name, payload in bad:
        await refused(chair, name, payload, "invalid_payload")
    await refused(chair, "speaker.request", {"meeting_id": mid, "item_id": 99999},
                  "agenda_item_not_found")
    await refused(chair, "speaker.refuse", {"meeting_id": mid, "request_id": 99999},
                  "speaker_request_not_found")
    await refused(chair, "speaker.grant", {"meeting_id": 424242}, "meeting_not_found")
    assert await head(chair, mid) == seq
    assert [r.status for r in turns(app, mid)] == ["waiting"]
    assert (await chair.call("meeting.end", {"meeting_id": mid}))["ok"]
    await refused(chair, "speaker.grant", {"meeting_id": mid}, "meeting_not_in_session")
    await refused(d1, "speaker.request", {"meeting_id": mid, "item_id": None},
                  "meeting_not_open")
    await close(chair, d1, secretary, observer)
