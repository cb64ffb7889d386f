"""``RedisManager.after_delivery``, which carries membership changes across processes: the handler
runs once a message from another process is delivered here and before the next one is.

One process stands for several: clients are registered with the manager's public ``connect``
and what would be sent to them is caught at Engine.IO's ``send_packet``; the other process is a
write-only python-socketio manager on the same channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio
from engineio.packet import Packet as EioPacket

from ecabinet.realtime.server import start_manager
from tests.waiting import ConditionTimeout

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
async def elsewhere(redis_url: str, channel: str) -> AsyncIterator[socketio.AsyncRedisManager]:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    try:
        yield manager
    finally:
        if manager.redis is not None:
            await manager.redis.aclose()


async def until(seen: list[Any], count: int) -> None:
    for _ in range(500):
        if len(seen) >= count:
            return
        await asyncio.sleep(0.01)
    raise ConditionTimeout(f"waited for {count} entries, got {seen}")


async def test_the_handler_runs_after_the_delivery_and_before_the_next_message(
    ours: socketio.AsyncServer, elsewhere: socketio.AsyncRedisManager
) -> None:
    seen: list[tuple[str, Any]] = []

    async def send_packet(_eio_sid: str, pkt: EioPacket) -> None:
        seen.append(("sent", pkt.data))

    async def handler(message: dict[str, Any]) -> None:
        seen.append(("handler", (message["room"], message["data"])))
        await asyncio.sleep(0.1)  # slow (a database read): the next message still waits

    ours.eio.send_packet = send_packet
    sid = await ours.manager.connect("eio-1", "/")
    await ours.manager.enter_room(sid, "/", "meeting:1:user:2")
    ours.manager.after_delivery('"membership.changed"', handler)
    await start_manager(ours)
    await elsewhere.emit("event", {"type": "membership.changed"}, room="meeting:1:user:2")
    await elsewhere.emit("event", {"type": "agenda.current"}, room="meeting:1:user:2")
    await until(seen, 3)
    assert seen == [
        ("sent", '2["event",{"type":"membership.changed"}]'),
        ("handler", ("meeting:1:user:2", [{"type": "membership.changed"}])),
        ("sent", '2["event",{"type":"agenda.current"}]'),
    ]


async def test_a_failing_handler_costs_neither_the_subscription_nor_the_next_messages(
    ours: socketio.AsyncServer, elsewhere: socketio.AsyncRedisManager
) -> None:
    sent: list[Any] = []

    async def send_packet(_eio_sid: str, pkt: EioPacket) -> None:
        sent.append(pkt.data)

    async def broken(_message: dict[str, Any]) -> None:
        raise RuntimeError("the database is away")

    ours.eio.send_packet = send_packet
    sid = await ours.manager.connect("eio-1", "/")
    await ours.manager.enter_room(sid, "/", "r")
    ours.manager.after_delivery('"marker"', broken)
    await start_manager(ours)
    await elsewhere.emit("event", {"type": "marker"}, room="r")
    await elsewhere.emit("event", {"type": "next"}, room="r")
    await until(sent, 2)
    assert ours.manager.listening.is_set()  # still subscribed: no reconnection of everyone
    assert ours.manager.is_connected(sid, "/")


async def test_this_processs_own_messages_are_left_to_the_sender(
    ours: socketio.AsyncServer, elsewhere: socketio.AsyncRedisManager
) -> None:
    calls: list[Any] = []

    async def handler(message: dict[str, Any]) -> None:
        calls.append(message["data"])

    ours.manager.after_delivery('"marker"', handler)
    await start_manager(ours)
    await ours.emit("event", {"type": "marker", "from": "us"}, room="r")  # comes back to us
    await elsewhere.emit("event", {"type": "marker", "from": "them"}, room="r")
    await until(calls, 1)
    await asyncio.sleep(0.1)
    assert calls == [[{"type": "marker", "from": "them"}]]
