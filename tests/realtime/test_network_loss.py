"""A tablet loses the network mid-meeting and catches up exactly when it comes back.

The tablet reaches the real server through ``FlakyNetwork``. When the network goes, it is not told:
its connection just stops carrying anything, and only the silence of the server's pings tells it
the link is dead. Meanwhile the chair moves on. When the network is back, the tablet reconnects by
itself (python-socketio's reconnection), re-joins with the last sequence number it applied, and
must end with the same events, in order, with no duplicates and no gaps, as a tablet that never
dropped, and in the same state as a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import socketio

from tests.conftest import LiveServer
from tests.realtime.client import sign_in
from tests.realtime.netproxy import FlakyNetwork

pytestmark = pytest.mark.anyio


class FollowingTablet:
    """A tablet as the real client behaves: it reconnects on its own, re-joins with ``since``,
    holds back live events while a join is in flight, drops sequence numbers it already has, and
    re-joins when it sees a gap."""

    def __init__(self, url: str, token: str, meeting_id: int) -> None:
        self.url = url
        self.token = token
        self.meeting_id = meeting_id
        self.sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=0.05,
            reconnection_delay_max=0.2,
            randomization_factor=0,
        )
        self.seq: int | None = None
        self.applied: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.answers: list[dict[str, Any]] = []  # every join answer, in order
        self.disconnects: list[str] = []
        self.duplicates = 0
        self.gaps = 0
        self._held: list[dict[str, Any]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.changed = asyncio.Event()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("event", self._on_event)

    @classmethod
    async def open(cls, url: str, username: str, meeting_id: int,
                   direct_url: str | None = None) -> FollowingTablet:
        token = await sign_in(direct_url or url, username)
        tablet = cls(url, token, meeting_id)
        await tablet.sio.connect(url, transports=["websocket"], auth={"token": token})
        await tablet.wait(lambda: tablet.seq is not None and tablet._held is None)
        return tablet

    async def _on_connect(self) -> None:
        # Not awaited here: the join's answer arrives through the read loop that runs this.
        self._spawn(self._join())

    async def _on_disconnect(self, reason: str = "") -> None:
        self.disconnects.append(reason)
        self.changed.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self) -> None:
        self._held = []
        body: dict[str, Any] = {"meeting_id": self.meeting_id}
        if self.seq is not None:
            body["since"] = self.seq
        answer = await self.sio.call("meeting.join", body, timeout=10)
        assert answer["ok"], answer
        self.answers.append(answer)
        if answer["mode"] == "snapshot":
            snap = answer["snapshot"]
            self.state = {
                "status": snap["meeting"]["status"],
                "current_item_id": snap["agenda"]["current_item_id"],
            }
            self.seq = answer["seq"]
        else:
            for ev in answer["events"]:
                self._apply(ev)
        held, self._held = self._held, None
        for ev in held:
            self._apply(ev)
        self.changed.set()

    async def _on_event(self, envelope: dict[str, Any]) -> None:
        if envelope["seq"] is None:
            return  # outside the log: its state comes back in the join's private parts
        if self._held is not None:
            self._held.append(envelope)
        else:
            self._apply(envelope)
        self.changed.set()

    def _apply(self, ev: dict[str, Any]) -> None:
        assert self.seq is not None
        if ev["seq"] <= self.seq:
            self.duplicates += 1
            return
        if ev["seq"] > self.seq + 1:
            self.gaps += 1
            self._spawn(self._join())  # ask for what is missing instead of guessing
            return
        self.seq = ev["seq"]
        self.applied.append(ev)
        if ev["type"] == "meeting.status":
            self.state["status"] = ev["payload"]["status"]
        elif ev["type"] == "agenda.current":
            self.state["current_item_id"] = ev["payload"]["item_id"]

    async def wait(self, predicate: Any, timeout: float = 15) -> None:
        async def watch() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(watch(), timeout)

    async def wait_seq(self, seq: int) -> None:
        await self.wait(lambda: self.seq is not None and self.seq >= seq and self._held is None)

    async def call(self, name: str, **payload: Any) -> dict[str, Any]:
        body = {"meeting_id": self.meeting_id, "client_id": uuid.uuid4().hex, **payload}
        answer: dict[str, Any] = await self.sio.call(name, body, timeout=10)
        assert answer["ok"], answer
        return answer

    async def close(self) -> None:
        await self.sio.disconnect()
        for task in list(self._tasks):
            task.cancel()


@pytest.fixture
def quick_pings(app: Any) -> Iterator[None]:
    """Real tablets notice a dead link after ping interval + timeout (40 s in production);
    the same mechanism with short timings keeps the test short."""
    eio = app.runtime.sio.eio
    saved = eio.ping_interval, eio.ping_timeout
    eio.ping_interval, eio.ping_timeout = 0.5, 1.0
    yield
    eio.ping_interval, eio.ping_timeout = saved


@pytest.mark.parametrize("how", ["blackhole", "reset"])
async def test_a_tablet_that_loses_the_network_catches_up_exactly(
    quick_pings: None, live_server: LiveServer, room: dict[str, Any],
    how: Literal["blackhole", "reset"],
) -> None:
    mid = room["meeting_id"]
    wifi = await FlakyNetwork("127.0.0.1", live_server.port).start()
    chair = await FollowingTablet.open(live_server.url, "chutich", mid)
    witness = await FollowingTablet.open(live_server.url, "daibieu2", mid)  # never drops
    tablet = await FollowingTablet.open(wifi.url, "daibieu1", mid, direct_url=live_server.url)
    try:
        await chair.call("meeting.start")
        await chair.call("agenda.next")
        await tablet.wait_seq(2)
        seen = tablet.seq
        assert seen == 2 and tablet.disconnects == []

        wifi.cut(how)
        for _ in range(3):  # the meeting moves on while the tablet is cut off
            await chair.call("agenda.next")
        await witness.wait_seq(5)
        # The tablet finds out on its own; it is never told by a clean close.
        await tablet.wait(lambda: tablet.disconnects != [])
        assert tablet.disconnects == ["transport error"]
        assert tablet.seq == seen  # nothing got through while the network was down
        await chair.call("agenda.next")  # and once more while it keeps retrying in vain
        await wifi.wait_refused(2)

        wifi.restore()
        await tablet.wait_seq(6)
        resync = tablet.answers[-1]
        assert resync["mode"] == "events"
        assert [ev["seq"] for ev in resync["events"]] == [3, 4, 5, 6]  # exactly what it missed

        await chair.call("agenda.next")  # live again after the catch-up
        for t in (tablet, witness):
            await t.wait_seq(7)
        assert [ev["seq"] for ev in tablet.applied] == [1, 2, 3, 4, 5, 6, 7]
        assert tablet.applied == witness.applied  # same events, same order, same payloads
        assert tablet.duplicates == 0 and tablet.gaps == 0
        assert tablet.state == witness.state

        fresh = await FollowingTablet.open(live_server.url, "daibieu1", mid)
        assert fresh.seq == 7 and fresh.state == tablet.state
        assert fresh.state["current_item_id"] == witness.applied[-1]["payload"]["item_id"]
        await fresh.close()
    finally:
        for t in (chair, witness, tablet):
            await t.close()
        await wifi.close()
