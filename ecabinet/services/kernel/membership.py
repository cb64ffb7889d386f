"""Live membership follows the database: the fact that someone's place in a meeting changed.

Open sockets sit in rooms chosen when they joined (the meeting, its members or its observers, its
staff, the user's own devices). When a change of participants, roles or the meeting's status
changes who may read what, the service that makes it emits ``membership.changed`` for each user
concerned, in the same transaction, ahead of the events of the change itself. The realtime
adapter treats that event as an instruction, in its place in the stream of published events: on
every server process it takes that user's sockets out of the meeting's rooms, tells them, reads
their place in the meeting again and puts them in the rooms they now belong to, or leaves them
out, before it delivers anything published after it (``ecabinet/realtime/membership.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlmodel import Session, select

from ecabinet.domain.roles import MeetingRole, MeetingStatus, can_read_meeting
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import CommandContext, make_event
from ecabinet.storage.models import Participant

MEMBERSHIP_CHANGED = "membership.changed"
Reason = Literal["participants", "status"]


class MembershipChanged(Schema):
    reason: Reason


event(
    MEMBERSHIP_CHANGED,
    MembershipChanged,
    audience="user",
    logged=False,
    sent_by="the server, to the devices of a user whose role in the meeting changed, who was "
    "added or removed, or who can no longer (or now can) read it because its status changed "
    "(`reason`: `participants` or `status`)",
    summary="Your place in this meeting changed. The server has already moved this connection "
    "to the rooms it now belongs to, or out of the meeting, before any later event; what you "
    "hold of the meeting may no longer be yours to see. Join again without `since` (a fresh "
    "snapshot, as you now see the meeting); `meeting_not_found` means you no longer take part: "
    "forget what you hold of it.",
)


def membership_changed(ctx: CommandContext, user_ids: Iterable[int], reason: Reason) -> None:
    """Tell the realtime adapter (and the users' devices) that these users' place in the meeting
    changed. The events go first among the transaction's events, wherever the service emits
    them: none of the change's own events may reach a device in rooms it no longer belongs to.
    """
    assert ctx.meeting.id is not None
    ctx.events[:0] = [
        make_event(ctx.session, ctx.meeting.id, MEMBERSHIP_CHANGED,
                   MembershipChanged(reason=reason), actor_id=ctx.actor.user_id, user_id=user_id)
        for user_id in sorted(set(user_ids))
    ]


def readers_changing(
    session: Session, meeting_id: int, before: MeetingStatus, after: MeetingStatus
) -> list[int]:
    """The participants whose right to read the meeting differs between the two statuses
    (unpublishing takes it from delegates and observers)."""
    rows = session.exec(
        select(Participant.user_id, Participant.role).where(Participant.meeting_id == meeting_id)
    ).all()
    return [
        user_id
        for user_id, role in rows
        if can_read_meeting(MeetingRole(role), before, is_admin=False)
        != can_read_meeting(MeetingRole(role), after, is_admin=False)
    ]
