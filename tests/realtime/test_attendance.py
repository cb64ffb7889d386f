"""Attendance, the live quorum and presence through real Socket.IO clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import Session, select

from ecabinet.storage.models import Attendance, Body, Meeting, Participant
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


def periods(app: Any, mid: int) -> list[Attendance]:
    def read(session: Session) -> list[Attendance]:
        return list(session.exec(select(Attendance).where(Attendance.meeting_id == mid)
                                 .order_by(Attendance.id)).all())  # type: ignore[arg-type]

    rows: list[Attendance] = app.runtime.db.run_sync(read)
    return rows


async def test_delegates_check_in_and_the_quorum_follows(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]  # published: people check in before the chair opens the session
    ids = participants(app, mid)
    secretary, snap = await join(live_server, "thuky", mid)
    part = snap["snapshot"]["attendance"]
    assert part["quorum"]["reached"] is False and part["quorum"]["total_weight"] == 3
    assert part["quorum"]["required_weight"] == 2
    assert part["quorum"]["rule"] == "quá 1/2 tổng số thành viên có quyền biểu quyết"
    assert {p["status"] for p in part["participants"]} == {"absent"} and part["periods"] == []
    d1, _ = await join(live_server, "daibieu1", mid)
    first = await d1.call("attendance.check_in", {"meeting_id": mid})
    assert first["ok"] and first["changed"] and first["quorum"]["present_weight"] == 1
    again = await d1.call("attendance.check_in", {"meeting_id": mid})
    assert again["ok"] and again["changed"] is False and "seq" not in again
    d2, _ = await join(live_server, "daibieu2", mid)
    assert (await d2.call("attendance.check_in", {"meeting_id": mid}))["quorum"]["reached"]
    seen = await secretary.wait_for(lambda e: e["type"] == "attendance.changed"
                                    and e["payload"]["quorum"]["reached"])
    assert seen["payload"]["participant_id"] == ids["daibieu2"]
    assert seen["payload"]["full_name"] == "Phạm Thị Thu Hà"
    assert (seen["payload"]["status"], seen["payload"]["previous"]) == ("present", "absent")
    assert [e["payload"]["quorum"]["counted_weight"]
            for e in secretary.of_type("attendance.changed")] == [1, 2]
    # Observers and secretaries attend too, without changing the quorum.
    observer, _ = await join(live_server, "quansat", mid)
    checked = await observer.call("attendance.check_in", {"meeting_id": mid})
    assert checked["quorum"]["counted_weight"] == 2
    left = await d1.call("attendance.check_out", {"meeting_id": mid})
    assert left["status"] == "absent" and left["quorum"]["reached"] is False
    assert (await d1.call("attendance.check_out", {"meeting_id": mid}))["changed"] is False
    assert (await d1.call("attendance.check_in", {"meeting_id": mid}))["quorum"]["reached"]
    # Every period is kept with its times, for the minutes.
    rows = periods(app, mid)
    mine = [r for r in rows if r.participant_id == ids["daibieu1"]]
    assert len(mine) == 2 and mine[0].checked_out_at is not None
    assert mine[0].checked_in_at < mine[0].checked_out_at <= mine[1].checked_in_at
    assert mine[1].checked_out_at is None and mine[0].closed_by == mine[0].marked_by
    staff_view = await peek(live_server, "chutich", mid)
    staff_part = staff_view["snapshot"]["attendance"]
    assert len(staff_part["periods"]) == 4
    statuses = {p["participant_id"]: p["status"] for p in staff_part["participants"]}
    assert statuses[ids["daibieu1"]] == statuses[ids["quansat"]] == "present"
    assert statuses[ids["chutich"]] == "absent"
    delegate_view = await peek(live_server, "daibieu2", mid)
    assert "periods" not in delegate_view["snapshot"]["attendance"]
    assert delegate_view["snapshot"]["attendance"]["quorum"] == staff_part["quorum"]
    await close(secretary, d1, d2, observer)


async def test_secretary_marks_attendance_with_weights_proxies_and_the_body_rule(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    ids = participants(app, mid)

    def configure(session: Session) -> None:
        meeting = session.get(Meeting, mid)
        assert meeting is not None
        body = session.get(Body, meeting.body_id)
        assert body is not None
        body.quorum_numerator, body.quorum_denominator, body.quorum_strict = 2, 3, False
        d1 = session.get(Participant, ids["daibieu1"])
        d2 = session.get(Participant, ids["daibieu2"])
        assert d1 is not None and d2 is not None
        d1.vote_weight = 3  # chair 1 + d1 3 + d2 1 = 5; two thirds of 5 rounds up to 4
        d2.proxy_holder_id = ids["chutich"]
        session.add_all([body, d1, d2])

    app.runtime.db.run_sync(configure)
    chair, mid = await started(live_server, room)
    secretary, _ = await join(live_server, "thuky", mid)
    observer, _ = await join(live_server, "quansat", mid)
    marked = await secretary.call("attendance.mark", {"meeting_id": mid,
                                                      "participant_id": ids["chutich"],
                                                      "status": "present"})
    q = marked["quorum"]
    assert (q["present_weight"], q["represented_weight"], q["required_weight"]) == (1, 1, 4)
    assert q["reached"] is False and q["missing_weight"] == 2
    assert q["rule"].startswith("ít nhất 2/3")
    excused = await chair.call("attendance.mark", {"meeting_id": mid,
                                                   "participant_id": ids["daibieu1"],
                                                   "status": "excused", "note": "Đi công tác"})
    assert excused["status"] == "excused" and excused["quorum"]["reached"] is False
    event = await observer.wait_for(lambda e: e["type"] == "attendance.changed"
                                    and e["payload"]["status"] == "excused")
    assert event["payload"]["note"] == ""  # observers do not read the reasons
    member = await chair.wait_for(lambda e: e["type"] == "attendance.changed"
                                  and e["payload"]["status"] == "excused")
    assert member["payload"]["note"] == "Đi công tác" and member["seq"] == event["seq"]
    corrected = await secretary.call("attendance.mark", {
        "meeting_id": mid, "participant_id": ids["daibieu1"], "status": "excused",
        "note": "Đi công tác nước ngoài"})
    assert corrected["changed"] is True
    arrived = await secretary.call("attendance.mark", {"meeting_id": mid,
                                                       "participant_id": ids["daibieu1"],
                                                       "status": "present"})
    assert arrived["quorum"]["reached"] is True and arrived["quorum"]["counted_weight"] == 5
    gone = await secretary.call("attendance.mark", {"meeting_id": mid,
                                                    "participant_id": ids["chutich"],
                                                    "status": "absent"})
    # The chair leaves: their proxy for daibieu2 goes too.
    assert gone["quorum"]["counted_weight"] == 3 and gone["quorum"]["reached"] is False
    rows = periods(app, mid)
    d1_rows = [r for r in rows if r.participant_id == ids["daibieu1"]]
    assert [r.status for r in d1_rows] == ["excused", "present"]
    assert d1_rows[0].note == "Đi công tác nước ngoài" and d1_rows[0].checked_out_at is not None
    secretary_user = rows[0].marked_by
    assert all(r.marked_by is not None for r in rows) and secretary_user is not None
    snap = await peek(live_server, "quansat", mid)
    entries = {p["participant_id"]: p for p in snap["snapshot"]["attendance"]["participants"]}
    assert entries[ids["daibieu1"]]["status"] == "present"
    assert entries[ids["daibieu2"]]["proxy_holder_id"] == ids["chutich"]
    await close(chair, secretary, observer)


async def test_presence_comes_from_connected_devices_and_only_staff_see_it(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    users = user_ids(app)
    secretary, snap = await join(live_server, "thuky", mid)
    online = {p["user_id"] for p in snap["snapshot"]["presence"]["online"]}
    assert online == {users["chutich"], users["thuky"]}
    assert {p["devices"] for p in snap["snapshot"]["presence"]["online"]} == {1}
    delegate, dsnap = await join(live_server, "daibieu1", mid)
    assert "presence" not in dsnap["snapshot"]
    me = users["daibieu1"]
    came = await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                                    and e["payload"]["user_id"] == me)
    assert came["seq"] is None and came["payload"] == {"user_id": me, "online": True,
                                                      "devices": 1}
    # Presence does not check anyone in.
    assert all(e["type"] != "attendance.changed" for e in secretary.events)
    await delegate.close()
    went = await chair.wait_for(lambda e: e["type"] == "presence.changed"
                                and e["payload"]["online"] is False)
    assert went["payload"] == {"user_id": me, "online": False, "devices": 0}
    # A resync hands the staff the whole list again (presence events are not in the log).
    seq = await head(chair, mid)
    resync = await secretary.call("meeting.join", {"meeting_id": mid, "since": seq})
    assert {p["user_id"] for p in resync["private"]["presence"]["online"]} == online
    # Leaving the meeting on a live connection is going offline too.
    observer, _ = await join(live_server, "quansat", mid)
    await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                             and e["payload"]["online"] and e["payload"]["user_id"] != me)
    assert (await observer.call("meeting.leave", {"meeting_id": mid}))["ok"]
    await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                             and not e["payload"]["online"] and e["payload"]["user_id"] != me)
    await asyncio.sleep(0.05)  # nothing must come: give a wrongly sent event the time to arrive
    assert [e for e in observer.events if e["type"] == "presence.changed"] == []
    await close(chair, secretary, observer)


async def test_attendance_commands_refuse_wrong_roles_and_bad_payloads(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    ids = participants(app, room["meeting_id"])

    def close_meeting(session: Session, status: str) -> None:
        meeting = session.get(Meeting, room["meeting_id"])
        assert meeting is not None
        meeting.status = status
        session.add(meeting)

    chair, mid = await started(live_server, room)
    delegate, _ = await join(live_server, "daibieu1", mid)
    observer, _ = await join(live_server, "quansat", mid)
    seq = await head(chair, mid)
    mark = {"meeting_id": mid, "participant_id": ids["daibieu2"], "status": "present"}
    for tablet in (delegate, observer):
        await refused(tablet, "attendance.mark", mark, "forbidden_role")
    bad = [
        ("attendance.mark", {**mark, "status": "late"}),
        ("attendance.mark", {**mark, "participant_id": -1}),
        ("attendance.mark", {"meeting_id": mid, "status": "present"}),
        ("attendance.mark", {**mark, "note": "x" * 301}),
        ("attendance.check_in", {"meeting_id": mid, "participant_id": ids["daibieu2"]}),
        ("attendance.check_out", {"meeting_id": [mid]}),
    ]
    for name, payload in bad:
        await refused(chair, name, payload, "invalid_payload")
    await refused(chair, "attendance.mark", {**mark, "participant_id": 99999},
                  "participant_not_found")
    await refused(delegate, "attendance.check_in", {"meeting_id": 424242}, "meeting_not_found")
    assert await head(chair, mid) == seq and periods(app, mid) == []
    app.runtime.db.run_sync(close_meeting, "closed")
    await refused(delegate, "attendance.check_in", {"meeting_id": mid}, "meeting_not_open")
    await refused(chair, "attendance.mark", mark, "meeting_not_open")
    await close(chair, delegate, observer)
