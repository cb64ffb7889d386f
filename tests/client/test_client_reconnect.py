"""Lost answers, dropped connections, missed events and ended sessions, against a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ecabinet_client import CONNECTION, SNAPSHOT, Client, Event, Room, Unauthenticated
from ecabinet_client.transport import Transport

from tests.client.conftest import Connect
from tests.conftest import LiveServer
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def started(connect: Connect, room: dict[str, Any]) -> tuple[Client, Room]:
    chair = await connect("chutich")
    chair_room = await chair.join(room["meeting_id"])
    await chair_room.commands.meeting.start()
    return chair, chair_room


def sequenced(events: list[Event]) -> list[tuple[int | None, str]]:
    return [(e.seq, e.type) for e in events if e.seq is not None]


async def log_after(client: Client, meeting_id: int, since: int) -> list[int]:
    """The meeting's event log after ``since``, read through a fresh join with ``since``."""
    answer = await client._ask("meeting.join", {"meeting_id": meeting_id, "since": since})
    return [e["seq"] for e in answer["events"]]


def record_commands(monkeypatch: pytest.MonkeyPatch, name: str) -> list[dict[str, Any]]:
    """Every payload of ``name`` sent on any connection."""
    sent: list[dict[str, Any]] = []
    original = Transport.call

    async def recording(self: Transport, command: str, data: Any, timeout: float) -> Any:
        if command == name:
            sent.append(data)
        return await original(self, command, data, timeout)

    monkeypatch.setattr(Transport, "call", recording)
    return sent


async def test_a_lost_ack_is_retried_with_the_same_client_id_and_applied_once(
    connect: Connect, room: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    chair, chair_room = await started(connect, room)
    delegate = await connect("daibieu1")
    seen: list[Event] = []
    d_room = await delegate.join(room["meeting_id"], on_event=seen.append)
    transport = chair._transport
    assert transport is not None
    original = transport._packet
    lost: list[str] = []

    def lossy(msg: str) -> bool:
        if msg.startswith("43") and not lost:  # the server applied it; its answer never arrives
            lost.append(msg)
            transport.abort()
            return True
        return original(msg)

    transport._packet = lossy  # type: ignore[method-assign]
    sent = record_commands(monkeypatch, "agenda.next")
    ack = await chair_room.commands.agenda.next()
    assert lost and chair.reconnects == 1 and chair._transport is not transport
    assert ack["ok"] and ack["duplicate"] is True and ack["seq"] == 2
    assert len(sent) == 2 and sent[0]["client_id"] == sent[1]["client_id"]
    assert await log_after(delegate, room["meeting_id"], 1) == [2]  # applied once
    await until(lambda: d_room.seq == 2, "the delegate's room reaches seq 2")
    assert sequenced(seen) == [(1, SNAPSHOT), (2, "agenda.current")]


async def test_a_command_cut_off_right_after_sending_applies_once(
    connect: Connect, room: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    chair, chair_room = await started(connect, room)
    transport = chair._transport
    assert transport is not None
    original_send = transport._send
    cut: list[str] = []

    async def send_then_drop(text: str) -> None:
        await original_send(text)
        if '"agenda.next"' in text and not cut:
            cut.append(text)
            transport.abort()  # whether the server read it first is up to the network

    transport._send = send_then_drop  # type: ignore[method-assign]
    sent = record_commands(monkeypatch, "agenda.next")
    ack = await chair_room.commands.agenda.next()
    assert cut and ack["ok"] and ack["seq"] == 2
    assert len(sent) == 2 and sent[0]["client_id"] == sent[1]["client_id"]
    assert await log_after(chair, room["meeting_id"], 1) == [2]  # by the first send or the retry


async def test_reconnect_resyncs_exactly_the_missed_events(
    connect: Connect, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    _chair, chair_room = await started(connect, room)
    delegate = await connect("daibieu1")
    seen: list[Event] = []
    d_room = await delegate.join(mid, on_event=seen.append)
    assert d_room.seq == 1
    gate = asyncio.Event()
    original_open = delegate._open

    async def gated_open() -> None:
        await gate.wait()
        await original_open()

    delegate._open = gated_open  # type: ignore[method-assign]
    delegate.drop()  # the Wi-Fi drops
    await until(lambda: any(e.type == CONNECTION for e in seen), "a connection event")
    for _ in range(3):
        await chair_room.commands.agenda.next()
    assert d_room.seq == 1
    gate.set()
    await until(lambda: d_room.seq == 4, "the delegate's room reaches seq 4")
    states = [e.payload["state"] for e in seen if e.type == CONNECTION]
    assert states == ["lost", "restored"]
    assert sequenced(seen) == [(1, SNAPSHOT), (2, "agenda.current"), (3, "agenda.current"),
                               (4, "agenda.current")]  # by replay, no second snapshot
    assert seen[-1].type == CONNECTION
    assert delegate.reconnects == 1 and d_room.resyncs == 0
    # Commands work again on the new connection.
    await chair_room.commands.agenda.previous()
    await until(lambda: d_room.seq == 5, "the delegate's room reaches seq 5")


async def test_a_missed_live_event_is_fetched_by_resync_and_order_is_kept(
    connect: Connect, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    _chair, chair_room = await started(connect, room)
    delegate = await connect("daibieu1", gap_wait=0.2)
    seen: list[Event] = []
    d_room = await delegate.join(mid, on_event=seen.append)
    transport = delegate._transport
    assert transport is not None
    deliver = transport.on_event
    held: list[list[Any]] = []

    def unreliable(name: str, args: list[Any]) -> None:
        seq = args[0].get("seq") if args and isinstance(args[0], dict) else None
        if seq == 2:
            return  # lost in transit: only a resync brings it back
        if seq == 4:
            held.append(args)  # crosses with seq 5: arrives late
            return
        deliver(name, args)
        if seq == 5:
            for late in held:
                deliver(name, late)

    transport.on_event = unreliable
    for _ in range(4):
        await chair_room.commands.agenda.next()
    await until(lambda: d_room.seq == 5, "the delegate's room reaches seq 5")
    assert [s for s, _t in sequenced(seen)] == [1, 2, 3, 4, 5]
    assert d_room.resyncs == 1


async def test_an_ended_session_ends_the_stream_with_a_typed_error(
    live_server: LiveServer, connect: Connect, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    other_device = await connect("daibieu1")
    token_only = Client(live_server.url, token=other_device.token, backoff=(0.05, 0.2))
    try:
        d_room = await token_only.join(mid)
        first = await anext(aiter(d_room))
        assert first.type == SNAPSHOT
        await other_device.post_json("/api/auth/signout-all")  # the tablet was lost
        with pytest.raises(Unauthenticated) as err:
            async with asyncio.timeout(10):
                async for _event in d_room:
                    pass
        assert err.value.code in ("unknown_session", "session_ended", "unauthenticated")
    finally:
        await token_only.close()
    # A client with a password signs in again by itself and carries on.
    again = await connect("daibieu2")
    a_room = await again.join(mid)
    await again.post_json("/api/auth/signout-all")
    await until(lambda: again.reconnects == 1 and again.connected, "one reconnection")
    assert (await again.whoami())["username"] == "daibieu2"
    assert a_room.seq == 0
