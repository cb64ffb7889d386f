"""Joining a meeting: who may, and what they get (a snapshot, or the events they missed).

The realtime adapter puts the connection in the meeting's rooms between ``join_actor`` and
``join_answer``, so that no event falls between the two: what is published meanwhile arrives
live and is also in the answer, and the client drops sequence numbers it already has. The
answer reads the caller's place again in its own transaction: when it changed after the rooms
were chosen (``membership.changed``), there is no answer and the adapter starts again.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session

from ecabinet.protocol import Schema, command
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor
from ecabinet.services.kernel.pipeline import authorised
from ecabinet.services.kernel.snapshot import build_snapshot, catch_up
from ecabinet.storage.models import Meeting


class JoinMeeting(Schema):
    meeting_id: int = Field(ge=1)
    since: int | None = Field(default=None, ge=0)


class LeaveMeeting(Schema):
    meeting_id: int = Field(ge=1)


@command(
    "meeting.join",
    JoinMeeting,
    roles=MEETING_READERS,
    custom=True,
    summary="Join a meeting's room: answers a snapshot, or with `since` the events missed "
    "after that sequence number (a snapshot when too far behind).",
    errors=("meeting_not_found", "unknown_seq", "conflict"),
)
def join_state(session: Session, user: SessionInfo, cmd: JoinMeeting) -> dict[str, Any]:
    """The whole join in one transaction (the adapter splits it around entering the rooms)."""
    meeting, actor = authorised(session, user, cmd.meeting_id, MEETING_READERS, "meeting.join")
    return state_for(session, actor, meeting, cmd.since)


def join_actor(session: Session, user: SessionInfo, cmd: JoinMeeting) -> Actor:
    """The caller as the meeting sees them, once they may join it."""
    _meeting, actor = authorised(session, user, cmd.meeting_id, MEETING_READERS, "meeting.join")
    return actor


def state_for(
    session: Session, actor: Actor, meeting: Meeting, since: int | None
) -> dict[str, Any]:
    """A snapshot, or with ``since`` what happened after it."""
    if since is None:
        return build_snapshot(session, actor, meeting)
    return catch_up(session, actor, meeting, since)


def join_answer(
    session: Session, user: SessionInfo, actor: Actor, cmd: JoinMeeting
) -> dict[str, Any] | None:
    """The answer once the socket is in the rooms chosen for ``actor``: the meeting and the
    caller's place are read again (the sequence number may have moved meanwhile, and so may the
    caller's role: the answer is built for the place it reads). None when that place is no
    longer ``actor``'s: the rooms are not the right ones, join again."""
    meeting, now = authorised(session, user, cmd.meeting_id, MEETING_READERS, "meeting.join")
    if now != actor:
        return None
    return state_for(session, now, meeting, cmd.since)


@command(
    "meeting.leave",
    LeaveMeeting,
    roles=MEETING_READERS,
    custom=True,
    summary="Stop receiving a meeting's events on this connection.",
)
def leave(session: Session, user: SessionInfo, cmd: LeaveMeeting) -> None:
    """Leaving changes no data: the adapter only takes the connection out of the rooms."""
