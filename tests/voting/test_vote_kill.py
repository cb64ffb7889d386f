"""The server is killed (SIGKILL) while a thousand ballots arrive; after a restart every acked
ballot is there, none counts twice, the clients' retries apply once, and the result is exact.

50 tablets each cast their own ballot and those of the 19 members whose proxies they hold, all
at once (1,000 ballots); the server process is killed when about a third have been acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlmodel import select

from ecabinet.app import open_database
from ecabinet.core.settings import Settings
from ecabinet.services import accounts, packs
from ecabinet.storage.models import Attendance, Ballot, Meeting, Participant, User
from tests.realtime.processes import ServerProcess
from tests.waiting import until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOLDERS = 50
PROXIES_EACH = 19  # 50 × (1 + 19) = 1,000 ballots
SECRET_KEY = "kill-test-secret-key-0123456789"
CHOICES = ("yes", "no", "abstain")


def seed(settings: Settings) -> dict[str, Any]:
    """A meeting in session: a chair, 100 present holders, 900 absent members whose proxies
    they hold; sign-in tokens for the chair and the holders."""
    db = open_database(settings)
    shared = accounts.hash_password(uuid.uuid4().hex)
    holders = [f"dbieu{i:03d}" for i in range(HOLDERS)]
    givers = [f"uyquyen{i:04d}" for i in range(HOLDERS * PROXIES_EACH)]

    def build(session: Any) -> dict[str, Any]:
        names = ["chutich", *holders, *givers]
        users = [User(username=n, full_name=f"Thành viên {n}", password_hash=shared)
                 for n in names]
        session.add_all(users)
        session.flush()
        spec = packs.PackSpec.model_validate({
            "meeting": {"title": "Đại hội thử độ bền", "body": "Hội đồng thử nghiệm"},
            "participants": [{"user": "chutich", "role": "chair"}]
            + [{"user": n, "role": "delegate"} for n in holders]
            + [{"user": n, "role": "delegate", "proxy_holder": holders[i % HOLDERS]}
               for i, n in enumerate(givers)],
        })
        meeting = packs.import_pack(session, spec)
        meeting.status = "in_session"
        session.add(meeting)
        session.flush()
        rows = {p.user_id: p for p in session.exec(
            select(Participant).where(Participant.meeting_id == meeting.id))}
        by_name = {u.username: u for u in users}
        for name in ["chutich", *holders]:
            session.add(Attendance(meeting_id=meeting.id,
                                   participant_id=rows[by_name[name].id].id))
        ballots: dict[str, list[int]] = {}
        for i, name in enumerate(holders):
            own = rows[by_name[name].id].id
            carried = [rows[by_name[g].id].id for g in givers[i::HOLDERS]]
            ballots[name] = [own, *carried]
        tokens = {u.username: accounts.open_session(session, u, days=1, kind="token")
                  for u in users[: HOLDERS + 1]}
        return {"meeting_id": meeting.id, "tokens": tokens, "ballots": ballots}

    try:
        info: dict[str, Any] = db.run_sync(build)
        return info
    finally:
        db.close()


def choice_for(participant_id: int) -> str:
    return CHOICES[participant_id % 3]


async def connect(url: str, token: str) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"], auth={"token": token})
    return client


async def close_all(clients: list[socketio.AsyncClient]) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            await client.disconnect()


async def test_sigkill_while_ballots_arrive_loses_and_doubles_nothing(
    tmp_path: Path, database_url: str | None
) -> None:
    data = tmp_path / "data"
    url = database_url or f"sqlite:///{data / 'ecabinet.sqlite3'}"
    settings = Settings(data_dir=data, database_url=url, secret_key=SECRET_KEY).prepare()
    info = await asyncio.to_thread(seed, settings)
    mid = info["meeting_id"]
    env = {"ECABINET_DATA_DIR": str(data), "ECABINET_DATABASE_URL": url,
           "ECABINET_SECRET_KEY": SECRET_KEY, "ECABINET_MIGRATE_ON_START": "false"}
    # Every ballot's command, with the client id its tablet keeps for retries.
    commands = {name: [{"meeting_id": mid, "poll_id": 0, "choice": [choice_for(pid)],
                        "for_participant_id": pid, "client_id": f"ballot-{pid}-{uuid.uuid4().hex}"}
                       for pid in pids] for name, pids in info["ballots"].items()}
    first = ServerProcess("before-kill", env, tmp_path).start()
    second: ServerProcess | None = None
    clients: list[socketio.AsyncClient] = []
    try:
        await asyncio.to_thread(first.wait_ready)
        chair = await connect(first.url, info["tokens"]["chutich"])
        clients.append(chair)
        created = await chair.call("poll.create", {
            "meeting_id": mid, "client_id": uuid.uuid4().hex, "question": "Thử độ bền",
            "kind": "yes_no_abstain"})
        poll_id = created["poll_id"]
        opened = await chair.call("poll.open", {"meeting_id": mid, "client_id": uuid.uuid4().hex,
                                                "poll_id": poll_id})
        assert opened["ok"], opened
        for cmds in commands.values():
            for cmd in cmds:
                cmd["poll_id"] = poll_id
        tablets = dict(zip(info["ballots"], await asyncio.gather(
            *(connect(first.url, info["tokens"][n]) for n in info["ballots"])), strict=True))
        clients += tablets.values()

        acked: dict[int, str] = {}  # represented participant -> choice, acked before the kill
        enough = asyncio.Event()

        async def cast(client: socketio.AsyncClient, cmd: dict[str, Any]) -> None:
            try:
                answer = await client.call("poll.cast", cmd, timeout=20)
            except Exception:  # the server is gone: no ack, the ballot's fate is unknown
                return
            assert answer["ok"], answer
            acked[cmd["for_participant_id"]] = cmd["choice"][0]
            if len(acked) >= 300:
                enough.set()

        storm = asyncio.gather(*(cast(tablets[n], cmd) for n, cmds in commands.items()
                                 for cmd in cmds))
        await asyncio.wait_for(enough.wait(), 60)
        assert first.proc is not None
        first.proc.kill()  # SIGKILL: no shutdown, no flush, mid-batch
        await asyncio.to_thread(first.proc.wait)
        # A tablet sees its connection drop only after reading what came before: then the acks
        # already on their way are read, and no more can come.
        await until(lambda: not any(t.connected for t in tablets.values()),
                    "every tablet sees the killed server's connection drop", timeout=30)
        storm.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await storm
        before_restart = dict(acked)
        assert 300 <= len(before_restart) < 1000, len(before_restart)
        await close_all(clients)
        clients.clear()

        second = ServerProcess("after-restart", env, tmp_path).start()
        await asyncio.to_thread(second.wait_ready)
        stored = await asyncio.to_thread(stored_ballots, settings, poll_id)
        for pid, choice in before_restart.items():
            assert stored.get(pid) == [choice], pid  # every acked ballot survived, unchanged

        # Tablets reconnect and retry every ballot they have no ack for... and, to be sure,
        # the acked ones too: each applies once.
        tablets = dict(zip(info["ballots"], await asyncio.gather(
            *(connect(second.url, info["tokens"][n]) for n in info["ballots"])), strict=True))
        clients += tablets.values()
        answers = await asyncio.gather(*(tablets[n].call("poll.cast", cmd, timeout=30)
                                         for n, cmds in commands.items() for cmd in cmds))
        assert all(a["ok"] for a in answers), [a for a in answers if not a["ok"]][:3]
        duplicates = sum(1 for a in answers if a.get("duplicate"))
        assert duplicates >= len(before_restart)
        chair = await connect(second.url, info["tokens"]["chutich"])
        clients.append(chair)
        closed = await chair.call("poll.close", {"meeting_id": mid, "poll_id": poll_id,
                                                 "client_id": uuid.uuid4().hex})
        assert closed["ok"], closed
        all_pids = [pid for pids in info["ballots"].values() for pid in pids]
        expected = {c: sum(1 for pid in all_pids if choice_for(pid) == c) for c in CHOICES}
        result = closed["result"]
        assert {o["id"]: o["votes"] for o in result["options"]} == expected
        assert result["ballots"] == len(all_pids) == 1000
        stored = await asyncio.to_thread(stored_ballots, settings, poll_id)
        assert len(stored) == 1000 and all(len(v) == 1 for v in stored.values())
    finally:
        await close_all(clients)
        first.stop()
        if second is not None:
            second.stop()


def stored_ballots(settings: Settings, poll_id: int) -> dict[int, list[str]]:
    """Represented participant -> the choices stored for them (a list, to catch doubles)."""
    db = open_database(settings.model_copy(update={"migrate_on_start": False}))

    def read(session: Any) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for b in session.exec(select(Ballot).where(Ballot.poll_id == poll_id)):
            out.setdefault(b.represented_participant_id, []).append(b.choice[0])
        assert session.get(Meeting, 1) is not None
        return out

    try:
        return db.run_sync(read)
    finally:
        db.close()
