"""Redis stops and comes back while two server processes share it (and one database): commands
are still acked meanwhile, and afterwards every tablet, on either process, has every acked
change in order, without anyone sending anything more (the processes, which may have missed
each other's events, make their tablets reconnect and resync)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from ecabinet_client import Client

from tests.conftest import PASSWORD
from tests.faults.conftest import prepare
from tests.faults.services import PrivateRedis
from tests.waiting import until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.anyio]
# Which process each tablet talks to.
PLACES = {"chutich": "a", "daibieu2": "a", "daibieu1": "b", "quansat": "b"}


def logged(database_url: str, meeting_id: int) -> list[tuple[int, str]]:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT seq, type FROM meeting_event "
                                        "WHERE meeting_id = :m ORDER BY seq"), {"m": meeting_id})
            return [(int(r[0]), str(r[1])) for r in rows]
    finally:
        engine.dispose()


async def test_tablets_on_both_processes_resync_after_redis_comes_back(
    private_redis: PrivateRedis, pg_url: str, servers: Any, tmp_path: Any
) -> None:
    info = prepare(tmp_path / "data", pg_url)
    mid = info["meeting_id"]
    env = {"ECABINET_DATA_DIR": str(tmp_path / "data"), "ECABINET_DATABASE_URL": pg_url,
           "ECABINET_REDIS_URL": private_redis.url}
    procs = {"a": servers("a", env), "b": servers("b", env)}
    seen: dict[str, list[tuple[int, str]]] = {name: [] for name in PLACES}
    clients = {name: Client(procs[place].url, username=name, password=PASSWORD, retry_for=30,
                            backoff=(0.2, 1.0)) for name, place in PLACES.items()}

    def record(name: str) -> Any:
        return lambda ev: seen[name].append((ev.seq, ev.type)) if ev.seq is not None else None

    try:
        for name, client in clients.items():
            await client.sign_in()
            await client.join(mid, on_event=record(name))
        chair, delegate = clients["chutich"], clients["daibieu1"]
        acked = [(await chair.call("meeting.start", {"meeting_id": mid}))["seq"]]
        acked.append((await chair.call("agenda.next", {"meeting_id": mid}))["seq"])
        # Through Redis: a change made on process a reaches the tablets on process b.
        await until(lambda: all(s and s[-1][0] == acked[-1] for s in seen.values()),
                    lambda: f"every tablet has {acked[-1]} before the outage: {seen}",
                    timeout=45)

        private_redis.stop()
        async with httpx.AsyncClient(timeout=30) as http:
            ready = await http.get(f"{procs['b'].url}/readyz")
            assert ready.status_code == 503 and "redis" in ready.json()["checks"]
        # Meanwhile both processes go on taking commands (the database is what they share);
        # each process's tablets get its own events only.
        acked.append((await delegate.call("speaker.request", {"meeting_id": mid}))["seq"])
        acked.append((await chair.call("agenda.next", {"meeting_id": mid}))["seq"])
        acked.append((await delegate.call("attendance.check_in", {"meeting_id": mid}))["seq"])
        # A tablet that sees a gap in the sequence numbers asks for what it missed: the
        # tablets on a miss the request made on b, those on b the change made on a. Once they
        # have it, the last change comes, with no later event to reveal it on process b.
        caught_up = {"a": acked[-2], "b": acked[-1]}
        await until(lambda: all(s and s[-1][0] >= caught_up[PLACES[n]] for n, s in seen.items()),
                    lambda: f"the tablets fill the gaps during the outage, up to {caught_up}: "
                    + str({n: [q for q, _ in s[-8:]] for n, s in seen.items()}), timeout=45)
        acked.append((await chair.call("agenda.next", {"meeting_id": mid}))["seq"])
        # An outage, not a blip: longer than the Redis client's own retries last.
        await asyncio.sleep(4)
        private_redis.start()
        back = time.monotonic()
        # Nobody sends anything more: the tablets must catch up on their own.
        await until(lambda: all(s and s[-1][0] >= acked[-1] for s in seen.values()),
                    lambda: f"every tablet catches up after the outage, acked {acked}: "
                    + str({n: [q for q, _ in s[-8:]] for n, s in seen.items()}), timeout=45)
        print(f"caught up {time.monotonic() - back:.1f} s after Redis came back; reconnects: "
              + str({n: c.reconnects for n, c in clients.items()}))
        log = logged(pg_url, mid)
        assert set(acked) <= {seq for seq, _type in log}
        for name, events in seen.items():
            numbers = [seq for seq, _type in events]
            assert numbers == list(range(numbers[0], numbers[-1] + 1)), (name, numbers)
            assert [e for e in log if e[0] > numbers[0]] == events[1:], name
        # And the link between the processes works again.
        final = (await delegate.call("attendance.check_out", {"meeting_id": mid}))["seq"]
        await until(lambda: all(s[-1][0] == final for s in seen.values()),
                    lambda: f"every tablet has {final} after recovery: {seen}", timeout=45)
        async with httpx.AsyncClient(timeout=30) as http:
            for proc in procs.values():
                assert (await http.get(f"{proc.url}/readyz")).status_code == 200
                assert proc.proc is not None and proc.proc.poll() is None
    finally:
        for client in clients.values():
            await client.close()
