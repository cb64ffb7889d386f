"""The secretary's side of the membership tests: changes made over HTTP, as the pages make them,
and what a tablet received after it was told that its place in the meeting changed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.realtime.client import Tablet, sign_in

CHANGED = "membership.changed"
SECRET_TITLE = "Nhân sự lãnh đạo"
REDACTED = "Nội dung mật (confidential)"


class Office:
    """One staff member's HTTP calls on one meeting (participants, status, details)."""

    def __init__(self, url: str, token: str, mid: int) -> None:
        self.http = httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"})
        self.mid = mid

    @classmethod
    async def open(cls, url: str, mid: int, username: str = "thuky") -> Office:
        return cls(url, await sign_in(url, username), mid)

    async def pids(self) -> dict[str, int]:
        """Participant ids by username."""
        r = await self.http.get(f"/api/meetings/{self.mid}/participants")
        assert r.status_code == 200, r.text
        return {p["username"]: p["id"] for p in r.json()["participants"]}

    async def set_role(self, username: str, role: str) -> None:
        pid = (await self.pids())[username]
        r = await self.http.patch(f"/api/meetings/{self.mid}/participants/{pid}",
                                  json={"role": role})
        assert r.status_code == 200, r.text

    async def remove(self, username: str) -> None:
        pid = (await self.pids())[username]
        r = await self.http.delete(f"/api/meetings/{self.mid}/participants/{pid}")
        assert r.status_code == 200, r.text

    async def set_status(self, status: str) -> None:
        r = await self.http.post(f"/api/meetings/{self.mid}/status", json={"status": status})
        assert r.status_code == 200, r.text

    async def retitle(self, title: str) -> None:
        r = await self.http.patch(f"/api/meetings/{self.mid}", json={"title": title})
        assert r.status_code == 200, r.text

    async def close(self) -> None:
        await self.http.aclose()


def after_change(tablet: Tablet) -> list[dict[str, Any]]:
    """What the tablet received after it was told that its place changed."""
    types = [ev["type"] for ev in tablet.events]
    assert CHANGED in types, types
    return tablet.events[types.index(CHANGED) + 1:]


async def settled() -> None:
    """Let a fan-out that reached one tablet reach the others too (the same emit, or the same
    Redis message, sends to all of them at once)."""
    await asyncio.sleep(0.3)


async def secret_item(tablet: Tablet, mid: int) -> int:
    snapshot = (await tablet.call("meeting.join", {"meeting_id": mid}))["snapshot"]
    item_id: int = next(i["id"] for i in snapshot["agenda"]["items"] if i["confidential"])
    return item_id


async def goto_secret(chair: Tablet, mid: int) -> None:
    item_id = await secret_item(chair, mid)
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": item_id}))["ok"]
