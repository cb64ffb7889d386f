"""Preparing meetings: create, change, move through the lifecycle, read in full, see changes.

Who may do what:

- Create: admins, for any body or none; a body's secretary, for that body. Who a body's
  secretaries are is the bodies capability's to say, which sits above this one: creating a
  meeting and moving it to another body are ``services/bodies/meetings.py``.
- Change, publish, unpublish, archive: the meeting's secretaries and admins. The chair opens and
  closes the session (also over Socket.IO: ``meeting.start``, ``meeting.end``).
- Read: the chair and secretaries everything; delegates published meetings they take part in;
  observers the same without confidential content (ecabinet/domain/roles.py).

Allowed transitions are in ecabinet/domain/lifecycle.py; publishing needs a chair and gives the
meeting its first pack version (1); archived meetings are read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import AwareDatetime, Field
from sqlmodel import Session, col, select

from ecabinet.core.errors import Forbidden, InvalidInput
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingRole, MeetingStatus, can_edit_meeting
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.meetings.agenda import agenda_items, redact_for
from ecabinet.services.meetings.editing import ChangeNote, apply_patch, begin_change
from ecabinet.services.meetings.participants import participant_list
from ecabinet.services.meetings.versions import PackVersion
from ecabinet.services.room import change_status
from ecabinet.storage.models import (
    AgendaItem,
    AgendaItemDocument,
    Blob,
    Body,
    Document,
    Event,
    Meeting,
    User,
    utcnow,
)


class MeetingIn(Schema):
    title: str = Field(min_length=1, max_length=300)
    body_id: int | None = Field(default=None, ge=1)
    description: str = Field(default="", max_length=20_000)
    place: str = Field(default="", max_length=300)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    invite_members: bool = Field(
        default=False,
        description="add the body's members as delegates and its secretaries as secretaries",
    )


class MeetingPatch(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body_id: int | None = Field(default=None, ge=1)
    description: str | None = Field(default=None, max_length=20_000)
    place: str | None = Field(default=None, max_length=300)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class StatusIn(Schema):
    status: MeetingStatus


class BodyRef(Schema):
    id: int
    name: str


class MeetingInfo(Schema):
    id: int
    title: str
    description: str
    place: str
    starts_at: str | None
    ends_at: str | None
    status: str
    pack_version: int
    body: BodyRef | None


class MeetingUpdated(Schema):
    pack_version: int
    changes: list[ChangeNote]
    meeting: MeetingInfo


event(
    "meeting.updated",
    MeetingUpdated,
    audience="meeting",
    sent_by="the secretary changing the meeting's title, time, place, description or body",
    summary="The meeting's details changed; carries them all and the pack version.",
)

# Events that describe changes to the pack (each carries ``pack_version``).
PACK_EVENTS = (
    "meeting.pack_version",
    "meeting.updated",
    "agenda.changed",
    "participants.changed",
    "document.added",
    "document.replaced",
)
FIELD_LABELS = {
    "title": "tiêu đề",
    "body_id": "cơ quan",
    "description": "mô tả",
    "place": "địa điểm",
    "starts_at": "giờ bắt đầu",
    "ends_at": "giờ kết thúc",
}


def meeting_info(session: Session, meeting: Meeting) -> MeetingInfo:
    assert meeting.id is not None
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    return MeetingInfo(
        id=meeting.id,
        title=meeting.title,
        description=meeting.description,
        place=meeting.place,
        starts_at=meeting.starts_at.isoformat() if meeting.starts_at else None,
        ends_at=meeting.ends_at.isoformat() if meeting.ends_at else None,
        status=meeting.status,
        pack_version=meeting.pack_version,
        body=BodyRef(id=body.id, name=body.name) if body and body.id else None,
    )


def check_times(starts_at: Any, ends_at: Any) -> None:
    """Refuse (``invalid_times``) an end that is not after the start."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInput(
            "Giờ kết thúc phải sau giờ bắt đầu (ends_at must be after starts_at).",
            code="invalid_times",
        )


def _documents(session: Session, meeting_id: int, *, redact: bool) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Document, Blob)
        .join(Blob, Blob.sha256 == Document.blob_sha256)  # type: ignore[arg-type]
        .where(Document.meeting_id == meeting_id, col(Document.replaced_by_id).is_(None))
        .order_by(Document.id)  # type: ignore[arg-type]
    ).all()
    links = session.exec(
        select(AgendaItemDocument.document_id, AgendaItemDocument.agenda_item_id, AgendaItem)
        .join(AgendaItem, AgendaItem.id == AgendaItemDocument.agenda_item_id)  # type: ignore[arg-type]
        .where(AgendaItem.meeting_id == meeting_id)
    ).all()
    attached: dict[int, list[int]] = {}
    secret_items: set[int] = set()
    for doc_id, item_id, item in links:
        attached.setdefault(doc_id, []).append(item_id)
        if item.confidential:
            secret_items.add(doc_id)
    out = []
    for doc, blob in rows:
        assert doc.id is not None
        if redact and (doc.confidential or doc.id in secret_items):
            continue
        out.append(
            {
                "id": doc.id,
                "title": doc.title,
                "filename": doc.filename,
                "confidential": doc.confidential,
                "version": doc.version,
                "sha256": doc.blob_sha256,
                "page_count": blob.page_count,
                "status": blob.status,
                "item_ids": sorted(attached.get(doc.id, [])),
            }
        )
    return out


def meeting_detail(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """Everything about the meeting that the caller may see, in one answer."""
    assert meeting.id is not None
    redact = redact_for(actor)
    return {
        "meeting": meeting_info(session, meeting).model_dump(),
        "you": {
            "role": actor.role.value if actor.role else None,
            "participant_id": actor.participant_id,
            "can_edit": can_edit_meeting(actor.role, is_admin=actor.is_admin),
        },
        "participants": [p.model_dump() for p in participant_list(session, meeting.id)],
        "agenda": {
            "current_item_id": meeting.current_item_id,
            "items": [i.model_dump() for i in agenda_items(session, meeting.id, redact=redact)],
        },
        "documents": _documents(session, meeting.id, redact=redact),
    }


def update_meeting(
    session: Session,
    ctx: CommandContext,
    data: MeetingPatch,
    *,
    check_body: Callable[[int | None], None],
) -> dict[str, Any]:
    """Change the given fields (``starts_at``/``ends_at``: null clears them).

    ``check_body`` refuses a body the caller may not hold meetings for; it is the bodies
    capability's rule, passed in (``services/bodies/meetings.update_meeting`` does).
    """
    lifecycle.check_editable(ctx.meeting.status)
    meeting = ctx.meeting
    changed = apply_patch(meeting, data, nullable=("body_id", "starts_at", "ends_at"))
    check_times(meeting.starts_at, meeting.ends_at)
    if "body_id" in changed:
        check_body(meeting.body_id)
    if not changed:
        return {"meeting": meeting_info(session, meeting).model_dump(), "unchanged": True}
    version = begin_change(ctx)
    session.add(meeting)
    session.flush()
    info = meeting_info(session, meeting)
    note = ChangeNote(
        action="meeting.updated",
        title=meeting.title,
        detail=", ".join(FIELD_LABELS[n] for n in changed),
    )
    ctx.emit("meeting.updated", MeetingUpdated(pack_version=version, changes=[note], meeting=info))
    return {"meeting": info.model_dump()}


def set_status(session: Session, ctx: CommandContext, data: StatusIn) -> dict[str, Any]:
    """Move the meeting through its lifecycle; publishing takes the next pack version.

    Secretaries and admins may make any allowed transition; the chair opens and closes the
    session only.
    """
    actor, target = ctx.actor, data.status
    chair_only = actor.role is MeetingRole.CHAIR and not actor.is_admin
    if chair_only and target not in (MeetingStatus.IN_SESSION, MeetingStatus.CLOSED):
        raise Forbidden(
            "Chủ tọa chỉ mở và kết thúc phiên họp; việc khác do thư ký làm "
            "(the chair only opens and closes the session).",
            code="forbidden_transition",
            details={"to": target.value},
        )
    answer = change_status(ctx, target)
    meeting = ctx.meeting
    if target is MeetingStatus.PUBLISHED:
        meeting.pack_version += 1
        ctx.emit("meeting.pack_version", PackVersion(pack_version=meeting.pack_version))
    if target is MeetingStatus.ARCHIVED and meeting.current_item_id is not None:
        meeting.current_item_id = None
    meeting.updated_at = utcnow()
    session.add(meeting)
    return {**answer, "pack_version": meeting.pack_version}


def changes_since(session: Session, meeting: Meeting, since: int) -> dict[str, Any]:
    """What changed in the pack after version ``since``, version by version, from the log."""
    assert meeting.id is not None
    if since < 0 or since > meeting.pack_version:
        raise InvalidInput(
            f"Phiên bản {since} không tồn tại (the pack is at version {meeting.pack_version}).",
            code="unknown_pack_version",
            details={"since": since, "pack_version": meeting.pack_version},
        )
    rows = session.exec(
        select(Event, User)
        .join(User, User.id == Event.actor_id, isouter=True)  # type: ignore[arg-type]
        .where(Event.meeting_id == meeting.id, col(Event.type).in_(PACK_EVENTS))
        .order_by(Event.seq)  # type: ignore[arg-type]
    ).all()
    versions: dict[int, dict[str, Any]] = {}
    for row, user in rows:
        version = row.payload.get("pack_version")
        if not isinstance(version, int) or version <= since:
            continue
        entry = versions.setdefault(
            version,
            {
                "pack_version": version,
                "seq": row.seq,
                "at": row.created_at.isoformat(),
                "by": {"user_id": user.id, "full_name": user.full_name} if user else None,
                "changes": [],
            },
        )
        if row.type == "meeting.pack_version":
            continue
        notes = row.payload.get("changes")
        if isinstance(notes, list):
            entry["changes"].extend({"event": row.type, "seq": row.seq, **n} for n in notes)
        else:
            entry["changes"].append(
                {
                    "event": row.type,
                    "seq": row.seq,
                    "action": row.type,
                    "document_id": row.payload.get("document_id"),
                    "title": str(row.payload.get("title", "")),
                }
            )
    return {
        "pack_version": meeting.pack_version,
        "since": since,
        "versions": [versions[v] for v in sorted(versions)],
    }
