"""Presenter mode: the chair (or the participant the chair hands it to) shows a document page.

What is presented lives in ``Meeting.live_state["presenting"]`` and every change is one logged
``present.changed`` event carrying the whole state. Following is the client's own business: a
tablet that follows turns to each ``present.changed``; one that browses keeps the last state it
received (from the snapshot part ``presenting`` or the last event) and goes "back to the
presenter" by opening that document and page, in one step and without asking the server. A
client that lost track reads ``GET /api/meetings/{id}/presenting`` (the same payload).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session

from ecabinet.core.errors import Conflict, Forbidden, InvalidInput
from ecabinet.domain import lifecycle
from ecabinet.domain.access import Form, decide
from ecabinet.domain.roles import MeetingRole, can_see_confidential
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import CHAIR, MEMBERS
from ecabinet.services import room
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.room.helpers import (
    Person,
    participant_of,
    person,
    set_live,
)
from ecabinet.storage.models import (
    Blob,
    Document,
    Meeting,
    Participant,
    User,
)

KEY = "presenting"
# Who may be handed presenting: anyone in the meeting who may speak or keeps its record.
PRESENTER_ROLES = frozenset({MeetingRole.CHAIR, MeetingRole.SECRETARY, MeetingRole.DELEGATE})


class Presenting(Schema):
    document_id: int | None
    page: int | None  # 0-based index into the document's pages
    page_count: int | None
    title: str | None
    confidential: bool
    presenter: Person | None  # who holds presenting: the chair, or whom the chair handed it to
    handed_over: bool  # true while a participant other than the chair holds presenting


event(
    "present.changed",
    Presenting,
    audience="meeting",
    sent_by="present.page, present.stop, present.handover, present.reclaim",
    summary="What is presented changed: document and page (0-based; null when nothing is shown) "
    "and who holds presenting. Tablets that follow open that page; a tablet that browses keeps "
    "this payload to return to the presenter in one step. The snapshot part `presenting` and "
    "`GET /api/meetings/{meeting_id}/presenting` give the same payload. Observers get "
    "`document_id`, `page`, `page_count` and `title` as null for confidential documents.",
)


def _state(meeting: Meeting) -> dict[str, Any]:
    return dict((meeting.live_state or {}).get(KEY) or {})


def _is_confidential(document: Document) -> bool:
    """Whether observers may not learn of it: the stored, sticky confidentiality (by flag, or
    by a confidential item it is or was attached to; ``domain.access`` decides the rest)."""
    return not decide(MeetingRole.OBSERVER, is_admin=False, confidential=document.confidential,
                      form=Form.EVENT).known


def view(session: Session, meeting: Meeting) -> tuple[Presenting, Presenting | None]:
    """The presenting state, and its redacted form for observers when the document is secret."""
    assert meeting.id is not None
    state = _state(meeting)
    presenter = None
    holder = state.get("presenter_participant_id")
    row = session.get(Participant, holder) if holder is not None else None
    user = session.get(User, row.user_id) if row is not None else None
    if row is not None and user is not None:
        presenter = person(row, user)
    document = session.get(Document, state["document_id"]) if state.get("document_id") else None
    if document is None:
        return (
            Presenting(
                document_id=None,
                page=None,
                page_count=None,
                title=None,
                confidential=False,
                presenter=presenter,
                handed_over=bool(state.get("handed_over")),
            ),
            None,
        )
    blob = session.get(Blob, document.blob_sha256)
    secret = _is_confidential(document)
    full = Presenting(
        document_id=document.id,
        page=state.get("page"),
        page_count=blob.page_count if blob else None,
        title=document.title,
        confidential=secret,
        presenter=presenter,
        handed_over=bool(state.get("handed_over")),
    )
    hidden = None
    if secret:
        hidden = full.model_copy(
            update={"document_id": None, "page": None, "page_count": None, "title": None}
        )
    return full, hidden


def view_for(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    full, hidden = view(session, meeting)
    redact = not can_see_confidential(actor.role, is_admin=actor.is_admin)
    shown = hidden if redact and hidden is not None else full
    return shown.model_dump(mode="json")


@snapshot_part("presenting")
def presenting_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    return view_for(session, actor, meeting)


def _publish(ctx: CommandContext, state: dict[str, Any]) -> dict[str, Any]:
    set_live(ctx.meeting, KEY, state)
    ctx.session.add(ctx.meeting)
    full, hidden = view(ctx.session, ctx.meeting)
    ctx.emit("present.changed", full, observer_payload=hidden)
    return {"presenting": full.model_dump(mode="json")}


def _require_presenter(ctx: CommandContext, state: dict[str, Any]) -> None:
    """The chair always may; otherwise only the participant the chair handed presenting to."""
    actor = ctx.actor
    if actor.role is MeetingRole.CHAIR:
        return
    if state.get("handed_over") and state.get("presenter_participant_id") == actor.participant_id:
        return
    raise Forbidden(
        "Chỉ chủ tọa hoặc người được chủ tọa giao trình bày mới điều khiển được "
        "(only the chair or the participant given presenting may do this).",
        code="not_presenter",
    )


class PresentPage(Command):
    document_id: int = Field(ge=1)
    page: int = Field(ge=0, le=100_000)


class PresentStop(Command):
    pass


class PresentHandover(Command):
    participant_id: int = Field(ge=1)


@command(
    "present.page",
    PresentPage,
    roles=MEMBERS,
    summary="Show a document page to the room (`page` is a 0-based index into the document's "
    "pages). The chair may always; others only after `present.handover` to them. Ack: "
    "`{presenting}`.",
    errors=(
        "not_presenter",
        "document_not_found",
        "page_out_of_range",
        "document_failed",
        "meeting_not_in_session",
    ),
)
def present_page(session: Session, ctx: CommandContext, cmd: PresentPage) -> dict[str, Any]:
    lifecycle.check_in_session(ctx.meeting.status)
    state = _state(ctx.meeting)
    _require_presenter(ctx, state)
    document = session.get(Document, cmd.document_id)
    if document is None or document.meeting_id != ctx.meeting.id:
        raise InvalidInput(
            f"Không có tài liệu #{cmd.document_id} trong cuộc họp này.", code="document_not_found"
        )
    blob = session.get(Blob, document.blob_sha256)
    if blob is not None and blob.status == "failed":
        raise Conflict(
            "Tài liệu không xử lý được nên không trình chiếu được (the document failed to render).",
            code="document_failed",
        )
    if blob is not None and blob.page_count is not None and cmd.page >= blob.page_count:
        raise InvalidInput(
            f"Tài liệu chỉ có {blob.page_count} trang (page {cmd.page} is out of range).",
            code="page_out_of_range",
            details={"page": cmd.page, "page_count": blob.page_count},
        )
    if state.get("presenter_participant_id") is None:
        state["presenter_participant_id"] = ctx.actor.participant_id
        state["handed_over"] = False
    state.update(document_id=cmd.document_id, page=cmd.page)
    return _publish(ctx, state)


@command(
    "present.stop",
    PresentStop,
    roles=MEMBERS,
    summary="Stop presenting: tablets keep the page they show. Who holds presenting does not "
    "change. Ack: `{presenting}`.",
    errors=("not_presenter", "not_presenting", "meeting_not_in_session"),
)
def present_stop(session: Session, ctx: CommandContext, cmd: PresentStop) -> dict[str, Any]:
    lifecycle.check_in_session(ctx.meeting.status)
    state = _state(ctx.meeting)
    _require_presenter(ctx, state)
    if state.get("document_id") is None:
        raise Conflict(
            "Không có tài liệu nào đang trình chiếu (nothing is presented).", code="not_presenting"
        )
    state.update(document_id=None, page=None)
    return _publish(ctx, state)


@command(
    "present.handover",
    PresentHandover,
    roles=CHAIR,
    summary="Hand presenting to a participant (the speaker, usually): they may then send "
    "`present.page` and `present.stop` until the chair sends `present.reclaim`. The page shown "
    "stays. Ack: `{presenting}`.",
    errors=("participant_not_found", "presenter_not_allowed", "meeting_not_in_session"),
)
def present_handover(session: Session, ctx: CommandContext, cmd: PresentHandover) -> dict[str, Any]:
    lifecycle.check_in_session(ctx.meeting.status)
    assert ctx.meeting.id is not None
    row, _user = participant_of(session, ctx.meeting.id, cmd.participant_id)
    role = MeetingRole(row.role)
    if role not in PRESENTER_ROLES:
        raise InvalidInput(
            "Người quan sát không được giao trình bày (observers cannot present).",
            code="presenter_not_allowed",
        )
    state = _state(ctx.meeting)
    state.update(presenter_participant_id=row.id, handed_over=role is not MeetingRole.CHAIR)
    return _publish(ctx, state)


@command(
    "present.reclaim",
    PresentStop,
    roles=CHAIR,
    summary="The chair takes presenting back from the participant it was handed to. The page "
    "shown stays. Ack: `{presenting}`.",
    errors=("meeting_not_in_session",),
)
def present_reclaim(session: Session, ctx: CommandContext, cmd: PresentStop) -> dict[str, Any]:
    lifecycle.check_in_session(ctx.meeting.status)
    state = _state(ctx.meeting)
    state.update(presenter_participant_id=ctx.actor.participant_id, handed_over=False)
    return _publish(ctx, state)


def current(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """What ``GET /api/meetings/{id}/presenting`` answers (the caller's view)."""
    return view_for(session, actor, meeting)


@room.on_session_end
def _stop_on_close(ctx: CommandContext) -> None:
    """Nothing stays on the screens once the session is closed."""
    state = _state(ctx.meeting)
    if state.get("document_id") is not None:
        state.update(document_id=None, page=None)
        _publish(ctx, state)
