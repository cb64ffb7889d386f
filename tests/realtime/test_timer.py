"""The agenda item's timer through real Socket.IO clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session

from ecabinet.storage.models import AgendaItem
from tests.conftest import LiveServer
from tests.realtime.liveroom import close, head, join, peek, refused, started

pytestmark = pytest.mark.anyio


def plan_minutes(app: Any, item_id: int, minutes: int) -> None:
    def write(session: Session) -> None:
        item = session.get(AgendaItem, item_id)
        assert item is not None
        item.planned_minutes = minutes
        session.add(item)

    app.runtime.db.run_sync(write)


async def test_chair_runs_the_item_timer_and_tablets_compute_the_same_time(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    chair, mid = await started(live_server, room, first_item=False)
    delegate, answer = await join(live_server, "daibieu1", mid)
    first, second = (i["id"] for i in answer["snapshot"]["agenda"]["items"][:2])
    plan_minutes(app, first, 10)
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": first}))["ok"]
    snap = await peek(live_server, "daibieu2", mid)
    part = snap["snapshot"]["timer"]
    assert part["timer"] == {"item_id": first, "planned_seconds": 600, "elapsed_seconds": 0.0,
                             "started_at": None, "running": False}
    server_time = datetime.fromisoformat(part["server_time"])
    assert server_time.tzinfo is not None

    started_ack = await chair.call("timer.start", {"meeting_id": mid})
    assert started_ack["ok"] and started_ack["timer"]["running"] is True
    assert started_ack["timer"]["started_at"] is not None and "server_time" in started_ack
    await refused(chair, "timer.start", {"meeting_id": mid}, "timer_running")
    paused = await chair.call("timer.pause", {"meeting_id": mid})
    assert paused["ok"] and paused["timer"]["running"] is False
    used = paused["timer"]["elapsed_seconds"]
    assert 0 <= used < 5
    await refused(chair, "timer.pause", {"meeting_id": mid}, "timer_not_running")
    extended = await chair.call("timer.extend", {"meeting_id": mid, "seconds": 120})
    assert extended["timer"]["planned_seconds"] == 720
    shortened = await chair.call("timer.extend", {"meeting_id": mid, "seconds": -20})
    assert shortened["timer"]["planned_seconds"] == 700
    resumed = await chair.call("timer.start", {"meeting_id": mid})
    assert resumed["timer"]["elapsed_seconds"] == used  # the time used is kept across a pause

    changes = await delegate.wait_for(lambda e: e["type"] == "timer.changed"
                                      and e["payload"]["action"] == "start"
                                      and e["payload"]["elapsed_seconds"] == used)
    actions = [e["payload"]["action"] for e in delegate.of_type("timer.changed")]
    assert actions == ["start", "pause", "extend", "extend", "start"]
    assert changes["payload"]["planned_seconds"] == 700 and changes["seq"] is not None
    # A resync re-sends the timer with the server's clock.
    resync = await delegate.call("meeting.join", {"meeting_id": mid, "since": changes["seq"]})
    assert resync["events"] == [] and resync["private"]["timer"]["timer"]["running"] is True
    assert "server_time" in resync["private"]["timer"]

    reset = await chair.call("timer.reset", {"meeting_id": mid})
    assert reset["timer"] == {"item_id": first, "planned_seconds": 600, "elapsed_seconds": 0.0,
                              "started_at": None, "running": False}
    custom = await chair.call("timer.reset", {"meeting_id": mid, "planned_seconds": 90})
    assert custom["timer"]["planned_seconds"] == 90
    # A timer belongs to its item: the next item starts idle, without a plan here.
    assert (await chair.call("timer.start", {"meeting_id": mid}))["ok"]
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": second}))["ok"]
    later = await peek(live_server, "daibieu2", mid)
    assert later["snapshot"]["timer"]["timer"] == {
        "item_id": second, "planned_seconds": None, "elapsed_seconds": 0.0, "started_at": None,
        "running": False}
    open_ended = await chair.call("timer.extend", {"meeting_id": mid, "seconds": 300})
    assert open_ended["timer"]["planned_seconds"] == 300
    await close(chair, delegate)


async def test_timer_commands_refuse_wrong_roles_bad_payloads_and_bad_moments(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    chair, _ = await join(live_server, "chutich", mid)
    await refused(chair, "timer.start", {"meeting_id": mid}, "meeting_not_in_session")
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    await refused(chair, "timer.start", {"meeting_id": mid}, "no_current_item")
    await refused(chair, "timer.extend", {"meeting_id": mid, "seconds": 60}, "no_current_item")
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    others = [(await join(live_server, u, mid))[0] for u in ("thuky", "daibieu1", "quansat")]
    seq = await head(chair, mid)
    commands: list[tuple[str, dict[str, Any]]] = [
        ("timer.start", {}), ("timer.pause", {}), ("timer.extend", {"seconds": 60}),
        ("timer.reset", {}),
    ]
    for tablet in others:
        for name, extra in commands:
            await refused(tablet, name, {"meeting_id": mid, **extra}, "forbidden_role")
    bad = [
        ("timer.extend", {"meeting_id": mid}),
        ("timer.extend", {"meeting_id": mid, "seconds": 0}),
        ("timer.extend", {"meeting_id": mid, "seconds": 3601}),
        ("timer.extend", {"meeting_id": mid, "seconds": "1 phút"}),
        ("timer.reset", {"meeting_id": mid, "planned_seconds": -1}),
        ("timer.start", {"meeting_id": mid, "seconds": 5}),
        ("timer.pause", {"meeting_id": 0}),
    ]
    for name, payload in bad:
        await refused(chair, name, payload, "invalid_payload")
    await refused(chair, "timer.start", {"meeting_id": 424242}, "meeting_not_found")
    assert await head(chair, mid) == seq
    await close(chair, *others)
