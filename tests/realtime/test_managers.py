"""The Redis manager against the real Redis server, one process standing for several.

Clients are registered with the managers' public ``connect`` (no Engine.IO socket behind them)
and what would be sent to them is caught at Engine.IO's ``send_packet``. The two-process
end-to-end tests are test_scaleout.py, tests/test_realtime_handshake.py (sign-out everywhere)
and tests/faults/test_redis_restart.py (the resubscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import socketio
from engineio.packet import Packet as EioPacket
from redis.asyncio import Redis

from ecabinet.realtime.managers import SESSION_ENDED, drop_members
from ecabinet.realtime.server import start_manager

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def client_in(sio: socketio.AsyncServer, room: str, eio_sid: str) -> str:
    sid: str = await sio.manager.connect(eio_sid, "/")
    await sio.manager.enter_room(sid, "/", room)
    return sid


async def subscribers(redis_url: str, channel: str, count: int) -> None:
    """Wait until ``count`` listeners are subscribed to the channel."""
    client = Redis.from_url(redis_url)
    try:
        for _ in range(500):
            [(_name, subscribed)] = await client.pubsub_numsub(channel)
            if subscribed >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"only {subscribed} of {count} listeners subscribed")
    finally:
        await client.aclose()


def catch_sends(sio: socketio.AsyncServer,
                during: Callable[[], Any] | None = None) -> list[tuple[str, Any]]:
    """What the server sends to its clients, as (eio sid, Socket.IO payload)."""
    sent: list[tuple[str, Any]] = []

    async def send_packet(eio_sid: str, pkt: EioPacket) -> None:
        if during is not None:
            await during()
        sent.append((eio_sid, pkt.data))

    sio.eio.send_packet = send_packet
    return sent


async def test_the_publish_for_other_processes_runs_alongside_the_local_fan_out(
    ours: socketio.AsyncServer, redis_url: str, channel: str
) -> None:
    listener = Redis.from_url(redis_url)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    heard: list[Any] = []

    async def meanwhile() -> None:
        # The local client is still being sent to: the other processes must already have it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        message = None
        while message is None and loop.time() < deadline:
            # (None also stands for the subscription's confirmation, which is skipped.)
            message = await pubsub.get_message(timeout=deadline - loop.time())
        heard.append(message)

    sent = catch_sends(ours, meanwhile)
    await client_in(ours, "meeting:1", "eio-local")
    try:
        await ours.emit("event", {"seq": 1}, room="meeting:1")
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await listener.aclose()
    assert [eio for eio, _data in sent] == ["eio-local"]
    assert heard and heard[0] is not None, "published only after the local fan-out"
    message = json.loads(heard[0]["data"])
    assert (message["method"], message["event"], message["data"], message["room"]) == (
        "emit", "event", [{"seq": 1}], "meeting:1")


async def test_python_socketio_managers_and_ours_understand_each_other(
    ours: socketio.AsyncServer, redis_url: str, channel: str
) -> None:
    """A stock AsyncRedisManager process receives our emits (and, write-only, emits to ours)."""
    stock = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False,
                                 client_manager=socketio.AsyncRedisManager(redis_url,
                                                                           channel=channel))
    theirs, mine = catch_sends(stock), catch_sends(ours)
    await client_in(stock, "meeting:2", "eio-stock")
    await client_in(ours, "meeting:2", "eio-ours")
    stock.manager.initialize()
    await start_manager(ours)
    outside = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    try:
        await subscribers(redis_url, channel, 2)
        await ours.emit("event", {"from": "ours"}, room="meeting:2")
        await outside.emit("event", {"from": "outside"}, room="meeting:2")
        for _ in range(200):
            if len(theirs) >= 2 and len(mine) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        stock.manager.thread.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stock.manager.thread
        await stock.manager.pubsub.aclose()
        await stock.manager.redis.aclose()
        if outside.redis is not None:
            await outside.redis.aclose()
    assert [data for _eio, data in theirs] == [
        '2["event",{"from":"ours"}]', '2["event",{"from":"outside"}]']
    assert [data for _eio, data in mine] == [
        '2["event",{"from":"ours"}]', '2["event",{"from":"outside"}]']


async def test_session_ended_from_another_process_drops_that_sessions_sockets_here(
    ours: socketio.AsyncServer, redis_url: str, channel: str
) -> None:
    sent = catch_sends(ours)
    ended = await client_in(ours, "session:5", "eio-ended")
    other = await client_in(ours, "session:6", "eio-other")
    await start_manager(ours)
    elsewhere = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    try:
        await elsewhere.emit(SESSION_ENDED, {"reason": "signed_out"}, room="session:5")
        for _ in range(200):
            if not ours.manager.is_connected(ended, "/"):
                break
            await asyncio.sleep(0.01)
    finally:
        if elsewhere.redis is not None:
            await elsewhere.redis.aclose()
    assert not ours.manager.is_connected(ended, "/")
    assert ours.manager.is_connected(other, "/")
    # Told first, then disconnected.
    assert [data for eio, data in sent if eio == "eio-ended"][:1] == [
        f'2["{SESSION_ENDED}",{{"reason":"signed_out"}}]']
    await drop_members(ours, "session:6")
    assert not ours.manager.is_connected(other, "/")
