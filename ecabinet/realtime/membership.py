"""Open sockets follow the database when someone's place in a meeting changes.

A socket enters a meeting's rooms when it joins (``join.rooms_for``: the meeting, its members or
its observers, its staff, the user's own devices) and would keep them for as long as it stays
connected. So a service that changes someone's place (participants, roles, the meeting's status)
emits ``membership.changed`` for that user (``services/kernel/membership.py``) ahead of the
change's own events, and the publisher hands it here instead of sending it. For each process:

1. that user's sockets in the meeting (those in its user room) leave every room of the meeting
   at once, without yielding to the event loop, so nothing published after this point reaches
   them under their old rooms;
2. they are sent the event, telling the client to join again for a fresh snapshot;
3. their place is read from the database again (the join's own read) and they enter the rooms
   they now belong to, or stay out of the meeting (their connection stays: they may be in other
   meetings); the presence counts follow.

Across processes the event goes to the user room through the Socket.IO manager: on Redis, one
channel that each process reads in order, and each process runs steps 1 and 3 right after
python-socketio has delivered the event there and before it delivers the next message
(``RedisManager.after_delivery``). What any process publishes after the change's events therefore
finds the rooms already moved, on every process. One window remains: an event committed on
another process after the change but published before the change's own publication reaches
this one (the time Redis takes to carry a message) still goes by the old rooms.

A join that runs alongside a change reads the caller's place twice, once to choose the rooms and
again with the answer, and starts again when the two differ (``realtime/join.py``); a change
applied after that finds the socket in its rooms.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from ecabinet.core.errors import EcabinetError
from ecabinet.core.logs import get_logger
from ecabinet.realtime.join import in_meeting, rooms_for
from ecabinet.realtime.managers import RedisManager
from ecabinet.realtime.publisher import EVENT, user_room
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor, OutEvent
from ecabinet.services.kernel.joining import JoinMeeting, join_actor
from ecabinet.services.kernel.membership import MEMBERSHIP_CHANGED

if TYPE_CHECKING:
    from ecabinet.realtime.presence import Presence
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
NAMESPACE = "/"
USER_ROOM = re.compile(r"meeting:(\d+):user:(\d+)")


class Membership:
    """This process's side of ``membership.changed`` (see the module docstring)."""

    def __init__(self, runtime: Runtime, presence: Presence) -> None:
        self.runtime = runtime
        self.presence = presence
        # One change at a time: a second change for the same user must find the sockets the
        # first one took out already back in their rooms, and read the database after it.
        self._lock = asyncio.Lock()

    async def published(self, ev: OutEvent) -> None:
        """``membership.changed`` published by this process (the publisher's control)."""
        user_id = int(ev.audience.removeprefix("user:"))
        sio = self.runtime.sio
        async with self._lock:
            sids = self._take_out(ev.meeting_id, user_id)
            for sid in sids:
                await sio.emit(EVENT, ev.envelope(), to=sid, ignore_queue=True)
            # The other processes deliver it to that user's sockets there, then move them. (No
            # socket of this process is left in the user room to receive it twice.)
            await sio.emit(EVENT, ev.envelope(), room=user_room(ev.meeting_id, user_id))
            await self._place(ev.meeting_id, user_id, sids)
        self.runtime.metrics.events_sent.labels(ev.type).inc()

    async def delivered(self, message: dict[str, Any]) -> None:
        """Another process's ``membership.changed``, just delivered to this process's sockets."""
        data = message.get("data")
        envelope = data[0] if isinstance(data, list) and data else None
        room = message.get("room")
        if not (message.get("event") == EVENT and isinstance(envelope, dict)
                and envelope.get("type") == MEMBERSHIP_CHANGED and isinstance(room, str)):
            return
        match = USER_ROOM.fullmatch(room)
        if match is None:
            return
        meeting_id, user_id = int(match[1]), int(match[2])
        async with self._lock:
            sids = self._take_out(meeting_id, user_id)
            await self._place(meeting_id, user_id, sids)

    def _take_out(self, meeting_id: int, user_id: int) -> list[str]:
        """Step 1: the user's sockets in the meeting leave all its rooms. The manager's
        synchronous calls, not ``await sio.leave_room``: no other task may run (and publish)
        before every socket is out."""
        manager = self.runtime.sio.manager
        sids = [sid for sid, _eio in manager.get_participants(NAMESPACE,
                                                              user_room(meeting_id, user_id))]
        for sid in sids:
            for room in manager.get_rooms(sid, NAMESPACE):
                if in_meeting(room, meeting_id):
                    manager.basic_leave_room(sid, NAMESPACE, room)
        return sids

    async def _place(self, meeting_id: int, user_id: int, sids: list[str]) -> None:
        """Step 3: the rooms the user's place in the meeting now gives, read from the database."""
        sio = self.runtime.sio
        sids = [sid for sid in sids if sio.manager.is_connected(sid, NAMESPACE)]
        if not sids:
            return
        user: SessionInfo = (await sio.get_session(sids[0]))["user"]
        actor: Actor | None
        try:
            actor = await self.runtime.db.read(join_actor, user, JoinMeeting(meeting_id=meeting_id))
        except EcabinetError:
            actor = None  # no longer a reader of the meeting
        except Exception:  # the database is away: leave them out; the event asked them to join
            log.exception("membership.read_failed", meeting_id=meeting_id, user_id=user_id)
            actor = None
        rooms = rooms_for(meeting_id, actor) if actor is not None else []
        for sid in sids:
            if not sio.manager.is_connected(sid, NAMESPACE):
                continue
            for room in rooms:
                await sio.enter_room(sid, room)
            if actor is None or actor.participant_id is None:
                await self.presence.left(sid, meeting_id)
            else:
                await self.presence.joined(sid, meeting_id, actor)
        log.info("membership.moved", meeting_id=meeting_id, user_id=user_id, sockets=len(sids),
                 role=actor.role.value if actor is not None and actor.role else None,
                 reader=actor is not None)


def register(runtime: Runtime, presence: Presence) -> Membership:
    """Handle ``membership.changed`` on this process: from the publisher and, with Redis, from
    the other processes' messages."""
    membership = Membership(runtime, presence)
    runtime.controls[MEMBERSHIP_CHANGED] = membership.published
    manager = runtime.sio.manager
    if isinstance(manager, RedisManager):
        manager.after_delivery(f'"{MEMBERSHIP_CHANGED}"', membership.delivered)
    return membership
