"""Presence across server processes: the Redis store against the real Redis server.

Two stores with different process ids stand for two uvicorn processes sharing one Redis (the
two-process end-to-end test lives in test_scaleout.py); here the counting, the hand-over between
processes and the sweep of a crashed process are checked exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ecabinet.realtime.presence import LocalStore, RedisStore

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    a, b = RedisStore(redis_url, prefix, "proc-a"), RedisStore(redis_url, prefix, "proc-b")
    try:
        yield a, b
    finally:
        keys = [k async for k in a.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await a.redis.delete(*keys)
        await a.close()
        await b.close()


async def test_a_user_is_online_while_any_process_holds_a_device(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = stores
    assert await a.change(1, 7, +1) == 1  # first device: online (only this call sees 1)
    assert await b.change(1, 7, +1) == 2
    assert await b.change(1, 8, +1) == 1
    assert await a.online(1) == {7: 2, 8: 1} == await b.online(1)
    assert await a.change(1, 7, -1) == 1  # still on b
    assert await b.change(1, 7, -1) == 0  # last device gone: offline
    assert await a.online(1) == {8: 1}
    assert await a.online(2) == {}


async def test_a_crashed_process_is_swept_and_its_users_go_offline(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = stores
    await a.change(3, 7, +1)
    await a.change(3, 9, +1)
    await b.change(3, 9, +1)
    # Process a dies without cleaning up: its heartbeat key expires (deleted here at once).
    await a.redis.delete(a._alive_prefix + a.process)
    assert await b.online(3) == {9: 1}  # a's counts stop counting at once
    assert await b.sweep() == [(3, 7)]  # 9 is still online through b
    assert await b.sweep() == []  # swept once, announced once
    assert await b.online(3) == {9: 1}
    assert await b.change(3, 9, -1) == 0
    await b.sweep()
    assert not await b.redis.sismember(f"{b.prefix}:meetings", "3")


async def test_a_process_that_stalled_past_its_heartbeat_restores_its_counts(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = stores
    await a.change(4, 5, +1)
    await a.redis.delete(a._alive_prefix + a.process)
    assert await b.sweep() == [(4, 5)]
    await a.heartbeat()  # a wakes up: it still has the socket, so the count comes back
    assert await b.online(4) == {5: 1}


async def test_counts_that_drifted_after_a_failed_change_are_repaired_at_the_next_beat(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    a, b = stores
    await a.change(6, 1, +1)
    await b.change(6, 3, +1)
    # As if a decrement for user 2 and an increment for user 1 had not reached Redis.
    await a.redis.hset(a._hash(6), mapping={f"2:{a.process}": 1, f"1:{a.process}": 5})
    assert await b.online(6) == {1: 5, 2: 1, 3: 1}
    a.dirty = True
    await a.heartbeat()
    assert await b.online(6) == {1: 1, 3: 1}  # b's counts are left alone
    assert a.dirty is False


async def test_the_local_store_counts_this_process_only() -> None:
    store = LocalStore()
    assert await store.change(1, 7, +1) == 1
    assert await store.change(1, 7, +1) == 2
    assert await store.change(1, 7, -1) == 1
    assert await store.online(1) == {7: 1}
    assert await store.change(1, 7, -1) == 0
    assert await store.online(1) == {} and store.counts == {}
    assert await store.sweep() == []
    await store.close()


async def test_a_live_server_with_redis_reports_presence(
    redis_url: str, tmp_path: Any
) -> None:
    from ecabinet.app import create_app
    from tests.conftest import LiveServer, create_room, make_settings
    from tests.realtime.liveroom import join, peek, user_ids

    settings = make_settings(tmp_path / "data", redis_url=redis_url,
                             redis_channel=f"test-{uuid.uuid4().hex[:10]}")
    app = create_app(settings)
    try:
        room = app.runtime.db.run_sync(create_room)
        mid = room["meeting_id"]
        with LiveServer(app) as server:
            secretary, _ = await join(server, "thuky", mid)
            delegate, _ = await join(server, "daibieu1", mid)
            me = user_ids(app)["daibieu1"]
            came = await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                                            and e["payload"]["user_id"] == me)
            assert came["payload"]["online"] is True
            staff = await peek(server, "chutich", mid)
            assert me in {p["user_id"] for p in staff["snapshot"]["presence"]["online"]}
            await delegate.close()
            went = await secretary.wait_for(lambda e: e["type"] == "presence.changed"
                                            and e["payload"]["user_id"] == me
                                            and not e["payload"]["online"])
            assert went["payload"]["devices"] == 0
            await secretary.close()
    finally:
        app.runtime.db.close()
