"""1,000 tablets lose the Wi-Fi at once, the meeting moves on, and all of them come back at once:
every one reconnects on its first try (none refused) and re-joins with exactly the events it
missed, quickly.

The tablets are lean Socket.IO clients (benchmarks/harness.py: one raw websocket each, Engine.IO
and Socket.IO spoken by hand) spread over a few processes, so that the clients' own cost does not
drown the server on this two-core machine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.harness import Fleet, LeanClient, prepare_meeting
from tests.faults.conftest import Server
from tests.waiting import until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.anyio]
TABLETS = 1000
MISSED = 3  # agenda steps taken while the tablets are away
WORKERS = 4
SECRET = "benchmark-secret-key-0123456789"  # the one prepare_meeting signs the tokens with
ALL_BACK_WITHIN = 30.0  # seconds, on a loaded two-core machine (about 3 s when quiet)


def gauge(response: httpx.Response) -> float:
    for line in response.text.splitlines():
        if line.startswith("ecabinet_connected_clients "):
            return float(line.split()[1])
    raise AssertionError("no ecabinet_connected_clients in /metrics")


async def test_a_thousand_tablets_come_back_at_once_and_all_resync(
    servers: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    meeting = prepare_meeting(f"sqlite:///{data / 'ecabinet.sqlite3'}", data, TABLETS,
                              items=MISSED + 2)
    server: Server = servers("ecabinet", {"ECABINET_DATA_DIR": str(data),
                                          "ECABINET_SECRET_KEY": SECRET})
    chair = LeanClient(server.url, {"token": meeting.chair_token})
    fleet: Fleet | None = None
    try:
        await chair.connect()
        await chair.join(meeting.meeting_id)
        started = await chair.command("meeting.start", meeting.meeting_id)
        fleet = Fleet([server.url], list(meeting.delegate_tokens), meeting.meeting_id, WORKERS,
                      since=started["seq"])
        seqs = await fleet.start(timeout=120)
        assert len(seqs) == TABLETS and set(seqs) == {started["seq"]}

        await fleet.drop()  # the Wi-Fi goes: no goodbye, the server finds out when it can
        for _ in range(MISSED):
            await chair.command("agenda.next", meeting.meeting_id)
        back = time.monotonic()
        rejoined = await fleet.reconnect()  # the Wi-Fi is back: everyone at once
        took = time.monotonic() - back

        assert len(rejoined.times) == TABLETS
        # None refused: a refused handshake, a refused or inexact re-join would be a retry.
        assert rejoined.retries == 0
        # All resynced: each re-join answered exactly the missed events (checked per tablet).
        assert rejoined.resynced_events == TABLETS * MISSED
        assert took < ALL_BACK_WITHIN, f"{TABLETS} tablets took {took:.1f} s to resync"
        print(f"{TABLETS} tablets reconnected and resynced in {took:.2f} s")
        # No ghost left behind: the dropped connections are gone, the new ones counted once.
        async with httpx.AsyncClient(timeout=30) as http:
            counted = [0.0]

            async def exact() -> bool:
                counted[0] = gauge(await http.get(f"{server.url}/metrics"))
                return counted[0] == TABLETS + 1

            await until(exact, lambda: f"{TABLETS + 1} connections counted, not {counted[0]}",
                        timeout=30, interval=0.1)
        assert server.proc is not None and server.proc.poll() is None
    finally:
        if fleet is not None:
            await fleet.close()
        await chair.close()
