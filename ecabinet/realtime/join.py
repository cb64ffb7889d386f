"""Joining a meeting: rooms first, then the snapshot or the missed events (no event falls
between the two: what is published meanwhile arrives live and is also in the answer, and the
client drops sequence numbers it already has)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlmodel import Session

from ecabinet.core.errors import EcabinetError, NotFound
from ecabinet.core.validation import validate
from ecabinet.domain.roles import MeetingRole
from ecabinet.protocol import Schema, command
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.realtime import publisher as rooms
from ecabinet.realtime.dispatch import Dispatcher, error_ack
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor, load_actor, require_roles
from ecabinet.services.kernel.snapshot import build_snapshot, catch_up
from ecabinet.storage.models import Meeting

if TYPE_CHECKING:
    from ecabinet.realtime.presence import Presence
    from ecabinet.runtime import Runtime



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
    errors=("meeting_not_found", "unknown_seq"),
)
def join_state(session: Session, user: SessionInfo, cmd: JoinMeeting) -> dict[str, Any]:
    meeting, actor = load_actor(session, user, cmd.meeting_id)
    require_roles(actor, MEETING_READERS, "meeting.join")
    return state_for(session, actor, meeting, cmd.since)


def state_for(
    session: Session, actor: Actor, meeting: Meeting, since: int | None
) -> dict[str, Any]:
    if since is None:
        return build_snapshot(session, actor, meeting)
    return catch_up(session, actor, meeting, since)


def state_after_rooms(session: Session, actor: Actor, cmd: JoinMeeting) -> dict[str, Any]:
    """The answer once the socket is in the rooms: the meeting row is read again (its sequence
    number may have moved meanwhile), the caller's role is the one just authorised (re-reading
    it cost a query on every join and reconnect, for nothing)."""
    meeting = session.get(Meeting, cmd.meeting_id)
    if meeting is None:
        raise NotFound(f"Không tìm thấy cuộc họp #{cmd.meeting_id}.", code="meeting_not_found")
    return state_for(session, actor, meeting, cmd.since)


@command(
    "meeting.leave",
    LeaveMeeting,
    roles=MEETING_READERS,
    custom=True,
    summary="Stop receiving a meeting's events on this connection.",
)
def leave(session: Session, user: SessionInfo, cmd: LeaveMeeting) -> None:
    """Leaving changes no data: the adapter only takes the connection out of the rooms."""


def rooms_for(meeting_id: int, actor: Actor) -> list[str]:
    out = [rooms.meeting_room(meeting_id), rooms.user_room(meeting_id, actor.user_id)]
    observer = actor.role is MeetingRole.OBSERVER
    out.append(rooms.observers_room(meeting_id) if observer else rooms.members_room(meeting_id))
    if actor.is_staff or actor.is_admin:
        out.append(rooms.staff_room(meeting_id))
    return out


def register(runtime: Runtime, dispatcher: Dispatcher, presence: Presence) -> None:
    sio = runtime.sio
    db = runtime.db

    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            user: SessionInfo = (await sio.get_session(sid))["user"]
            dispatcher.check_limits(sid, data)
            cmd = validate(JoinMeeting, data)
            _meeting, actor = await db.read(load_actor, user, cmd.meeting_id)
            require_roles(actor, MEETING_READERS, "meeting.join")
            joined = rooms_for(cmd.meeting_id, actor)
            for room in joined:
                await sio.enter_room(sid, room)
            try:
                answer = await db.read(state_after_rooms, actor, cmd)
            except EcabinetError:
                for room in joined:
                    await sio.leave_room(sid, room)
                raise
        except EcabinetError as exc:
            return error_ack(exc)
        async with sio.session(sid) as state:
            state.setdefault("meetings", {})[cmd.meeting_id] = joined
        await presence.joined(sid, cmd.meeting_id, actor)
        await presence.attach(answer, cmd.meeting_id, actor)
        return {"ok": True, **answer}

    async def leave_meeting(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            dispatcher.check_limits(sid, data)
            cmd = validate(LeaveMeeting, data)
        except EcabinetError as exc:
            return error_ack(exc)
        async with sio.session(sid) as state:
            joined = state.get("meetings", {}).pop(cmd.meeting_id, [])
        for room in joined:
            await sio.leave_room(sid, room)
        await presence.left(sid, cmd.meeting_id)
        return {"ok": True}

    sio.on("meeting.join", join)
    sio.on("meeting.leave", leave_meeting)
