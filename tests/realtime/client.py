"""A small test client over socketio.AsyncClient that keeps meeting events in sequence order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import socketio

from tests.conftest import PASSWORD
from tests.waiting import ConditionTimeout


async def sign_in(base_url: str, username: str, password: str = PASSWORD) -> str:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/api/auth/signin", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["token"]
        return token


class Tablet:
    """One connected device. ``events`` holds every meeting event received, in arrival order."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.sio.on("event", self._on_event)

    async def _on_event(self, envelope: dict[str, Any]) -> None:
        self.events.append(envelope)
        self.changed.set()

    @classmethod
    async def open(cls, base_url: str, username: str) -> Tablet:
        tablet = cls(base_url, await sign_in(base_url, username))
        await tablet.sio.connect(base_url, transports=["websocket"], auth={"token": tablet.token})
        return tablet

    async def call(self, name: str, payload: dict[str, Any] | None = None, *,
                   client_id: str | None = None, timeout: float = 10) -> dict[str, Any]:
        body = dict(payload or {})
        if name not in ("meeting.join", "meeting.leave") and "client_id" not in body:
            body["client_id"] = client_id or uuid.uuid4().hex
        answer: dict[str, Any] = await self.sio.call(name, body, timeout=timeout)
        return answer

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 10) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            seen = 0
            while True:
                for ev in self.events[seen:]:
                    if predicate(ev):
                        return ev
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            got = [(ev["type"], ev.get("seq")) for ev in self.events[-20:]]
            raise ConditionTimeout(f"waited {timeout:g} s for a matching event; the last "
                                   f"received (type, seq): {got}") from None

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [ev for ev in self.events if ev["type"] == type_]

    async def close(self) -> None:
        await self.sio.disconnect()
