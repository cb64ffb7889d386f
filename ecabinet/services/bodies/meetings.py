"""A body's meetings: who may create a meeting for a body or move one to it, and the invitation.

Admins create meetings for any body or none; a body's secretary (a ``BodyMember`` with role
``secretary``) creates meetings for that body and becomes the new meeting's secretary. With
``invite_members`` the body's members join as delegates and its secretaries as secretaries.

Bodies sit above meetings in the capability order (a body holds meetings; a meeting knows nothing
of who a body's secretaries are), so these use cases live here and call the meetings capability
for the meeting itself (``services/meetings/admin.py``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from ecabinet.core.errors import Forbidden
from ecabinet.core.text import nfc_trimmed
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.bodies import get_body, is_body_secretary
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.meetings import admin
from ecabinet.storage.models import BodyMember, Meeting, Participant


def check_body_right(session: Session, user_id: int, is_admin: bool, body_id: int | None) -> None:
    """Refuse a body that does not exist (``body_not_found``) or that the caller may not hold
    meetings for (``not_body_secretary``: only admins hold meetings of no body)."""
    if body_id is not None:
        get_body(session, body_id)
    if is_admin:
        return
    if body_id is None or not is_body_secretary(session, body_id, user_id):
        raise Forbidden(
            "Chỉ quản trị viên hoặc thư ký của cơ quan được tạo cuộc họp cho cơ quan đó "
            "(only admins and the body's secretaries create its meetings).",
            code="not_body_secretary",
            details={"body_id": body_id},
        )


def create_meeting(session: Session, user: SessionInfo, data: admin.MeetingIn) -> dict[str, Any]:
    """Create a draft meeting; a body secretary who creates it becomes its secretary."""
    check_body_right(session, user.user_id, user.is_admin, data.body_id)
    admin.check_times(data.starts_at, data.ends_at)
    meeting = Meeting(
        title=nfc_trimmed(data.title),
        body_id=data.body_id,
        description=nfc_trimmed(data.description),
        place=nfc_trimmed(data.place),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
    )
    session.add(meeting)
    session.flush()
    assert meeting.id is not None
    roles: dict[int, tuple[str, bool]] = {}
    if data.invite_members and data.body_id is not None:
        members = session.exec(select(BodyMember).where(BodyMember.body_id == data.body_id)).all()
        for m in members:
            secretary = m.role == "secretary"
            roles[m.user_id] = ("secretary", False) if secretary else ("delegate", True)
    if not user.is_admin:
        roles[user.user_id] = ("secretary", False)
    for user_id, (role, can_vote) in roles.items():
        session.add(
            Participant(meeting_id=meeting.id, user_id=user_id, role=role, can_vote=can_vote)
        )
    session.flush()
    if roles:  # roles given with the new meeting: role changes, in the audit trail
        audit.record(session, audit.ROLE_CHANGED, actor_id=user.user_id,
                     subject=f"meeting:{meeting.id}",
                     details={"change": "created", "roles": {str(u): r for u, (r, _v) in
                                                             roles.items()}})
    return {"meeting": admin.meeting_info(session, meeting).model_dump()}


def update_meeting(
    session: Session, ctx: CommandContext, data: admin.MeetingPatch
) -> dict[str, Any]:
    """Change the meeting's details (``meetings.admin.update_meeting``); moving it to another
    body needs the caller's right to hold meetings for that body."""
    actor = ctx.actor
    return admin.update_meeting(
        session,
        ctx,
        data,
        check_body=lambda body_id: check_body_right(
            session, actor.user_id, actor.is_admin, body_id
        ),
    )
