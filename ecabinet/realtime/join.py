"""Joining a meeting over Socket.IO: authorise, enter the rooms, then answer with the snapshot
or the missed events (``services.kernel.joining``; no event falls between the rooms and the
answer: what is published meanwhile arrives live and is also in the answer, and the client
drops sequence numbers it already has)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecabinet.core.errors import EcabinetError
from ecabinet.core.validation import validate
from ecabinet.domain.roles import MeetingRole
from ecabinet.realtime import publisher as rooms
from ecabinet.realtime.dispatch import Dispatcher, error_ack
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor
from ecabinet.services.kernel.joining import JoinMeeting, LeaveMeeting, join_actor, join_answer

if TYPE_CHECKING:
    from ecabinet.realtime.presence import Presence
    from ecabinet.runtime import Runtime


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
            actor = await db.read(join_actor, user, cmd)
            joined = rooms_for(cmd.meeting_id, actor)
            for room in joined:
                await sio.enter_room(sid, room)
            try:
                answer = await db.read(join_answer, actor, cmd)
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
