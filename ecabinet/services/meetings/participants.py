"""Participants of a meeting: role, voting right and weight, and proxies set by the secretary.

A proxy lets delegate A carry absent delegate B's vote (``B.proxy_holder_id = A``). The rules
are in ecabinet/domain/proxies.py: both vote, no self-proxy, no chains.

``participant_refusals`` is the one place that says whether a participant is acceptable (an
observer has no vote; a proxy follows the proxy rules): the API below and the pack import
(services/packs) both call it, so the two cannot accept different meetings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlmodel import Session, select

from ecabinet.core.errors import Conflict, InvalidInput, NotFound
from ecabinet.domain.proxies import Voter, proxy_problem
from ecabinet.domain.roles import MeetingRole, MeetingStatus
from ecabinet.protocol import Schema, event
from ecabinet.services import accounts, audit
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.membership import membership_changed
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.meetings.editing import ChangeNote, begin_change
from ecabinet.storage.models import (
    Attendance,
    Ballot,
    Meeting,
    Participant,
    PollParticipation,
    SpeakerRequest,
    User,
)

ROLE_LABELS = {
    MeetingRole.CHAIR: "chủ tọa",
    MeetingRole.SECRETARY: "thư ký",
    MeetingRole.DELEGATE: "đại biểu",
    MeetingRole.OBSERVER: "quan sát viên",
}


# The field constraints, shared with the pack format (services/packs).
Username = Annotated[str, Field(min_length=2, max_length=64)]
VoteWeight = Annotated[int, Field(ge=1, le=1_000_000)]


class ParticipantIn(Schema):
    username: Username
    role: MeetingRole
    # Default: chairs and delegates vote, secretaries and observers do not.
    can_vote: bool | None = None
    vote_weight: VoteWeight = 1


class ParticipantPatch(Schema):
    role: MeetingRole | None = None
    can_vote: bool | None = None
    vote_weight: VoteWeight | None = None


class ProxyIn(Schema):
    holder_id: int = Field(ge=1, description="participant id of the delegate who carries the vote")


class ParticipantOut(Schema):
    id: int
    user_id: int
    username: str
    full_name: str
    role: str
    can_vote: bool
    vote_weight: int
    proxy_holder_id: int | None


class ParticipantsChanged(Schema):
    pack_version: int
    changes: list[ChangeNote]
    participants: list[ParticipantOut]


event(
    "participants.changed",
    ParticipantsChanged,
    audience="meeting",
    sent_by="the secretary adding, changing or removing a participant or a proxy",
    summary="The participants changed (role, voting right, weight, proxy); carries the whole "
    "list and the pack version the change belongs to.",
)


def default_vote(role: MeetingRole) -> bool:
    return role in (MeetingRole.CHAIR, MeetingRole.DELEGATE)


def resolve_vote(role: MeetingRole, can_vote: bool | None) -> bool:
    """The voting right given, or the role's default when none is given."""
    return default_vote(role) if can_vote is None else can_vote


@dataclass(frozen=True)
class Refusal:
    """A participant rule broken: what it is about (``vote`` or ``proxy``), a stable code and
    the Vietnamese message the caller sees."""

    about: str
    code: str
    message: str

    def error(self, **details: Any) -> InvalidInput:
        return InvalidInput(self.message, code=self.code, details=details or None)


@dataclass(frozen=True)
class ProxyRequest:
    """``giver_id`` asks ``holder_id`` to carry their vote; ``voters`` is everyone in the
    meeting as they stand (the giver's current proxy, if any, is the one being replaced)."""

    voters: Sequence[Voter]
    giver_id: int
    holder_id: int


def participant_refusals(
    role: MeetingRole, can_vote: bool, proxy: ProxyRequest | None = None
) -> list[Refusal]:
    """Every rule a participant with this role and voting right (and proxy) breaks.

    The one check for the participants API and the pack import alike; an empty list means
    acceptable. The schema (known role, weight 1–1,000,000) is checked before, by the types.
    """
    refusals = []
    if role is MeetingRole.OBSERVER and can_vote:
        refusals.append(
            Refusal(
                "vote",
                "observer_cannot_vote",
                "Quan sát viên không có quyền biểu quyết (observers cannot vote).",
            )
        )
    if proxy is not None:
        voters = [
            Voter(v.id, v.can_vote, None if v.id == proxy.giver_id else v.proxy_holder_id)
            for v in proxy.voters
        ]
        problem = proxy_problem(voters, proxy.giver_id, proxy.holder_id)
        if problem:
            refusals.append(Refusal("proxy", "invalid_proxy", problem))
    return refusals


def _refuse(refusals: list[Refusal], **details: Any) -> None:
    if refusals:
        raise refusals[0].error(**details)


def load_participants(session: Session, meeting_id: int) -> list[tuple[Participant, User]]:
    rows = session.exec(
        select(Participant, User)
        .join(User, User.id == Participant.user_id)  # type: ignore[arg-type]
        .where(Participant.meeting_id == meeting_id)
        .order_by(Participant.id)  # type: ignore[arg-type]
    ).all()
    return list(rows)


def participant_list(session: Session, meeting_id: int) -> list[ParticipantOut]:
    order = {r: i for i, r in enumerate(MeetingRole)}
    rows = load_participants(session, meeting_id)
    rows.sort(key=lambda pu: (order[MeetingRole(pu[0].role)], pu[0].id or 0))
    out = []
    for p, u in rows:
        assert p.id is not None and u.id is not None
        out.append(
            ParticipantOut(
                id=p.id,
                user_id=u.id,
                username=u.username,
                full_name=u.full_name,
                role=p.role,
                can_vote=p.can_vote,
                vote_weight=p.vote_weight,
                proxy_holder_id=p.proxy_holder_id,
            )
        )
    return out


@snapshot_part("participants")
def participants_part(session: Session, actor: Actor, meeting: Meeting) -> list[dict[str, Any]]:
    assert meeting.id is not None
    return [p.model_dump() for p in participant_list(session, meeting.id)]


def _get(session: Session, ctx: CommandContext, participant_id: int) -> Participant:
    row = session.get(Participant, participant_id)
    if row is None or row.meeting_id != ctx.meeting.id:
        raise NotFound(
            f"Không có người dự họp #{participant_id} trong cuộc họp này.",
            code="participant_not_found",
        )
    return row


def _name(session: Session, row: Participant) -> str:
    user = session.get(User, row.user_id)
    return user.full_name if user else str(row.user_id)


def _emit(ctx: CommandContext, version: int, notes: list[ChangeNote]) -> dict[str, Any]:
    assert ctx.meeting.id is not None
    people = participant_list(ctx.session, ctx.meeting.id)
    ctx.emit(
        "participants.changed",
        ParticipantsChanged(pack_version=version, changes=notes, participants=people),
    )
    return {"pack_version": version, "participants": [p.model_dump() for p in people]}


def _chairs(session: Session, meeting_id: int) -> list[Participant]:
    return list(
        session.exec(
            select(Participant).where(
                Participant.meeting_id == meeting_id, Participant.role == MeetingRole.CHAIR.value
            )
        ).all()
    )


def _check_keeps_chair(session: Session, ctx: CommandContext, row: Participant) -> None:
    """A published (or later) meeting always has a chair: the rule publishing checked."""
    if MeetingStatus(ctx.meeting.status) is MeetingStatus.DRAFT:
        return
    assert ctx.meeting.id is not None
    others = [c for c in _chairs(session, ctx.meeting.id) if c.id != row.id]
    if row.role == MeetingRole.CHAIR.value and not others:
        raise Conflict(
            "Cuộc họp đã phát hành phải có chủ tọa; hãy chỉ định chủ tọa khác trước "
            "(a published meeting needs a chair).",
            code="chair_required",
        )


def _check_no_proxy(session: Session, row: Participant, why: str) -> None:
    holds = session.exec(
        select(Participant.id).where(Participant.proxy_holder_id == row.id)
    ).first()
    if row.proxy_holder_id is not None or holds is not None:
        raise Conflict(
            f"Hãy bỏ ủy quyền liên quan trước khi {why} (remove the proxy first).",
            code="proxy_in_use",
        )


def _audit(ctx: CommandContext, row: Participant, change: str, **details: Any) -> None:
    """A change of who holds which role or vote goes into the audit trail (same transaction)."""
    audit.record(
        ctx.session,
        audit.ROLE_CHANGED,
        actor_id=ctx.actor.user_id,
        subject=f"meeting:{ctx.meeting.id}",
        details={"change": change, "participant_id": row.id, "user_id": row.user_id, **details},
    )


def add_participant(session: Session, ctx: CommandContext, data: ParticipantIn) -> dict[str, Any]:
    """Add a user to the meeting with a role, a voting right and a weight."""
    version = begin_change(ctx)
    assert ctx.meeting.id is not None
    user = accounts.get_user(session, data.username)
    if user is None or user.id is None:
        raise InvalidInput(
            f"Không có tài khoản '{data.username}' (unknown user).",
            code="unknown_user",
            details={"username": data.username},
        )
    exists = session.exec(
        select(Participant.id).where(
            Participant.meeting_id == ctx.meeting.id, Participant.user_id == user.id
        )
    ).first()
    if exists is not None:
        raise Conflict(
            f"'{user.username}' đã dự cuộc họp này (already a participant).",
            code="participant_exists",
            details={"participant_id": exists},
        )
    can_vote = resolve_vote(data.role, data.can_vote)
    _refuse(participant_refusals(data.role, can_vote))
    row = Participant(
        meeting_id=ctx.meeting.id,
        user_id=user.id,
        role=data.role.value,
        can_vote=can_vote,
        vote_weight=data.vote_weight,
    )
    session.add(row)
    session.flush()
    _audit(ctx, row, "added", role=row.role, can_vote=can_vote, vote_weight=row.vote_weight)
    membership_changed(ctx, [user.id], "participants")  # an admin's open sockets, say
    note = ChangeNote(
        action="participant.added",
        participant_id=row.id,
        title=user.full_name,
        detail=ROLE_LABELS[data.role],
    )
    return {"participant_id": row.id, **_emit(ctx, version, [note])}


def update_participant(
    session: Session, ctx: CommandContext, participant_id: int, data: ParticipantPatch
) -> dict[str, Any]:
    """Change a participant's role, voting right or weight."""
    version = begin_change(ctx)
    row = _get(session, ctx, participant_id)
    role = data.role if data.role is not None else MeetingRole(row.role)
    if data.can_vote is not None:
        can_vote = data.can_vote
    elif data.role is not None and data.role.value != row.role:
        can_vote = default_vote(role)
    else:
        can_vote = row.can_vote
    _refuse(participant_refusals(role, can_vote))
    if role.value != row.role:
        _check_keeps_chair(session, ctx, row)
    if row.can_vote and not can_vote:
        _check_no_proxy(session, row, "bỏ quyền biểu quyết")
    changed = []
    before = {"role": row.role, "can_vote": row.can_vote, "vote_weight": row.vote_weight}
    if role.value != row.role:
        changed.append(f"vai trò: {ROLE_LABELS[role]}")
    if can_vote != row.can_vote:
        changed.append("có quyền biểu quyết" if can_vote else "không biểu quyết")
    if data.vote_weight is not None and data.vote_weight != row.vote_weight:
        changed.append(f"trọng số: {data.vote_weight}")
        row.vote_weight = data.vote_weight
    row.role = role.value
    row.can_vote = can_vote
    session.add(row)
    session.flush()
    after = {"role": row.role, "can_vote": row.can_vote, "vote_weight": row.vote_weight}
    if after != before:
        _audit(ctx, row, "updated", before=before, after=after)
    if after["role"] != before["role"]:
        membership_changed(ctx, [row.user_id], "participants")
    note = ChangeNote(
        action="participant.updated",
        participant_id=row.id,
        title=_name(session, row),
        detail="; ".join(changed),
    )
    return _emit(ctx, version, [note])


def _in_use(session: Session, participant_id: int) -> bool:
    checks = (
        select(Ballot.id).where(
            (Ballot.voter_participant_id == participant_id)
            | (Ballot.represented_participant_id == participant_id)
        ),
        select(PollParticipation.id).where(
            (PollParticipation.voter_participant_id == participant_id)
            | (PollParticipation.represented_participant_id == participant_id)
        ),
        select(Attendance.id).where(Attendance.participant_id == participant_id),
        select(SpeakerRequest.id).where(SpeakerRequest.participant_id == participant_id),
    )
    return any(session.exec(q).first() is not None for q in checks)


def remove_participant(
    session: Session, ctx: CommandContext, participant_id: int
) -> dict[str, Any]:
    """Take a participant out of the meeting (not once they attended, spoke or voted)."""
    version = begin_change(ctx)
    row = _get(session, ctx, participant_id)
    _check_keeps_chair(session, ctx, row)
    _check_no_proxy(session, row, "xóa người dự họp")
    if _in_use(session, participant_id):
        raise Conflict(
            "Người này đã điểm danh, phát biểu hoặc biểu quyết; không thể xóa khỏi cuộc họp "
            "(the participant has attendance, speaking or voting records).",
            code="participant_in_use",
        )
    note = ChangeNote(
        action="participant.removed", participant_id=row.id, title=_name(session, row)
    )
    _audit(ctx, row, "removed", role=row.role)
    membership_changed(ctx, [row.user_id], "participants")
    session.delete(row)
    session.flush()
    return _emit(ctx, version, [note])


def set_proxy(
    session: Session, ctx: CommandContext, participant_id: int, data: ProxyIn
) -> dict[str, Any]:
    """Let ``data.holder_id`` carry the vote of ``participant_id`` (who will be absent)."""
    version = begin_change(ctx)
    assert ctx.meeting.id is not None
    giver = _get(session, ctx, participant_id)
    voters = [
        Voter(p.id, p.can_vote, p.proxy_holder_id)
        for p, _u in load_participants(session, ctx.meeting.id)
        if p.id is not None
    ]
    request = ProxyRequest(voters, participant_id, data.holder_id)
    _refuse(
        participant_refusals(MeetingRole(giver.role), giver.can_vote, request),
        participant_id=participant_id,
        holder_id=data.holder_id,
    )
    holder = _get(session, ctx, data.holder_id)
    giver.proxy_holder_id = holder.id
    session.add(giver)
    session.flush()
    _audit(ctx, giver, "proxy_set", holder_participant_id=holder.id)
    note = ChangeNote(
        action="proxy.set",
        participant_id=giver.id,
        title=_name(session, giver),
        detail=f"ủy quyền cho {_name(session, holder)}",
    )
    return _emit(ctx, version, [note])


def clear_proxy(session: Session, ctx: CommandContext, participant_id: int) -> dict[str, Any]:
    version = begin_change(ctx)
    giver = _get(session, ctx, participant_id)
    if giver.proxy_holder_id is None:
        raise Conflict("Người này chưa ủy quyền (no proxy to remove).", code="no_proxy")
    holder_id = giver.proxy_holder_id
    giver.proxy_holder_id = None
    session.add(giver)
    session.flush()
    _audit(ctx, giver, "proxy_cleared", holder_participant_id=holder_id)
    note = ChangeNote(action="proxy.cleared", participant_id=giver.id, title=_name(session, giver))
    return _emit(ctx, version, [note])
