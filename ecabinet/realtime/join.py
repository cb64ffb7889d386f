"""Joining a meeting over Socket.IO: authorise, enter the rooms, then answer with the snapshot
or the missed events (``services.kernel.joining``; no event falls between the rooms and the
answer: what is published meanwhile arrives live and is also in the answer, and the client
drops sequence numbers it already has). When the caller's place in the meeting changed between
choosing the rooms and building the answer, the join starts again as the caller now stands; a
change after the answer finds the socket in the rooms and moves it (``realtime/membership.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecabinet.core.errors import Conflict, EcabinetError
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


JOIN_ATTEMPTS = 3  # the caller's place changing during as many joins in a row: refuse


def in_meeting(room: str, meeting_id: int) -> bool:
    """Whether ``room`` is one of the meeting's rooms (``publisher``'s names)."""
    base = rooms.meeting_room(meeting_id)
    return room == base or room.startswith(base + ":")


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

    async def enter(sid: str, user: SessionInfo, cmd: JoinMeeting
                    ) -> tuple[Actor, dict[str, Any]] | None:
        """Enter the rooms and build the answer; None (and the rooms left again) when the
        caller's place changed in between."""
        actor = await db.read(join_actor, user, cmd)
        joined = rooms_for(cmd.meeting_id, actor)
        for room in joined:
            await sio.enter_room(sid, room)
        answer = None
        try:
            answer = await db.read(join_answer, user, actor, cmd)
        finally:
            if answer is None:  # refused, failed, or the place changed: not these rooms
                for room in joined:
                    await sio.leave_room(sid, room)
        return None if answer is None else (actor, answer)

    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            user: SessionInfo = (await sio.get_session(sid))["user"]
            dispatcher.check_limits(sid, data)
            cmd = validate(JoinMeeting, data)
            for _attempt in range(JOIN_ATTEMPTS):
                entered = await enter(sid, user, cmd)
                if entered is not None:
                    break
            else:
                raise Conflict("Vai trò của bạn trong cuộc họp đang thay đổi; hãy thử lại "
                               "(your place in the meeting is changing).", code="conflict")
            actor, answer = entered
        except EcabinetError as exc:
            return error_ack(exc)
        await presence.joined(sid, cmd.meeting_id, actor)
        if rooms.user_room(cmd.meeting_id, actor.user_id) not in sio.rooms(sid):
            await presence.left(sid, cmd.meeting_id)  # taken out of the meeting meanwhile
        await presence.attach(answer, cmd.meeting_id, actor)
        return {"ok": True, **answer}

    async def leave_meeting(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            dispatcher.check_limits(sid, data)
            cmd = validate(LeaveMeeting, data)
        except EcabinetError as exc:
            return error_ack(exc)
        for room in sio.rooms(sid):
            if in_meeting(room, cmd.meeting_id):
                await sio.leave_room(sid, room)
        await presence.left(sid, cmd.meeting_id)
        return {"ok": True}

    sio.on("meeting.join", join)
    sio.on("meeting.leave", leave_meeting)
