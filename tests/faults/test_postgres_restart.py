"""PostgreSQL restarts mid-meeting: while it is down commands fail with a clear error
(``database_unavailable``), and once it is back they work again without restarting ecabinet;
nothing that was acked is lost and the tablets catch up."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from ecabinet_client import Client
from ecabinet_client.errors import EcabinetError as ClientError

from tests.conftest import PASSWORD
from tests.faults.conftest import prepare
from tests.faults.services import PrivatePostgres
from tests.waiting import until

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.anyio]


async def test_commands_fail_clearly_while_postgres_is_down_and_work_after(
    private_postgres: PrivatePostgres, servers: Any, tmp_path: Any
) -> None:
    url = private_postgres.create_database("ecabinet")
    info = prepare(tmp_path / "data", url)
    mid = info["meeting_id"]
    server = servers("ecabinet", {"ECABINET_DATA_DIR": str(tmp_path / "data"),
                                  "ECABINET_DATABASE_URL": url})
    seen: dict[str, list[int]] = {"chutich": [], "daibieu1": []}
    clients = {name: Client(server.url, username=name, password=PASSWORD, retry_for=5,
                            ack_timeout=10) for name in seen}
    try:
        for name, client in clients.items():
            await client.sign_in()
            room = await client.join(mid, on_event=lambda ev, n=name: seen[n].append(ev.seq)
                                     if ev.seq is not None else None)
            assert room.seq is not None
        chair = clients["chutich"]
        acked = [(await chair.call("meeting.start", {"meeting_id": mid}))["seq"]]
        acked.append((await chair.call("agenda.next", {"meeting_id": mid}))["seq"])
        for name in clients:
            acked.append((await clients[name].call("attendance.check_in",
                                                   {"meeting_id": mid}))["seq"])
        poll = await chair.call("poll.create", {"meeting_id": mid, "kind": "yes_no_abstain",
                                                "question": "Thông qua?"})
        ref = {"meeting_id": mid, "poll_id": poll["poll_id"]}
        acked.append((await chair.call("poll.open", ref))["seq"])
        assert (await chair.call("poll.cast", {**ref, "choice": ["yes"]}))["ok"]

        private_postgres.halt()
        started = time.monotonic()
        with pytest.raises(ClientError) as refused:
            await chair.call("agenda.next", {"meeting_id": mid}, retry=False)
        assert refused.value.code == "database_unavailable", refused.value
        assert time.monotonic() - started < 10, "the refusal took too long"
        with pytest.raises(ClientError) as refused:  # a ballot: the batched write path
            await clients["daibieu1"].call("poll.cast", {**ref, "choice": ["no"]}, retry=False)
        assert refused.value.code == "database_unavailable"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            headers = {"authorization": f"Bearer {chair.token}"}
            page = await http.get(f"/api/meetings/{mid}", headers=headers)
            assert page.status_code == 503 and page.json()["error"]["code"] == (
                "database_unavailable")
            assert (await http.get("/readyz")).status_code == 503
            assert (await http.get("/healthz")).status_code == 200  # the process lives on

            private_postgres.boot()
            # The same server process, no restart: the pool reconnects by itself.
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert (await http.get(f"/api/meetings/{mid}", headers=headers)).status_code == 200
        acked.append((await chair.call("agenda.next", {"meeting_id": mid}))["seq"])
        cast = await clients["daibieu1"].call("poll.cast", {**ref, "choice": ["no"]})
        assert cast["ok"] and not cast.get("duplicate")
        closed = await chair.call("poll.close", ref)
        acked.append(closed["seq"])
        # Both ballots acked count: the one before the outage and the one after it.
        assert closed["result"]["ballots"] == 2
        assert server.proc is not None and server.proc.poll() is None and server.starts == 1
        # Every acked change reached both tablets, in order, with nothing in between missing.
        for name in seen:
            await until(lambda n=name: seen[n] and seen[n][-1] >= acked[-1],
                        lambda n=name: f"{n} catches up: {seen[n]} vs {acked}", timeout=30)
            numbers = seen[name]
            assert numbers == list(range(numbers[0], numbers[-1] + 1)), numbers
            assert set(acked) <= set(numbers)
    finally:
        for client in clients.values():
            await client.close()
