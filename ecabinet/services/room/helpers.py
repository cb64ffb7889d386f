"""Helpers shared by the live-room services (presenting, timer, attendance, speakers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, InvalidInput
from ecabinet.domain.roles import MeetingStatus
from ecabinet.protocol import Schema
from ecabinet.storage.models import AgendaItem, Meeting, Participant, User, utcnow

OPEN_STATUSES = frozenset({MeetingStatus.PUBLISHED.value, MeetingStatus.IN_SESSION.value})


class Person(Schema):
    participant_id: int
    user_id: int
    full_name: str
    role: str


def require_open(meeting: Meeting) -> None:
    """Published (people arrive, check in, ask to speak) or in session."""
    if meeting.status not in OPEN_STATUSES:
        raise Conflict(
            "Cuộc họp không mở (the meeting is neither published nor in session).",
            code="meeting_not_open",
        )


def people(
    session: Session, meeting_id: int, only: set[int] | None = None
) -> dict[int, tuple[Participant, User]]:
    """The meeting's participants with their accounts, by participant id (``only`` those ids:
    a queue of three names must not load a thousand participants on every join)."""
    if only is not None and not only:
        return {}
    query = (
        select(Participant, User)
        .where(Participant.meeting_id == meeting_id)
        .where(Participant.user_id == User.id)
    )
    if only is not None:
        query = query.where(col(Participant.id).in_(sorted(only)))
    rows = session.exec(query).all()
    return {p.id: (p, u) for p, u in rows if p.id is not None}


def person(participant: Participant, user: User) -> Person:
    assert participant.id is not None and user.id is not None
    return Person(
        participant_id=participant.id,
        user_id=user.id,
        full_name=user.full_name,
        role=participant.role,
    )


def participant_of(
    session: Session, meeting_id: int, participant_id: int
) -> tuple[Participant, User]:
    row = session.get(Participant, participant_id)
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or row.meeting_id != meeting_id:
        raise InvalidInput(
            f"Không có người dự họp #{participant_id} trong cuộc họp này.",
            code="participant_not_found",
        )
    return row, user


def agenda_item(session: Session, meeting: Meeting, item_id: int | None) -> int:
    """The given item of this meeting, or the current one; refuse when there is neither."""
    if item_id is None:
        if meeting.current_item_id is None:
            raise Conflict(
                "Chưa có mục nào của chương trình đang được thảo luận (no current agenda item).",
                code="no_current_item",
            )
        return meeting.current_item_id
    item = session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise InvalidInput(
            f"Không có mục #{item_id} trong chương trình.", code="agenda_item_not_found"
        )
    return item_id


def set_live(meeting: Meeting, key: str, value: Any) -> None:
    """Change one key of ``Meeting.live_state``; a new dict so that SQLAlchemy sees the change."""
    state = dict(meeting.live_state or {})
    state[key] = value
    meeting.live_state = state
    meeting.updated_at = utcnow()


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
