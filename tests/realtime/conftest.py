"""Fixtures of the live-room tests: two real server processes sharing one database and Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import socketio

from ecabinet.app import open_database
from ecabinet.realtime.managers import RedisManager
from ecabinet.realtime.server import build_server, close_manager
from tests.conftest import create_room, make_settings
from tests.realtime.processes import ServerProcess
from tests.waiting import wait_subscribed


@dataclass
class Cluster:
    a: ServerProcess
    b: ServerProcess
    meeting_id: int
    redis_url: str
    channel: str

    async def wait_subscribed(self) -> None:
        await wait_subscribed(self.redis_url, self.channel, 2)


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Cluster]:
    """Two ``ecabinet serve`` processes (PostgreSQL, Redis) and the published room of
    ``tests.conftest.create_room``."""
    settings = make_settings(tmp_path / "data", database_url=pg_url).prepare()
    db = open_database(settings)  # migrates once, before either process starts
    try:
        room: dict[str, Any] = db.run_sync(create_room)
    finally:
        db.close()
    # Pub/sub channels are shared by every Redis database: a channel of its own per test run.
    channel = f"ecabinet-test-{uuid.uuid4().hex}"
    env = {
        "ECABINET_DATA_DIR": str(settings.data_dir),
        "ECABINET_DATABASE_URL": pg_url,
        "ECABINET_REDIS_URL": redis_url,
        "ECABINET_REDIS_CHANNEL": channel,
        "ECABINET_SECRET_KEY": str(settings.secret_key),
        "ECABINET_MIGRATE_ON_START": "false",
    }
    servers = [ServerProcess(name, env, tmp_path).start() for name in ("a", "b")]
    try:
        for server in servers:
            server.wait_ready()
        yield Cluster(servers[0], servers[1], room["meeting_id"], redis_url, channel)
    finally:
        for server in servers:
            server.stop()


# The one-process stand-ins for several (test_managers.py, test_after_delivery.py): our Socket.IO
# server with its Redis manager on a channel of its own.
@pytest.fixture
def channel() -> str:
    return f"ecabinet-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def ours(redis_url: str, channel: str) -> AsyncIterator[socketio.AsyncServer]:
    sio = build_server(redis_url, channel)
    assert isinstance(sio.manager, RedisManager)
    try:
        yield sio
    finally:
        await close_manager(sio)
