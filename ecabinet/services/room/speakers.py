"""The speaker queue: delegates ask for the floor on an agenda item, the chair gives it.

Each request is one ``SpeakerRequest`` row kept forever: waiting → speaking → done, or
withdrawn / refused, with the times the turn began and ended (the minutes list every turn).
Queues are per agenda item; one participant speaks at a time in the whole meeting. Every change
emits ``speaker.queue`` with the affected item's whole queue and who is speaking.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, Forbidden, InvalidInput
from ecabinet.domain import lifecycle
from ecabinet.domain import speakers as rules
from ecabinet.domain.roles import MeetingRole
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import CHAIR, MEMBERS, SPEAKER_OR_CHAIR
from ecabinet.services import room
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.room.helpers import (
    agenda_item,
    iso,
    participant_of,
    people,
    require_open,
)
from ecabinet.storage.models import Meeting, Participant, SpeakerRequest, User, utcnow


class Turn(Schema):
    id: int
    item_id: int | None
    participant_id: int
    user_id: int
    full_name: str
    status: str  # waiting, speaking, done (also withdrawn, refused in acks)
    position: int
    requested_at: str
    started_at: str | None
    ended_at: str | None
    limit_seconds: int | None  # the speaking time granted, when limited


class SpeakerQueue(Schema):
    item_id: int | None
    waiting: list[Turn]  # in the order the chair will give the floor
    spoken: list[Turn]  # this item's finished turns, in the order they were held
    speaking: Turn | None  # who has the floor now (on any item), with `started_at`


event(
    "speaker.queue",
    SpeakerQueue,
    audience="meeting",
    sent_by="speaker.request, speaker.withdraw, speaker.grant, speaker.end, speaker.reorder, "
    "speaker.refuse",
    summary="An item's speaker queue changed: its whole waiting list in order, its finished "
    "turns, and who is speaking (meeting-wide; speaking time left = `limit_seconds` - (server "
    "now - `started_at`)). The snapshot part `speakers` holds `{speaking, items: [queue per "
    "item]}`.",
)


def _requests(session: Session, meeting_id: int) -> list[SpeakerRequest]:
    return list(
        session.exec(
            select(SpeakerRequest)
            .where(SpeakerRequest.meeting_id == meeting_id)
            .where(col(SpeakerRequest.status).in_([rules.WAITING, rules.SPEAKING, rules.DONE]))
        ).all()
    )


def _turn(row: SpeakerRequest, names: dict[int, tuple[Participant, User]]) -> Turn:
    assert row.id is not None
    _participant, user = names[row.participant_id]
    assert user.id is not None
    return Turn(
        id=row.id,
        item_id=row.agenda_item_id,
        participant_id=row.participant_id,
        user_id=user.id,
        full_name=user.full_name,
        status=row.status,
        position=row.position,
        requested_at=row.requested_at.isoformat(),
        started_at=iso(row.started_at),
        ended_at=iso(row.ended_at),
        limit_seconds=row.limit_seconds,
    )


def queues(session: Session, meeting_id: int) -> tuple[Turn | None, dict[int | None, SpeakerQueue]]:
    """Who is speaking, and the queue of every item that has requests."""
    rows = _requests(session, meeting_id)
    names = people(session, meeting_id, only={r.participant_id for r in rows})
    speaking = next((_turn(r, names) for r in rows if r.status == rules.SPEAKING), None)
    out: dict[int | None, SpeakerQueue] = {}
    for item_id in sorted({r.agenda_item_id for r in rows}, key=lambda i: (i is None, i or 0)):
        mine = [r for r in rows if r.agenda_item_id == item_id]
        by_id = {r.id: r for r in mine}
        spoken = sorted(
            (r for r in mine if r.status == rules.DONE),
            key=lambda r: (r.started_at or r.requested_at, r.id or 0),
        )
        out[item_id] = SpeakerQueue(
            item_id=item_id,
            waiting=[_turn(by_id[i], names) for i in rules.waiting_order(mine)],
            spoken=[_turn(r, names) for r in spoken],
            speaking=speaking,
        )
    return speaking, out


@snapshot_part("speakers")
def speakers_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    assert meeting.id is not None
    speaking, by_item = queues(session, meeting.id)
    return {
        "speaking": speaking.model_dump(mode="json") if speaking else None,
        "items": [
            {k: v for k, v in q.model_dump(mode="json").items() if k != "speaking"}
            for q in by_item.values()
        ],
    }


def _emit(ctx: CommandContext, *item_ids: int | None) -> None:
    """One ``speaker.queue`` per affected item (once each), after the rows changed."""
    assert ctx.meeting.id is not None
    ctx.session.flush()
    speaking, by_item = queues(ctx.session, ctx.meeting.id)
    for item_id in dict.fromkeys(item_ids):
        queue = by_item.get(item_id) or SpeakerQueue(
            item_id=item_id, waiting=[], spoken=[], speaking=speaking
        )
        ctx.emit("speaker.queue", queue)


def _request(session: Session, ctx: CommandContext, request_id: int) -> SpeakerRequest:
    row = session.get(SpeakerRequest, request_id)
    if row is None or row.meeting_id != ctx.meeting.id:
        raise InvalidInput(
            f"Không có yêu cầu phát biểu #{request_id}.", code="speaker_request_not_found"
        )
    return row


def _require_waiting(row: SpeakerRequest) -> None:
    if row.status != rules.WAITING:
        raise Conflict(
            "Yêu cầu này không còn trong danh sách chờ (the request is not waiting).",
            code="not_waiting",
            details={"status": row.status},
        )


def _ack(row: SpeakerRequest) -> dict[str, Any]:
    return {"request_id": row.id, "status": row.status}


class SpeakerAsk(Command):
    item_id: int | None = Field(default=None, ge=1, description="Default: the current item.")
    participant_id: int | None = Field(
        default=None, ge=1, description="Staff only: put another participant in the queue."
    )


class SpeakerWithdraw(Command):
    request_id: int | None = Field(
        default=None, ge=1, description="Default: your waiting request on the current item."
    )


class SpeakerGrant(Command):
    request_id: int | None = Field(
        default=None, ge=1, description="Default: the first waiting on the current item."
    )
    limit_seconds: int | None = Field(default=None, ge=10, le=4 * 3600)


class SpeakerEnd(Command):
    pass


class SpeakerReorder(Command):
    item_id: int | None = Field(default=None, ge=1, description="Default: the current item.")
    request_ids: list[int] = Field(max_length=1000)


class SpeakerRefuse(Command):
    request_id: int = Field(ge=1)
    reason: str = Field(default="", max_length=300)


@command(
    "speaker.request",
    SpeakerAsk,
    roles=MEMBERS,
    summary="Ask for the floor on an item (default: the current one); one open request per "
    "participant and item. Chair and secretary may add another participant with "
    "`participant_id`; observers and secretaries do not speak. Ack: `{request_id, status}`.",
    errors=(
        "already_requested",
        "speaker_not_allowed",
        "participant_not_found",
        "agenda_item_not_found",
        "no_current_item",
        "meeting_not_open",
    ),
)
def speaker_request(session: Session, ctx: CommandContext, cmd: SpeakerAsk) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    require_open(meeting)
    target = cmd.participant_id if cmd.participant_id is not None else ctx.actor.participant_id
    if target != ctx.actor.participant_id and not ctx.actor.is_staff:
        raise Forbidden(
            "Chỉ chủ tọa hoặc thư ký được đăng ký phát biểu cho người khác "
            "(only the chair or a secretary may add someone else).",
            code="forbidden_role",
        )
    assert target is not None
    participant, _user = participant_of(session, meeting.id, target)
    if not rules.may_speak(MeetingRole(participant.role)):
        raise InvalidInput(
            "Người này không thuộc diện phát biểu (observers and secretaries do not speak).",
            code="speaker_not_allowed",
        )
    item_id = agenda_item(session, meeting, cmd.item_id)
    rows = [r for r in _requests(session, meeting.id) if r.agenda_item_id == item_id]
    if any(r.participant_id == target and r.status in rules.OPEN for r in rows):
        raise Conflict(
            "Đã đăng ký phát biểu ở mục này (already in this item's queue).",
            code="already_requested",
        )
    row = SpeakerRequest(
        meeting_id=meeting.id,
        agenda_item_id=item_id,
        participant_id=target,
        position=rules.next_position([r.position for r in rows if r.status == rules.WAITING]),
        requested_by=ctx.actor.user_id,
    )
    session.add(row)
    _emit(ctx, item_id)
    return _ack(row)


@command(
    "speaker.withdraw",
    SpeakerWithdraw,
    roles=MEMBERS,
    summary="Withdraw your own waiting request (default: on the current item). Ack: "
    "`{request_id, status}`.",
    errors=("speaker_request_not_found", "not_your_request", "not_waiting", "no_current_item"),
)
def speaker_withdraw(session: Session, ctx: CommandContext, cmd: SpeakerWithdraw) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    if cmd.request_id is not None:
        row = _request(session, ctx, cmd.request_id)
    else:
        item_id = agenda_item(session, meeting, None)
        found = session.exec(
            select(SpeakerRequest)
            .where(SpeakerRequest.meeting_id == meeting.id)
            .where(SpeakerRequest.agenda_item_id == item_id)
            .where(SpeakerRequest.participant_id == ctx.actor.participant_id)
            .where(SpeakerRequest.status == rules.WAITING)
        ).first()
        if found is None:
            raise InvalidInput(
                "Bạn không có yêu cầu phát biểu đang chờ ở mục này (no waiting request).",
                code="speaker_request_not_found",
            )
        row = found
    if row.participant_id != ctx.actor.participant_id:
        raise Forbidden(
            "Chỉ rút được yêu cầu của chính mình (only your own request).",
            code="not_your_request",
        )
    _require_waiting(row)
    row.status = rules.WITHDRAWN
    row.ended_at = utcnow()
    session.add(row)
    _emit(ctx, row.agenda_item_id)
    return _ack(row)


def _finish_current(session: Session, ctx: CommandContext) -> SpeakerRequest | None:
    current = session.exec(
        select(SpeakerRequest)
        .where(SpeakerRequest.meeting_id == ctx.meeting.id)
        .where(SpeakerRequest.status == rules.SPEAKING)
    ).first()
    if current is not None:
        current.status = rules.DONE
        current.ended_at = utcnow()
        session.add(current)
    return current


@command(
    "speaker.grant",
    SpeakerGrant,
    roles=CHAIR,
    summary="Give the floor to a waiting request (default: the first on the current item), "
    "optionally for `limit_seconds`; whoever was speaking finishes. Ack: `{request_id, status}`.",
    errors=(
        "queue_empty",
        "speaker_request_not_found",
        "not_waiting",
        "no_current_item",
        "meeting_not_in_session",
    ),
)
def speaker_grant(session: Session, ctx: CommandContext, cmd: SpeakerGrant) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    lifecycle.check_in_session(meeting.status)
    if cmd.request_id is not None:
        row = _request(session, ctx, cmd.request_id)
        _require_waiting(row)
    else:
        item_id = agenda_item(session, meeting, None)
        mine = [r for r in _requests(session, meeting.id) if r.agenda_item_id == item_id]
        order = rules.waiting_order(mine)
        if not order:
            raise Conflict("Không có ai chờ phát biểu (nobody is waiting).", code="queue_empty")
        row = next(r for r in mine if r.id == order[0])
    previous = _finish_current(session, ctx)
    row.status = rules.SPEAKING
    row.started_at = utcnow()
    row.limit_seconds = cmd.limit_seconds
    session.add(row)
    items = (
        [row.agenda_item_id] if previous is None else [previous.agenda_item_id, row.agenda_item_id]
    )
    _emit(ctx, *items)
    return _ack(row)


@command(
    "speaker.end",
    SpeakerEnd,
    roles=SPEAKER_OR_CHAIR,
    summary="End the current turn (the chair, or the speaker themself). Ack: "
    "`{request_id, status}`.",
    errors=("nobody_speaking", "not_speaker"),
)
def speaker_end(session: Session, ctx: CommandContext, cmd: SpeakerEnd) -> dict[str, Any]:
    current = session.exec(
        select(SpeakerRequest)
        .where(SpeakerRequest.meeting_id == ctx.meeting.id)
        .where(SpeakerRequest.status == rules.SPEAKING)
    ).first()
    if current is None:
        raise Conflict("Không có ai đang phát biểu (nobody is speaking).", code="nobody_speaking")
    chair = ctx.actor.role is MeetingRole.CHAIR
    if not chair and current.participant_id != ctx.actor.participant_id:
        raise Forbidden(
            "Chỉ chủ tọa hoặc người đang phát biểu kết thúc được lượt này "
            "(only the chair or the speaker).",
            code="not_speaker",
        )
    _finish_current(session, ctx)
    _emit(ctx, current.agenda_item_id)
    return _ack(current)


@command(
    "speaker.reorder",
    SpeakerReorder,
    roles=CHAIR,
    summary="Put an item's waiting requests (default: the current item's) in a new order: "
    "`request_ids` lists exactly the waiting requests. Ack: `{item_id, order}`.",
    errors=("queue_changed", "agenda_item_not_found", "no_current_item"),
)
def speaker_reorder(session: Session, ctx: CommandContext, cmd: SpeakerReorder) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    item_id = agenda_item(session, meeting, cmd.item_id)
    mine = [r for r in _requests(session, meeting.id) if r.agenda_item_id == item_id]
    current = rules.waiting_order(mine)
    problem = rules.reorder_problem(current, cmd.request_ids)
    if problem:
        raise InvalidInput(problem, code="queue_changed", details={"waiting": current})
    by_id = {r.id: r for r in mine}
    for position, request_id in enumerate(cmd.request_ids):
        row = by_id[request_id]
        row.position = position
        session.add(row)
    _emit(ctx, item_id)
    return {"item_id": item_id, "order": list(cmd.request_ids)}


@command(
    "speaker.refuse",
    SpeakerRefuse,
    roles=CHAIR,
    summary="Refuse a waiting request, with an optional reason (kept for the minutes). Ack: "
    "`{request_id, status}`.",
    errors=("speaker_request_not_found", "not_waiting"),
)
def speaker_refuse(session: Session, ctx: CommandContext, cmd: SpeakerRefuse) -> dict[str, Any]:
    row = _request(session, ctx, cmd.request_id)
    _require_waiting(row)
    row.status = rules.REFUSED
    row.ended_at = utcnow()
    row.note = cmd.reason
    session.add(row)
    _emit(ctx, row.agenda_item_id)
    return _ack(row)


@room.on_item_change
def _end_turn_on_move(ctx: CommandContext, previous: int | None) -> None:
    """A turn belongs to its item: moving on ends it (recorded with its end time)."""
    finished = _finish_current(ctx.session, ctx)
    if finished is not None:
        _emit(ctx, finished.agenda_item_id)


@room.on_session_end
def _end_turn_on_close(ctx: CommandContext) -> None:
    _end_turn_on_move(ctx, ctx.meeting.current_item_id)
