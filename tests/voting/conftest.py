"""A meeting built for votes: weights, a proxy, a confidential item, tablets in session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import Session, select

from ecabinet.core.validation import validate
from ecabinet.protocol import REGISTRY
from ecabinet.services import accounts, packs
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.pipeline import run_batched, run_command
from ecabinet.storage.models import Attendance, Meeting, Participant, User
from tests.conftest import PASSWORD, LiveServer
from tests.realtime.client import Tablet

VOTING_PACK = """
meeting:
  title: Phiên họp Hội đồng quản trị
  body: Hội đồng quản trị Công ty thử nghiệm
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate}
  - {user: daibieu2, role: delegate, weight: 2}
  - {user: daibieu3, role: delegate}
  - {user: daibieu4, role: delegate, proxy_holder: daibieu1}
  - {user: quansat, role: observer}
agenda:
  - title: Khai mạc
  - title: Kế hoạch kinh doanh
    vote: true
  - title: Nhân sự lãnh đạo
    confidential: true
    vote: true
"""
NAMES = {
    "chutich": "Nguyễn Văn An",
    "thuky": "Trần Thị Bích Ngọc",
    "daibieu1": "Lê Hoàng Minh",
    "daibieu2": "Phạm Thị Thu Hà",
    "daibieu3": "Đặng Quốc Bảo",
    "daibieu4": "Hoàng Thị Lan",
    "quansat": "Võ Đức Thắng",
    "nguoingoai": "Người Ngoài",
}
# Voting roll: chutich 1, daibieu1 1, daibieu2 2, daibieu3 1, daibieu4 1 (carried by daibieu1).
VOTERS = ("chutich", "daibieu1", "daibieu2", "daibieu3")


def create_voting_room(session: Session, status: str = "published") -> dict[str, Any]:
    for username, name in NAMES.items():
        accounts.create_user(session, username, PASSWORD, name)
    meeting = packs.import_pack(session, packs.parse_pack(VOTING_PACK))
    meeting.status = status
    session.add(meeting)
    session.flush()
    rows = session.exec(
        select(Participant, User).where(Participant.meeting_id == meeting.id)
        .where(Participant.user_id == User.id)
    ).all()
    return {
        "meeting_id": meeting.id,
        "participants": {u.username: p.id for p, u in rows},
        "users": {u.username: u.id for _p, u in rows},
    }


def command(app: Any, room: dict[str, Any], username: str, name: str,
            payload: dict[str, Any]) -> dict[str, Any]:
    """Run a command in-process through the dispatcher's transaction (no socket): setup for
    HTTP tests. Raises the command's error."""
    spec = REGISTRY.commands[name]
    user = SessionInfo(room["users"][username], username, NAMES[username], False, "vi", 0)
    body = validate(spec.schema, {"meeting_id": room["meeting_id"],
                                  "client_id": uuid.uuid4().hex, **payload})
    run = run_batched if spec.batched else run_command
    answer: dict[str, Any] = app.runtime.db.run_sync(run, spec, user, body)[0]
    return answer


def start_with_everyone_in(session: Session, meeting_id: int) -> None:
    meeting = session.get(Meeting, meeting_id)
    assert meeting is not None
    meeting.status = "in_session"
    for p in session.exec(select(Participant).where(Participant.meeting_id == meeting_id,
                                                    Participant.can_vote.is_(True))):  # type: ignore[attr-defined]
        session.add(Attendance(meeting_id=meeting_id, participant_id=p.id))


@pytest.fixture
def voting_room(app: Any) -> dict[str, Any]:
    info: dict[str, Any] = app.runtime.db.run_sync(create_voting_room)
    return info


@dataclass
class Room:
    """Tablets joined to the meeting in session, voters checked in."""

    mid: int
    pids: dict[str, int]
    tablets: dict[str, Tablet] = field(default_factory=dict)

    def __getitem__(self, username: str) -> Tablet:
        return self.tablets[username]

    async def call(self, username: str, name: str, payload: dict[str, Any],
                   client_id: str | None = None) -> dict[str, Any]:
        """A command from this user's tablet; waits out the per-connection rate limit (the
        tests send commands faster than people do), retrying with the same client id."""
        client_id = client_id or uuid.uuid4().hex
        while True:
            answer = await self[username].call(name, {"meeting_id": self.mid, **payload},
                                               client_id=client_id)
            if answer.get("ok") or answer["error"]["code"] != "rate_limited":
                return answer
            await asyncio.sleep(answer["error"]["details"]["retry_after"] + 0.05)

    async def create(self, **poll: Any) -> int:
        answer = await self.call("chutich", "poll.create", poll)
        assert answer["ok"], answer
        poll_id: int = answer["poll_id"]
        return poll_id

    async def open(self, **poll: Any) -> int:
        poll_id = await self.create(**poll)
        answer = await self.chair("poll.open", poll_id)
        assert answer["ok"], answer
        return poll_id

    async def cast(self, username: str, poll_id: int, choice: list[str],
                   client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        return await self.call(username, "poll.cast",
                               {"poll_id": poll_id, "choice": choice, **extra}, client_id)

    async def chair(self, name: str, poll_id: int) -> dict[str, Any]:
        return await self.call("chutich", name, {"poll_id": poll_id})

    async def finish(self, poll_id: int) -> dict[str, Any]:
        """Close and publish; the published result."""
        closed = await self.chair("poll.close", poll_id)
        assert closed["ok"], closed
        published = await self.chair("poll.publish", poll_id)
        assert published["ok"], published
        result: dict[str, Any] = published["result"]
        return result


async def open_room(url: str, info: dict[str, Any], users: tuple[str, ...] = (
        "chutich", "thuky", "daibieu1", "daibieu2", "daibieu3", "quansat")) -> Room:
    room = Room(info["meeting_id"], info["participants"])
    opened = await asyncio.gather(*(Tablet.open(url, u) for u in users))
    room.tablets = dict(zip(users, opened, strict=True))
    for tablet in opened:
        answer = await tablet.call("meeting.join", {"meeting_id": room.mid})
        assert answer["ok"], answer
    started = await room["chutich"].call("meeting.start", {"meeting_id": room.mid})
    assert started["ok"], started
    for u in users:
        if u in VOTERS:
            checked = await room[u].call("attendance.check_in", {"meeting_id": room.mid})
            assert checked["ok"], checked
    return room


@pytest.fixture
async def session_room(live_server: LiveServer, voting_room: dict[str, Any]
                       ) -> AsyncIterator[Room]:
    room = await open_room(live_server.url, voting_room)
    yield room
    await asyncio.gather(*(t.close() for t in room.tablets.values()))
