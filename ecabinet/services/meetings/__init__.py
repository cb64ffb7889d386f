"""Reading meetings as a given user sees them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from ecabinet.domain.roles import MeetingRole, MeetingStatus, can_read_meeting
from ecabinet.storage.models import Meeting, Participant


def meeting_summary(meeting: Meeting, role: str | None) -> dict[str, Any]:
    return {
        "id": meeting.id,
        "title": meeting.title,
        "place": meeting.place,
        "starts_at": meeting.starts_at.isoformat() if meeting.starts_at else None,
        "ends_at": meeting.ends_at.isoformat() if meeting.ends_at else None,
        "status": meeting.status,
        "pack_version": meeting.pack_version,
        "role": role,
    }


def list_my_meetings(session: Session, user_id: int, *, is_admin: bool) -> list[dict[str, Any]]:
    """Meetings the user takes part in and may see (admins see all), soonest first."""
    rows = session.exec(
        select(Meeting, Participant.role).join(
            Participant,
            (Participant.meeting_id == Meeting.id) & (Participant.user_id == user_id),  # type: ignore[arg-type]
            isouter=is_admin,
        )
    ).all()
    visible = [
        meeting_summary(m, role)
        for m, role in rows
        if can_read_meeting(
            MeetingRole(role) if role else None, MeetingStatus(m.status), is_admin=is_admin
        )
    ]
    visible.sort(key=lambda m: (m["starts_at"] is None, m["starts_at"] or "", m["id"]))
    return visible
