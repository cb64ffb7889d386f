from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from ecabinet.app import create_app
from ecabinet.services import accounts
from tests.conftest import PASSWORD, LiveServer, make_settings
from tests.waiting import until, wait_subscribed

pytestmark = pytest.mark.anyio


async def _token(server: LiveServer, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/auth/signin", json={"username": username, "password": PASSWORD})
        token: str = r.json()["token"]
        return token


async def _refusal(server: LiveServer, **kwargs: Any) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    client.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, transports=["websocket"], wait_timeout=5, **kwargs)
    assert len(reasons) == 1
    return reasons[0]["data"]


async def test_unauthenticated_and_unknown_tokens_are_refused_with_a_reason(
    live_server: LiveServer,
) -> None:
    none = await _refusal(live_server)
    assert none["code"] == "unauthenticated"
    unknown = await _refusal(live_server, auth={"token": "no-such-token"})
    assert unknown["code"] == "unknown_session"


async def test_token_and_cookie_handshakes_identify_the_user(
    live_server: LiveServer, make_user: Any
) -> None:
    make_user("daibieu1", "Phạm Thị Thu Hà")
    token = await _token(live_server, "daibieu1")
    for kwargs in (
        {"auth": {"token": token}},
        {"headers": {"Cookie": f"ecabinet_session={token}"}},
    ):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(live_server.url, transports=["websocket"], **kwargs)
        me = await client.call("whoami", {}, timeout=5)
        assert me["user"]["full_name"] == "Phạm Thị Thu Hà"
        await client.disconnect()


async def test_sign_out_everywhere_drops_live_sockets(
    live_server: LiveServer, make_user: Any
) -> None:
    make_user("daibieu1")
    token = await _token(live_server, "daibieu1")
    client = socketio.AsyncClient(reconnection=False)
    ended = []
    client.on("auth.session_ended", lambda data: ended.append(data))
    await client.connect(live_server.url, transports=["websocket"], auth={"token": token})
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/api/auth/signout-all", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200
    await client.wait()  # returns once the server has dropped the connection
    assert ended == [{"reason": "signed_out"}]
    assert await _refusal(live_server, auth={"token": token}) == {
        "code": "session_ended",
        "message": "Phiên đăng nhập đã kết thúc; vui lòng đăng nhập lại.",
    }


async def test_signing_out_drops_that_sessions_sockets_and_no_other(
    live_server: LiveServer, make_user: Any
) -> None:
    make_user("daibieu1")
    signed_out, other = await _token(live_server, "daibieu1"), await _token(live_server, "daibieu1")
    ended: list[Any] = []
    clients = []
    for token in (signed_out, other):
        client = socketio.AsyncClient(reconnection=False)
        client.on("auth.session_ended", lambda data: ended.append(data))
        await client.connect(live_server.url, transports=["websocket"], auth={"token": token})
        clients.append(client)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        r = await http.post("/api/auth/signout", headers={"authorization": f"Bearer {signed_out}"})
        assert r.status_code == 200
    await clients[0].wait()  # returns once the server has dropped the connection
    assert ended == [{"reason": "signed_out"}]
    me = await clients[1].call("whoami", {}, timeout=5)  # the other device's session goes on
    assert me["ok"]
    await clients[1].disconnect()


async def test_redis_manager_serves_rooms_when_configured(tmp_path: Path, redis_url: str) -> None:
    app = create_app(make_settings(tmp_path / "d", redis_url=redis_url))
    assert isinstance(app.runtime.sio.manager, socketio.AsyncRedisManager)
    app.runtime.db.run_sync(accounts.create_user, "daibieu1", PASSWORD, "Đại biểu")
    # Another process's view: a write-only Redis manager emitting to a room of this server.
    outside = socketio.AsyncRedisManager(
        redis_url, channel=app.runtime.settings.redis_channel, write_only=True
    )
    with LiveServer(app) as server:
        token = await _token(server, "daibieu1")
        client = socketio.AsyncClient(reconnection=False)
        got: list[Any] = []
        client.on("ping.room", lambda data: got.append(data))
        await client.connect(server.url, transports=["websocket"], auth={"token": token})
        await wait_subscribed(redis_url, app.runtime.settings.redis_channel, 1)
        await outside.emit("ping.room", {"text": "xin chào"}, room="user:1")
        await until(lambda: got, "the event published through Redis reaches the client")
        await client.disconnect()
    await outside.redis.aclose()
    assert got == [{"text": "xin chào"}]


async def test_sign_out_everywhere_drops_sockets_on_other_processes(tmp_path: Path,
                                                                    redis_url: str) -> None:
    """Two servers share the database and Redis; the socket lives on B, sign-out goes to A."""
    channel = f"ecabinet-test-{tmp_path.name}"
    settings = make_settings(tmp_path / "d", redis_url=redis_url, redis_channel=channel)
    app_a, app_b = create_app(settings), create_app(settings)
    app_a.runtime.db.run_sync(accounts.create_user, "daibieu1", PASSWORD, "Đại biểu")
    with LiveServer(app_a) as server_a, LiveServer(app_b) as server_b:
        token = await _token(server_a, "daibieu1")
        client = socketio.AsyncClient(reconnection=False)
        ended: list[Any] = []
        client.on("auth.session_ended", lambda data: ended.append(data))
        await client.connect(server_b.url, transports=["websocket"], auth={"token": token})
        await wait_subscribed(redis_url, channel, 2)  # what A publishes reaches B
        async with httpx.AsyncClient(base_url=server_a.url) as http:
            r = await http.post("/api/auth/signout-all",
                                headers={"authorization": f"Bearer {token}"})
            assert r.json()["sessions_ended"] == 1
        await asyncio.wait_for(client.wait(), 10)
    assert ended == [{"reason": "signed_out"}]
