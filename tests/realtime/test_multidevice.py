"""One user on several devices (tablet and laptop) sees their own changes on each."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.liveroom import close, join, peek, started, user_ids

pytestmark = pytest.mark.anyio


async def test_a_change_from_one_device_shows_on_the_other(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    secretary, _ = await join(live_server, "thuky", mid)
    me = user_ids(app)["daibieu1"]
    tablet, _ = await join(live_server, "daibieu1", mid)
    laptop, _ = await join(live_server, "daibieu1", mid)
    checked = await tablet.call("attendance.check_in", {"meeting_id": mid})
    on_laptop = await laptop.wait_for(lambda e: e["type"] == "attendance.changed")
    assert on_laptop["seq"] == checked["seq"] and on_laptop["payload"]["user_id"] == me
    # The laptop knows it is already checked in: checking in again changes nothing.
    assert (await laptop.call("attendance.check_in", {"meeting_id": mid}))["changed"] is False
    asked = await laptop.call("speaker.request", {"meeting_id": mid})
    on_tablet = await tablet.wait_for(lambda e: e["type"] == "speaker.queue")
    assert [t["id"] for t in on_tablet["payload"]["waiting"]] == [asked["request_id"]]
    assert on_tablet["payload"]["waiting"][0]["user_id"] == me
    # Withdrawing from the tablet the request made on the laptop.
    assert (await tablet.call("speaker.withdraw", {"meeting_id": mid}))["ok"]
    emptied = await laptop.wait_for(lambda e: e["type"] == "speaker.queue"
                                    and e["payload"]["waiting"] == [])
    assert emptied["seq"] == on_tablet["seq"] + 1
    # Two devices are one presence: the staff saw the user come online once, and closing one
    # device leaves them online.
    comings = [e for e in secretary.of_type("presence.changed") if e["payload"]["user_id"] == me]
    assert [e["payload"]["online"] for e in comings] == [True]
    await tablet.close()
    again = await peek(live_server, "thuky", mid)
    devices = {p["user_id"]: p["devices"] for p in again["snapshot"]["presence"]["online"]}
    assert devices[me] == 1
    await laptop.close()
    gone = await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                                    and e["payload"]["user_id"] == me
                                    and not e["payload"]["online"])
    assert gone["payload"]["devices"] == 0
    await close(chair, secretary)


async def test_joining_twice_on_one_connection_counts_one_device(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room)
    me = user_ids(app)["daibieu2"]
    tablet, answer = await join(live_server, "daibieu2", mid)
    again = await tablet.call("meeting.join", {"meeting_id": mid, "since": answer["seq"]})
    assert again["ok"] and again["mode"] == "events"
    staff = await peek(live_server, "thuky", mid)
    devices = {p["user_id"]: p["devices"] for p in staff["snapshot"]["presence"]["online"]}
    assert devices[me] == 1
    await tablet.close()
    await chair.wait_for(lambda e: e["type"] == "presence.changed"
                         and e["payload"]["user_id"] == me and not e["payload"]["online"])
    await close(chair)
