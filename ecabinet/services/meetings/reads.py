"""A meeting's preparation as its readers ask for it: the agenda, the participants, the changes
since a pack version. Each is called as ``fn(session, actor, meeting, ...)`` once the caller's
place in the meeting is checked."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ecabinet.services.kernel.context import Actor
from ecabinet.services.meetings import admin, participants
from ecabinet.services.meetings.agenda import agenda_items, redact_for
from ecabinet.storage.models import Meeting


def agenda(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """The agenda in reading order, with the pack version and the current item (confidential
    items redacted for those who may not see them)."""
    assert meeting.id is not None
    items = agenda_items(session, meeting.id, redact=redact_for(actor))
    return {
        "pack_version": meeting.pack_version,
        "current_item_id": meeting.current_item_id,
        "items": [i.model_dump() for i in items],
    }


def participant_list(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """The meeting's participants."""
    assert meeting.id is not None
    people = participants.participant_list(session, meeting.id)
    return {"participants": [p.model_dump() for p in people]}


def changes(session: Session, actor: Actor, meeting: Meeting, since: int) -> dict[str, Any]:
    """What changed in the pack after version ``since`` (see ``admin.changes_since``)."""
    return admin.changes_since(session, meeting, since)
