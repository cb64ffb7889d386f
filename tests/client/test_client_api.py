"""The asyncio API against a real uvicorn: sign in, meetings, join, events, commands, errors."""

from __future__ import annotations

from typing import Any

import pytest
from ecabinet_client import (
    SNAPSHOT,
    Client,
    Conflict,
    Event,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    UnknownCommand,
)

from tests.client.conftest import Connect
from tests.conftest import PASSWORD, LiveServer
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def test_sign_in_and_list_meetings(live_server: LiveServer, room: dict[str, Any]) -> None:
    async with Client(live_server.url) as client:
        user = await client.sign_in("daibieu1", PASSWORD)
        assert user["full_name"] == "Lê Hoàng Minh"
        meetings = await client.meetings()
        assert [(m["id"], m["role"]) for m in meetings] == [(room["meeting_id"], "delegate")]
        assert meetings[0]["title"] == "Phiên họp thử nghiệm trực tuyến"
        assert (await client.me())["username"] == "daibieu1"
        assert (await client.whoami())["username"] == "daibieu1"
    async with Client(live_server.url) as outsider:
        with pytest.raises(Unauthenticated) as err:
            await outsider.sign_in("daibieu1", "sai mật khẩu")
        assert err.value.code == "bad_credentials" and err.value.status == 401
        with pytest.raises(Unauthenticated):
            await outsider.meetings()


async def test_a_token_works_without_a_password(live_server: LiveServer,
                                                room: dict[str, Any]) -> None:
    async with Client(live_server.url) as first:
        await first.sign_in("thuky", PASSWORD)
        token = first.token
    async with Client(live_server.url, token=token) as client:
        assert (await client.meetings())[0]["role"] == "secretary"
        joined = await client.join(room["meeting_id"])
        assert joined.snapshot["meeting"]["you"]["role"] == "secretary"
    async with Client(live_server.url, token="not-a-token") as bad:
        with pytest.raises(Unauthenticated) as err:
            await bad.join(room["meeting_id"])
        assert err.value.code in ("unknown_session", "unauthenticated")


async def test_join_gives_the_snapshot_then_events_by_callback_and_iterator(
    connect: Connect, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    chair = await connect("chutich")
    delegate = await connect("daibieu1")
    seen: list[Event] = []
    by_callback = await delegate.join(mid, on_event=seen.append)
    assert by_callback.seq == 0 and seen[0].type == SNAPSHOT and seen[0].seq == 0
    assert [i["number"] for i in by_callback.snapshot["agenda"]["items"]][:3] == ["1", "2", "2.1"]

    observer = await connect("quansat")
    watched = await observer.join(mid)  # no callback: iterate the room
    await (await chair.join(mid)).commands.meeting.start()
    for _ in range(3):
        await chair.call("agenda.next", {"meeting_id": mid})

    got: list[Event] = []
    async for event in watched:
        if event.seq is not None:
            got.append(event)
        if event.seq == 4:
            break
    assert [(e.type, e.seq) for e in got] == [
        (SNAPSHOT, 0), ("meeting.status", 1), ("agenda.current", 2), ("agenda.current", 3),
        ("agenda.current", 4)]
    assert got[-1].payload["title"] == "Thu ngân sách"
    assert got[-1].latency is not None and 0 <= got[-1].latency < 5

    await until(lambda: by_callback.seq == 4, "the callback's room reaches seq 4", timeout=5)
    assert [e.seq for e in seen if e.seq is not None] == [0, 1, 2, 3, 4]


async def test_commands_answer_and_refusals_raise_typed_errors_once(
    connect: Connect, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    chair = await connect("chutich")
    delegate = await connect("daibieu1")
    chair_room = await chair.join(mid)
    d_room = await delegate.join(mid)
    started = await chair_room.commands.meeting.start()
    assert started["ok"] and started["status"] == "in_session" and started["seq"] == 1

    sent: list[str] = []
    transport = delegate._transport
    assert transport is not None
    original = transport.call

    async def counting(name: str, data: Any, timeout: float) -> Any:
        sent.append(name)
        return await original(name, data, timeout)

    transport.call = counting  # type: ignore[method-assign]
    with pytest.raises(Forbidden) as err:
        await d_room.commands.agenda.next()
    assert err.value.code == "forbidden_role" and "chair" in err.value.details["allowed"]
    assert sent == ["agenda.next"]  # refused: not retried

    with pytest.raises(Conflict) as conflict:
        await chair_room.send("meeting.start")
    assert conflict.value.code == "invalid_transition"
    with pytest.raises(NotFound):
        await chair.call("agenda.next", {"meeting_id": 424242})

    # Checked against the server's schema before sending: nothing goes out.
    with pytest.raises(InvalidInput) as bad:
        await d_room.send("agenda.goto", item_id=-3, colour="đỏ")
    assert {d["field"] for d in bad.value.details} == {"item_id", "colour"}
    with pytest.raises(UnknownCommand):
        await delegate.call("agenda.teleport", {"meeting_id": mid})
    with pytest.raises(AttributeError):
        _ = d_room.commands.agenda.teleport
    assert sent == ["agenda.next"]
    assert "goto" in dir(d_room.commands.agenda)

    second = d_room.snapshot["agenda"]["items"][1]["id"]
    moved = await chair_room.commands.agenda.goto(item_id=second)
    assert moved["seq"] == 2
