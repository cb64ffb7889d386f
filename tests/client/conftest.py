"""The Python client against a real server: SQLite only (the client does not see the backend)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from ecabinet_client import Client

from tests.conftest import PASSWORD, LiveServer

Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
def database_url() -> str | None:
    return None


@pytest.fixture
async def connect(live_server: LiveServer) -> AsyncIterator[Connect]:
    """``await connect("daibieu1")``: a signed-in client checking every event against its schema,
    closed (and checked to have seen no schema drift) at the end of the test."""
    clients: list[Client] = []

    async def make(username: str, **options: Any) -> Client:
        settings: dict[str, Any] = {"validate_events": True, "ack_timeout": 5, "retry_for": 15,
                                    "backoff": (0.05, 0.5)}
        settings.update(options)
        client = Client(live_server.url, **settings)
        clients.append(client)
        await client.sign_in(username, PASSWORD)
        return client

    yield make
    for client in clients:
        await client.close()
    for client in clients:
        assert client.event_problems == [], client.event_problems
