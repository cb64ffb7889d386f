"""Attendance and the live quorum.

A participant is *present* once checked in (by themself from the tablet, or marked by the
secretary or chair), *excused* when staff mark an excused absence, *absent* otherwise. Each
period is one ``Attendance`` row (status, from, to, who opened and closed it), so the minutes
can say who came when and who left when. Quorum counts the present (see ``domain.quorum``).

Presence is a different thing: whether a participant has a device connected to the meeting
right now. The realtime layer tracks it (``realtime.presence``) and tells the staff with
``presence.changed``; it does not check anybody in or out, since tablets sleep and Wi-Fi drops.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sqlmodel import Session, col, select

from ecabinet.core.logs import get_logger
from ecabinet.domain import quorum as quorum_rules
from ecabinet.domain.roles import MeetingRole
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import CHAIR_AND_SECRETARY, PARTICIPANTS
from ecabinet.services import room
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.room.helpers import iso, participant_of, people, require_open
from ecabinet.storage.models import Attendance, Body, Meeting, Participant, User, utcnow

log = get_logger(__name__)
Status = Literal["present", "absent", "excused"]


class QuorumView(Schema):
    reached: bool
    total_weight: int  # all voting members' weight
    present_weight: int  # voting members present in person
    represented_weight: int  # absent voting members whose proxy holder is present
    counted_weight: int  # present + represented
    required_weight: int
    missing_weight: int
    members_total: int
    members_present: int
    members_represented: int
    numerator: int
    denominator: int
    strict: bool
    rule: str  # the rule in Vietnamese, for the chair's console and the minutes


class AttendanceChanged(Schema):
    participant_id: int
    user_id: int
    full_name: str
    status: Status
    previous: Status
    note: str
    since: str  # when the new status began
    by_user_id: int  # who checked in or marked
    quorum: QuorumView


event(
    "attendance.changed",
    AttendanceChanged,
    audience="meeting",
    sent_by="attendance.check_in, attendance.check_out, attendance.mark",
    summary="A participant's attendance changed (present, absent or excused), with the quorum "
    "it gives. Observers get it without the note.",
)


class PresenceChanged(Schema):
    user_id: int
    online: bool
    devices: int  # this user's sockets joined to the meeting, on every server process


event(
    "presence.changed",
    PresenceChanged,
    audience="staff",
    logged=False,
    sent_by="a participant's first device joining the meeting, or the last one leaving",
    summary="A participant came online in the meeting (a first device joined) or went offline "
    "(the last one left or dropped). Presence does not check anyone in. The staff's join and "
    'resync answers carry the whole list as the part `presence`: `{"online": [{user_id, '
    "devices}]}`.",
)


def rule_of(session: Session, meeting: Meeting) -> quorum_rules.QuorumRule:
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    if body is None:
        return quorum_rules.QuorumRule()
    try:
        return quorum_rules.QuorumRule(
            body.quorum_numerator, body.quorum_denominator, body.quorum_strict
        )
    except ValueError as exc:
        log.warning("quorum.invalid_rule", body=body.id, error=str(exc))
        return quorum_rules.QuorumRule()


def open_periods(session: Session, meeting_id: int) -> dict[int, Attendance]:
    rows = session.exec(
        select(Attendance)
        .where(Attendance.meeting_id == meeting_id)
        .where(col(Attendance.checked_out_at).is_(None))
    ).all()
    return {row.participant_id: row for row in rows}


def quorum_of(
    session: Session,
    meeting: Meeting,
    participants: list[Participant],
    periods: dict[int, Attendance],
) -> QuorumView:
    rule = rule_of(session, meeting)
    members = [
        quorum_rules.Member(p.id, p.vote_weight, p.proxy_holder_id)
        for p in participants
        if p.can_vote and p.id is not None
    ]
    present = {pid for pid, row in periods.items() if row.status == "present"}
    q = quorum_rules.compute(members, present, rule)
    return QuorumView(
        reached=q.reached,
        total_weight=q.total,
        present_weight=q.present,
        represented_weight=q.represented,
        counted_weight=q.counted,
        required_weight=q.required,
        missing_weight=q.missing,
        members_total=q.members_total,
        members_present=q.members_present,
        members_represented=q.members_represented,
        numerator=rule.numerator,
        denominator=rule.denominator,
        strict=rule.strict,
        rule=rule.describe(),
    )


def _status(row: Attendance | None) -> Status:
    if row is None:
        return "absent"
    return "excused" if row.status == "excused" else "present"


@snapshot_part("attendance")
def attendance_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """Everyone gets each participant's status and the quorum; staff also every period."""
    assert meeting.id is not None
    everyone = people(session, meeting.id)
    periods = open_periods(session, meeting.id)
    observer = actor.role is MeetingRole.OBSERVER
    entries = []
    for pid, (p, u) in sorted(everyone.items()):
        row = periods.get(pid)
        entries.append(
            {
                "participant_id": pid,
                "user_id": u.id,
                "full_name": u.full_name,
                "role": p.role,
                "can_vote": p.can_vote,
                "weight": p.vote_weight,
                "proxy_holder_id": p.proxy_holder_id,
                "status": _status(row),
                "since": iso(row.checked_in_at) if row else None,
                "note": "" if observer or row is None else row.note,
            }
        )
    part: dict[str, Any] = {
        "quorum": quorum_of(
            session, meeting, [p for p, _u in everyone.values()], periods
        ).model_dump(mode="json"),
        "participants": entries,
    }
    if actor.is_staff or actor.is_admin:
        part["periods"] = [period_view(row) for row in history(session, meeting.id)]
    return part


def history(session: Session, meeting_id: int) -> list[Attendance]:
    """Every attendance period of the meeting, oldest first (what the minutes need)."""
    return list(
        session.exec(
            select(Attendance)
            .where(Attendance.meeting_id == meeting_id)
            .order_by(col(Attendance.checked_in_at), col(Attendance.id))
        ).all()
    )


def period_view(row: Attendance) -> dict[str, Any]:
    return {
        "participant_id": row.participant_id,
        "status": row.status,
        "from": iso(row.checked_in_at),
        "to": iso(row.checked_out_at),
        "marked_by": row.marked_by,
        "closed_by": row.closed_by,
        "note": row.note,
    }


def set_status(
    ctx: CommandContext, participant: Participant, user: User, status: Status, note: str = ""
) -> dict[str, Any]:
    """Close the participant's open period and open one for ``status``; emit with the quorum."""
    meeting = ctx.meeting
    require_open(meeting)
    assert meeting.id is not None and participant.id is not None and user.id is not None
    session = ctx.session
    periods = open_periods(session, meeting.id)
    current = periods.get(participant.id)
    previous = _status(current)
    now: datetime = utcnow()
    if previous == status and (current is None or current.note == note):
        return {"status": status, "changed": False}
    if current is not None and previous == status:
        current.note = note  # the same status with a corrected note: no new period
        session.add(current)
        since = current.checked_in_at
    else:
        if current is not None:
            current.checked_out_at = now
            current.closed_by = ctx.actor.user_id
            session.add(current)
            del periods[participant.id]
        since = now
        if status != "absent":
            row = Attendance(
                meeting_id=meeting.id,
                participant_id=participant.id,
                checked_in_at=now,
                marked_by=ctx.actor.user_id,
                status=status,
                note=note,
            )
            session.add(row)
            periods[participant.id] = row
    everyone = [p for p, _u in people(session, meeting.id).values()]
    payload = AttendanceChanged(
        participant_id=participant.id,
        user_id=user.id,
        full_name=user.full_name,
        status=status,
        previous=previous,
        note=note,
        since=since.isoformat(),
        by_user_id=ctx.actor.user_id,
        quorum=quorum_of(session, meeting, everyone, periods),
    )
    hidden = payload.model_copy(update={"note": ""}) if note else None
    ctx.emit("attendance.changed", payload, observer_payload=hidden)
    return {"status": status, "changed": True, "quorum": payload.quorum.model_dump(mode="json")}


class SelfAttendance(Command):
    pass


class MarkAttendance(Command):
    participant_id: int = Field(ge=1)
    status: Status
    note: str = Field(default="", max_length=300, description="E.g. the reason of an excuse.")


def _self(session: Session, ctx: CommandContext) -> tuple[Participant, User]:
    assert ctx.meeting.id is not None and ctx.actor.participant_id is not None
    return participant_of(session, ctx.meeting.id, ctx.actor.participant_id)


@command(
    "attendance.check_in",
    SelfAttendance,
    roles=PARTICIPANTS,
    summary="Check yourself in (from your tablet). Already present: `changed: false`, no event. "
    "Ack: `{status, changed, quorum}`.",
    errors=("meeting_not_open",),
)
def check_in(session: Session, ctx: CommandContext, cmd: SelfAttendance) -> dict[str, Any]:
    participant, user = _self(session, ctx)
    return set_status(ctx, participant, user, "present")


@command(
    "attendance.check_out",
    SelfAttendance,
    roles=PARTICIPANTS,
    summary="Check yourself out (leaving the meeting early). Not present: `changed: false`. "
    "Ack: `{status, changed, quorum}`.",
    errors=("meeting_not_open",),
)
def check_out(session: Session, ctx: CommandContext, cmd: SelfAttendance) -> dict[str, Any]:
    participant, user = _self(session, ctx)
    return set_status(ctx, participant, user, "absent")


@command(
    "attendance.mark",
    MarkAttendance,
    roles=CHAIR_AND_SECRETARY,
    summary="Mark a participant present, absent or excused (with a note, e.g. the reason). "
    "Ack: `{status, changed, quorum}`.",
    errors=("participant_not_found", "meeting_not_open"),
)
def mark(session: Session, ctx: CommandContext, cmd: MarkAttendance) -> dict[str, Any]:
    assert ctx.meeting.id is not None
    participant, user = participant_of(session, ctx.meeting.id, cmd.participant_id)
    return set_status(ctx, participant, user, cmd.status, cmd.note)


@room.on_session_end
def _close_periods(ctx: CommandContext) -> None:
    """The session's end ends every open presence period, so the minutes have both times."""
    assert ctx.meeting.id is not None
    now = utcnow()
    for row in open_periods(ctx.session, ctx.meeting.id).values():
        row.checked_out_at = now
        row.closed_by = ctx.actor.user_id
        ctx.session.add(row)
