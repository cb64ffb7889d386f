"""The Socket.IO origin check believes forwarded headers only from configured proxies, and the
handshake reads the session cookie under the name the web sets (issue #14, findings 9 and 16).

The servers run as ``ecabinet serve`` runs them: uvicorn's own forwarded-header handling off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from ecabinet.app import create_app
from ecabinet.services import accounts
from tests.conftest import PASSWORD, LiveServer, make_settings

pytestmark = pytest.mark.anyio
SITE = "ecabinet.example.vn"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[tuple[Any, LiveServer]] = []

    def start(**overrides: Any) -> LiveServer:
        app = create_app(make_settings(tmp_path / f"d{len(started)}", **overrides))
        app.runtime.db.run_sync(accounts.create_user, "daibieu1", PASSWORD, "Lê Hoàng Minh")
        server = LiveServer(app)
        server.config.proxy_headers = False  # as ecabinet.cli.uvicorn_options
        started.append((app, server.__enter__()))
        return server

    yield start
    for app, server in reversed(started):
        server.__exit__(None, None, None)
        app.runtime.db.close()


async def token_of(server: LiveServer) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/auth/signin",
                            json={"username": "daibieu1", "password": PASSWORD})
        token: str = r.json()["token"]
        return token


async def connects(server: LiveServer, headers: dict[str, str], **kwargs: Any) -> bool:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(server.url, transports=["websocket"], headers=headers,
                             wait_timeout=5, **kwargs)
    except socketio.exceptions.ConnectionError:
        # A refused handshake leaves the client's HTTP session open: close it.
        if client.eio.http is not None and not client.eio.http.closed:
            await client.eio.http.close()
        return False
    await client.disconnect()
    return True


async def test_a_forged_forwarded_host_from_a_client_is_not_believed(serve: Any) -> None:
    server = serve()
    auth = {"token": await token_of(server)}
    forged = {"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example",
              "X-Forwarded-Proto": "https"}
    assert not await connects(server, forged, auth=auth)
    assert not await connects(server, {"Origin": f"https://{SITE}", "X-Forwarded-Host": SITE,
                                       "X-Forwarded-Proto": "https"}, auth=auth)
    assert await connects(server, {"Origin": server.url}, auth=auth)  # the page itself


async def test_forwarded_host_and_scheme_from_a_trusted_proxy_are_believed(serve: Any) -> None:
    server = serve(trusted_proxies="127.0.0.1")
    auth = {"token": await token_of(server)}
    behind = {"X-Forwarded-Host": SITE, "X-Forwarded-Proto": "https",
              "X-Forwarded-For": "192.0.2.10"}
    assert await connects(server, {"Origin": f"https://{SITE}", **behind}, auth=auth)
    assert not await connects(server, {"Origin": "https://evil.example", **behind}, auth=auth)
    assert not await connects(server, {"Origin": f"http://{SITE}", **behind}, auth=auth)
    assert not await connects(server, {"Origin": f"https://{SITE}.evil.example", **behind},
                              auth=auth)


async def test_the_handshake_reads_the_host_prefixed_cookie_with_secure_cookies(
    serve: Any,
) -> None:
    server = serve(secure_cookies=True)
    token = await token_of(server)
    own = {"Origin": server.url}
    assert await connects(server, {**own, "Cookie": f"__Host-ecabinet_session={token}"})
    # The unprefixed name is what a sibling subdomain could plant: never read.
    assert not await connects(server, {**own, "Cookie": f"ecabinet_session={token}"})
