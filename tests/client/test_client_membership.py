"""The Python client when its user's place in a joined meeting changes (``membership.changed``)."""

from __future__ import annotations

from typing import Any

import pytest
from ecabinet_client import CONNECTION, SNAPSHOT, Event

from tests.client.conftest import Connect
from tests.conftest import LiveServer
from tests.realtime.office import CHANGED, SECRET_TITLE, Office
from tests.waiting import until

pytestmark = pytest.mark.anyio


async def test_a_room_starts_afresh_as_an_observer_then_ends_when_removed(
    connect: Connect, live_server: LiveServer, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    delegate = await connect("daibieu1")
    seen: list[Event] = []
    joined = await delegate.join(mid, on_event=seen.append)
    assert SECRET_TITLE in str(joined.snapshot)
    office = await Office.open(live_server.url, mid)

    await office.set_role("daibieu1", "observer")
    await until(lambda: [e for e in seen if e.type == CHANGED], "the change reaches the client")
    fresh = await until(
        lambda: [e for e in seen[[e.type for e in seen].index(CHANGED):] if e.type == SNAPSHOT],
        "a fresh snapshot follows it")
    assert fresh[0].payload["meeting"]["you"]["role"] == "observer"
    assert joined.snapshot["meeting"]["you"]["role"] == "observer"
    assert SECRET_TITLE not in str(joined.snapshot)

    await office.remove("daibieu1")
    failed = await until(
        lambda: [e for e in seen if e.type == CONNECTION and e.payload["state"] == "failed"],
        "the room ends")
    assert failed[0].payload["code"] == "meeting_not_found"
    assert mid not in delegate._rooms
    await office.close()
