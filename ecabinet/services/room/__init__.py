"""The live room's core: what the meeting and its agenda look like, and moving through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field
from sqlmodel import Session, select

from ecabinet.core.errors import Conflict, InvalidInput
from ecabinet.domain import agenda as agenda_rules
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingRole, MeetingStatus, can_see_confidential
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import CHAIR
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.membership import membership_changed, readers_changing
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.storage.models import AgendaItem, Body, Meeting, Participant, utcnow

CONFIDENTIAL_TITLE = "Nội dung mật (confidential)"


class AgendaCurrent(Schema):
    item_id: int | None
    number: str | None
    title: str | None
    previous_item_id: int | None


event(
    "agenda.current",
    AgendaCurrent,
    audience="meeting",
    sent_by="agenda.next, agenda.previous, agenda.goto",
    summary="The chair moved the meeting to another agenda item (null: before the first).",
)


def load_items(session: Session, meeting_id: int) -> list[AgendaItem]:
    return list(session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id)).all())


def item_view(item: AgendaItem, numbered: agenda_rules.Numbered, *, redact: bool) -> dict[str, Any]:
    hidden = redact and item.confidential
    return {
        "id": item.id,
        "parent_id": item.parent_id,
        "number": numbered.number,
        "depth": numbered.depth,
        "title": CONFIDENTIAL_TITLE if hidden else item.title,
        "presenter": item.presenter,
        "description": "" if hidden else item.description,
        "planned_minutes": item.planned_minutes,
        "confidential": item.confidential,
        "vote_planned": item.vote_planned,
    }


@snapshot_part("meeting")
def meeting_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    return {
        "id": meeting.id,
        "title": meeting.title,
        "description": meeting.description,
        "place": meeting.place,
        "status": meeting.status,
        "pack_version": meeting.pack_version,
        "starts_at": meeting.starts_at.isoformat() if meeting.starts_at else None,
        "ends_at": meeting.ends_at.isoformat() if meeting.ends_at else None,
        "body": {"id": body.id, "name": body.name} if body else None,
        "you": {
            "user_id": actor.user_id,
            "full_name": actor.full_name,
            "role": actor.role.value if actor.role else None,
            "participant_id": actor.participant_id,
            "can_vote": actor.can_vote,
        },
    }


@snapshot_part("agenda")
def agenda_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    assert meeting.id is not None
    items = {i.id: i for i in load_items(session, meeting.id)}
    redact = not can_see_confidential(actor.role, is_admin=actor.is_admin)
    order = agenda_rules.ordered(list(items.values()))
    return {
        "current_item_id": meeting.current_item_id,
        "items": [item_view(items[n.id], n, redact=redact) for n in order],
    }


class AgendaGoto(Command):
    item_id: int = Field(ge=1)


class AgendaStep(Command):
    pass


ItemHook = Callable[[CommandContext, int | None], None]
SessionHook = Callable[[CommandContext], None]
_ON_ITEM_CHANGE: list[ItemHook] = []
_ON_SESSION_END: list[SessionHook] = []


def on_item_change(hook: ItemHook) -> ItemHook:
    """Run ``hook(ctx, previous_item_id)`` in the transaction that moves to another item."""
    _ON_ITEM_CHANGE.append(hook)
    return hook


def on_session_end(hook: SessionHook) -> SessionHook:
    """Run ``hook(ctx)`` in the transaction that closes the session (turns, periods, timers)."""
    _ON_SESSION_END.append(hook)
    return hook


def move_to(ctx: CommandContext, target: int | None) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    lifecycle.check_in_session(meeting.status)
    items = {i.id: i for i in load_items(ctx.session, meeting.id)}
    order = agenda_rules.ordered(list(items.values()))
    numbers = {n.id: n for n in order}
    previous = meeting.current_item_id
    if target == previous:
        return {"item_id": target}
    meeting.current_item_id = target
    ctx.session.add(meeting)
    item = items.get(target) if target is not None else None
    payload = AgendaCurrent(
        item_id=target,
        number=numbers[target].number if target is not None and item is not None else None,
        title=item.title if item else None,
        previous_item_id=previous,
    )
    hidden = None
    if item is not None and item.confidential:
        hidden = payload.model_copy(update={"title": CONFIDENTIAL_TITLE})
    ctx.emit("agenda.current", payload, observer_payload=hidden)
    for hook in _ON_ITEM_CHANGE:
        hook(ctx, previous)
    return {"item_id": target}


@command(
    "agenda.goto",
    AgendaGoto,
    roles=CHAIR,
    summary="Go to an agenda item.",
    errors=("agenda_item_not_found", "meeting_not_in_session"),
)
def agenda_goto(session: Session, ctx: CommandContext, cmd: AgendaGoto) -> dict[str, Any]:
    item = session.get(AgendaItem, cmd.item_id)
    if item is None or item.meeting_id != ctx.meeting.id:
        raise InvalidInput(
            f"Không có mục #{cmd.item_id} trong chương trình.", code="agenda_item_not_found"
        )
    return move_to(ctx, cmd.item_id)


def _step(session: Session, ctx: CommandContext, step: int) -> dict[str, Any]:
    assert ctx.meeting.id is not None
    order = agenda_rules.ordered(load_items(session, ctx.meeting.id))
    target = agenda_rules.neighbour(order, ctx.meeting.current_item_id, step)
    if target is None and step > 0 and ctx.meeting.current_item_id is not None:
        raise Conflict(
            "Đã ở mục cuối của chương trình (already at the last item).", code="agenda_end"
        )
    return move_to(ctx, target)


@command(
    "agenda.next",
    AgendaStep,
    roles=CHAIR,
    summary="Go to the next agenda item.",
    errors=("agenda_end", "meeting_not_in_session"),
)
def agenda_next(session: Session, ctx: CommandContext, cmd: AgendaStep) -> dict[str, Any]:
    return _step(session, ctx, +1)


@command(
    "agenda.previous",
    AgendaStep,
    roles=CHAIR,
    summary="Go to the previous agenda item (before the first: none).",
    errors=("meeting_not_in_session",),
)
def agenda_previous(session: Session, ctx: CommandContext, cmd: AgendaStep) -> dict[str, Any]:
    return _step(session, ctx, -1)


class MeetingStatusChanged(Schema):
    status: str
    previous: str


event(
    "meeting.status",
    MeetingStatusChanged,
    audience="meeting",
    sent_by="meeting.start, meeting.end and the secretary's lifecycle actions",
    summary="The meeting's status changed (draft, published, in_session, closed, archived).",
)


def change_status(ctx: CommandContext, target: MeetingStatus) -> dict[str, Any]:
    meeting = ctx.meeting
    current = MeetingStatus(meeting.status)
    has_chair = (
        ctx.session.exec(
            select(Participant.id).where(
                Participant.meeting_id == meeting.id, Participant.role == MeetingRole.CHAIR.value
            )
        ).first()
        is not None
    )
    problem = lifecycle.transition_problem(current, target, has_chair=has_chair)
    if problem:
        raise Conflict(
            problem, code="invalid_transition", details={"from": current.value, "to": target.value}
        )
    if target is MeetingStatus.CLOSED:
        for hook in _ON_SESSION_END:
            hook(ctx)
    meeting.status = target.value
    meeting.updated_at = utcnow()
    ctx.session.add(meeting)
    assert meeting.id is not None
    membership_changed(ctx, readers_changing(ctx.session, meeting.id, current, target), "status")
    ctx.emit("meeting.status", MeetingStatusChanged(status=target.value, previous=current.value))
    return {"status": target.value}


@command(
    "meeting.start",
    AgendaStep,
    roles=CHAIR,
    summary="Open the session.",
    errors=("invalid_transition",),
)
def meeting_start(session: Session, ctx: CommandContext, cmd: AgendaStep) -> dict[str, Any]:
    return change_status(ctx, MeetingStatus.IN_SESSION)


@command(
    "meeting.end",
    AgendaStep,
    roles=CHAIR,
    summary="Close the session.",
    errors=("invalid_transition",),
)
def meeting_end(session: Session, ctx: CommandContext, cmd: AgendaStep) -> dict[str, Any]:
    return change_status(ctx, MeetingStatus.CLOSED)
