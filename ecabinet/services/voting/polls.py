"""Polls: draft, open, cast, close, publish, cancel.

The chair drives the lifecycle (draft → open → closed → published, or cancelled); the chair and
the secretary may prepare drafts. Each participant with a voting right has exactly one ballot,
cast by themself or by the holder of their proxy (``for_participant_id``). Casting is a batched
command: a storm of ballots is group-committed (``ecabinet.storage.batching``), each acked only
after its commit; uniqueness constraints keep one ballot per represented participant.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlmodel import Session, select

from ecabinet.core.errors import Conflict, EcabinetError, InvalidInput, NotFound
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain import lifecycle, voting
from ecabinet.domain.procedure import Majority
from ecabinet.domain.voting import PollKind, PollStatus, Refusal
from ecabinet.protocol import Command, command
from ecabinet.protocol.roles import CHAIR, CHAIR_AND_SECRETARY, PARTICIPANTS
from ecabinet.services import audit
from ecabinet.services.kernel.context import (
    CommandContext,
    batched_commands,
    cached_participant_id,
)
from ecabinet.services.room.attendance import rule_of
from ecabinet.services.voting import ballots
from ecabinet.services.voting.views import (
    PROGRESS,
    PollCancelled,
    PollClosed,
    PollDraft,
    PollOpened,
    PollPublished,
    PollResult,
    PollResultReady,
    is_confidential,
    pending_of,
    poll_view,
    progress_of,
    redacted_result,
    spec_of,
)
from ecabinet.storage.batching import batch_cache
from ecabinet.storage.models import AgendaItem, Body, Meeting, Poll, utcnow

Label = Annotated[str, Field(min_length=1, max_length=300)]
MAX_ID = 2**31 - 1  # database integer keys
OptionId = Annotated[str, Field(min_length=1, max_length=16)]


class PollCreate(Command):
    question: str = Field(min_length=1, max_length=2000)
    kind: PollKind
    options: list[Label] = Field(default_factory=list, max_length=voting.MAX_OPTIONS,
                                 description="Labels (single/multiple); none for yes_no_abstain.")
    max_choices: int = Field(default=1, ge=1, le=voting.MAX_OPTIONS)
    secret: bool = False
    majority: Majority | None = Field(default=None, description="Default: the body's rule.")
    abstentions_count: bool = False
    allow_change: bool = Field(default=False, description="Named polls only.")
    agenda_item_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class PollUpdate(Command):
    poll_id: int = Field(ge=1, le=MAX_ID)
    question: str | None = Field(default=None, min_length=1, max_length=2000)
    kind: PollKind | None = None
    options: list[Label] | None = Field(default=None, max_length=voting.MAX_OPTIONS)
    max_choices: int | None = Field(default=None, ge=1, le=voting.MAX_OPTIONS)
    secret: bool | None = None
    majority: Majority | None = None
    abstentions_count: bool | None = None
    allow_change: bool | None = None
    agenda_item_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                        description="null: the whole meeting.")


class PollRef(Command):
    poll_id: int = Field(ge=1, le=MAX_ID)


class PollCast(Command):
    poll_id: int = Field(ge=1, le=MAX_ID)
    choice: list[OptionId] = Field(max_length=voting.MAX_OPTIONS, description=(
        'Option ids: ["yes"], ["no"] or ["abstain"]; for single/multiple the chosen ids '
        "([] is a blank ballot)."))
    for_participant_id: int | None = Field(default=None, ge=1, le=MAX_ID, description=(
        "Vote the proxy of this participant (default: your own ballot)."))


def refused(exc: Refusal, kind: type[EcabinetError] = InvalidInput) -> EcabinetError:
    return kind(exc.message, code=exc.code, details=exc.details)


def load_poll(session: Session, meeting: Meeting, poll_id: int, *, lock: bool = True) -> Poll:
    stmt = select(Poll).where(Poll.id == poll_id)
    if lock:
        stmt = stmt.with_for_update()
    poll = session.exec(stmt).first()
    if poll is None or poll.meeting_id != meeting.id:
        raise NotFound(f"Không có phiếu biểu quyết #{poll_id} (no such poll).",
                       code="poll_not_found")
    return poll


def body_majority(session: Session, meeting: Meeting) -> Majority:
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    try:
        return Majority(body.default_majority) if body else Majority.SIMPLE_CAST
    except ValueError:
        return Majority.SIMPLE_CAST


def _check_item(session: Session, meeting: Meeting, item_id: int | None) -> None:
    if item_id is None:
        return
    item = session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise InvalidInput(f"Không có mục #{item_id} trong chương trình.",
                           code="agenda_item_not_found")


def _define(poll: Poll, kind: PollKind, labels: list[str] | None) -> None:
    """Check a (new or changed) definition and store its options (``labels`` None: keep)."""
    if labels is None:
        keeps = kind is not PollKind.YES_NO_ABSTAIN and poll.kind != PollKind.YES_NO_ABSTAIN.value
        labels = [str(o["label"]) for o in poll.options] if keeps else []
    try:
        options = voting.build_options(kind, labels)
        voting.check_definition(kind, options, poll.max_choices, secret=poll.secret,
                                allow_change=poll.allow_change)
    except Refusal as exc:
        raise refused(exc) from None
    poll.kind = kind.value
    poll.options = [o.to_dict() for o in options]


def _draft_event(ctx: CommandContext, poll: Poll) -> dict[str, Any]:
    ctx.session.flush()
    view = poll_view(poll)
    ctx.emit("poll.draft", PollDraft(poll=view))
    return {"poll_id": poll.id, "poll": view.model_dump()}


@command("poll.create", PollCreate, roles=CHAIR_AND_SECRETARY,
         summary="Draft a poll for an agenda item or the whole meeting (chair or secretary). "
         "`majority` defaults to the body's rule. Ack: `{poll_id, poll}`.",
         errors=("agenda_item_not_found", "too_few_options", "too_many_options",
                 "duplicate_option", "empty_option", "options_not_allowed",
                 "invalid_max_choices", "secret_no_change", "meeting_archived"))
def poll_create(session: Session, ctx: CommandContext, cmd: PollCreate) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    lifecycle.check_editable(meeting.status)
    _check_item(session, meeting, cmd.agenda_item_id)
    poll = Poll(
        meeting_id=meeting.id,
        agenda_item_id=cmd.agenda_item_id,
        question=nfc_trimmed(cmd.question),
        kind=cmd.kind.value,
        max_choices=cmd.max_choices,
        secret=cmd.secret,
        rule=(cmd.majority or body_majority(session, meeting)).value,
        abstentions_count=cmd.abstentions_count,
        allow_change=cmd.allow_change,
        status=PollStatus.DRAFT.value,
    )
    _define(poll, cmd.kind, [nfc_trimmed(o) for o in cmd.options])
    session.add(poll)
    return _draft_event(ctx, poll)


@command("poll.update", PollUpdate, roles=CHAIR_AND_SECRETARY,
         summary="Change a draft poll (only the fields given). Ack: `{poll_id, poll}`.",
         errors=("poll_not_found", "poll_not_editable", "agenda_item_not_found",
                 "too_few_options", "too_many_options", "duplicate_option", "empty_option",
                 "options_not_allowed", "invalid_max_choices", "secret_no_change"))
def poll_update(session: Session, ctx: CommandContext, cmd: PollUpdate) -> dict[str, Any]:
    poll = load_poll(session, ctx.meeting, cmd.poll_id)
    if poll.status != PollStatus.DRAFT.value:
        raise Conflict("Chỉ sửa được phiếu biểu quyết ở dạng nháp (only a draft can change).",
                       code="poll_not_editable", details={"status": poll.status})
    given = cmd.model_fields_set
    if "agenda_item_id" in given:
        _check_item(session, ctx.meeting, cmd.agenda_item_id)
        poll.agenda_item_id = cmd.agenda_item_id
    if cmd.question is not None:
        poll.question = nfc_trimmed(cmd.question)
    for name in ("max_choices", "secret", "abstentions_count", "allow_change"):
        value = getattr(cmd, name)
        if value is not None:
            setattr(poll, name, value)
    if cmd.majority is not None:
        poll.rule = cmd.majority.value
    kind = cmd.kind or PollKind(poll.kind)
    labels = [nfc_trimmed(o) for o in cmd.options] if cmd.options is not None else None
    _define(poll, kind, labels)
    session.add(poll)
    return _draft_event(ctx, poll)


def _transition(poll: Poll, target: PollStatus) -> PollStatus:
    current = PollStatus(poll.status)
    try:
        voting.check_transition(current, target, secret=poll.secret)
    except Refusal as exc:
        raise refused(exc, Conflict) from None
    poll.status = target.value
    return current


def _audit(ctx: CommandContext, action: str, poll: Poll, **details: Any) -> None:
    """Opening, closing, publishing and cancelling a poll go into the audit trail."""
    audit.record(
        ctx.session, action, actor_id=ctx.actor.user_id, subject=f"poll:{poll.id}",
        details={"meeting_id": poll.meeting_id, "question": poll.question[:200],
                 "secret": poll.secret, **details},
    )


def _redacted_view(session: Session, poll: Poll) -> Any:
    return poll_view(poll, redact=True) if is_confidential(session, poll) else None


@command("poll.open", PollRef, roles=CHAIR,
         summary="Open a draft poll for voting (the meeting in session, no other poll open, "
         "quorum reached). Ack: `{poll_id, status}`.",
         errors=("poll_not_found", "invalid_poll_status", "secret_poll_closed",
                 "meeting_not_in_session", "poll_already_open", "no_quorum"))
def poll_open(session: Session, ctx: CommandContext, cmd: PollRef) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    poll = load_poll(session, meeting, cmd.poll_id)
    _transition(poll, PollStatus.OPEN)
    lifecycle.check_in_session(meeting.status)
    other = session.exec(select(Poll.id).where(
        Poll.meeting_id == meeting.id, Poll.status == PollStatus.OPEN.value, Poll.id != poll.id
    )).first()
    if other is not None:
        raise Conflict(f"Đang có phiếu biểu quyết #{other} mở; hãy kết thúc trước "
                       "(another poll is open).", code="poll_already_open",
                       details={"poll_id": other})
    roll = ballots.voter_roll(session, meeting.id)
    quorum = ballots.quorum_now(roll, ballots.present_ids(session, meeting.id),
                                rule_of(session, meeting))
    try:
        voting.check_quorum(quorum)
    except Refusal as exc:
        raise refused(exc, Conflict) from None
    poll.opened_at = utcnow()
    session.add(poll)
    _audit(ctx, audit.POLL_OPENED, poll, eligible=len(roll))
    progress = progress_of(poll, roll, {})
    hidden = _redacted_view(session, poll)
    ctx.emit("poll.opened", PollOpened(poll=poll_view(poll), progress=progress),
             observer_payload=PollOpened(poll=hidden, progress=progress) if hidden else None)
    ctx.emit("poll.pending", pending_of(poll, roll, {}))
    return {"poll_id": poll.id, "status": poll.status}


def compute_result(session: Session, meeting: Meeting, poll: Poll) -> PollResult:
    """Tally the poll now: weighted ballots, the rule, and the quorum at this moment."""
    assert meeting.id is not None
    roll = ballots.voter_roll(session, meeting.id)
    done = ballots.voted(session, poll)
    quorum = ballots.quorum_now(roll, ballots.present_ids(session, meeting.id),
                                rule_of(session, meeting), voters=done.values())
    result = voting.tally(spec_of(poll), ballots.ballots_of(session, poll), quorum)
    votes = None if poll.secret else ballots.named_votes(session, poll, roll)
    return PollResult.model_validate({**result.to_dict(), "eligible": len(roll), "votes": votes})


@command("poll.close", PollRef, roles=CHAIR,
         summary="Stop voting and compute the result (quorum checked again). Everyone gets "
         "poll.closed; the result goes to chair and secretary until published. "
         "Ack: `{poll_id, status, result}`.",
         errors=("poll_not_found", "invalid_poll_status"))
def poll_close(session: Session, ctx: CommandContext, cmd: PollRef) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    poll = load_poll(session, meeting, cmd.poll_id)
    _transition(poll, PollStatus.CLOSED)
    result = compute_result(session, meeting, poll)
    poll.result = result.model_dump(mode="json")
    poll.closed_at = utcnow()
    session.add(poll)
    if poll.secret:
        assert poll.id is not None
        ballots.rekey_secret_ballots(session, poll.id)
    roll = ballots.voter_roll(session, meeting.id)
    progress = progress_of(poll, roll, ballots.voted(session, poll))
    _audit(ctx, audit.POLL_CLOSED, poll, outcome=result.outcome, ballots=result.ballots,
           weight_cast=result.weight_cast, eligible=result.eligible)
    ctx.emit("poll.closed", PollClosed(poll_id=cmd.poll_id, progress=progress))
    ctx.emit("poll.result", PollResultReady(poll_id=cmd.poll_id, result=result))
    return {"poll_id": poll.id, "status": poll.status, "result": poll.result}


@command("poll.publish", PollRef, roles=CHAIR,
         summary="Announce a closed poll's result to every tablet and the minutes. "
         "Ack: `{poll_id, status, result}`.",
         errors=("poll_not_found", "invalid_poll_status"))
def poll_publish(session: Session, ctx: CommandContext, cmd: PollRef) -> dict[str, Any]:
    poll = load_poll(session, ctx.meeting, cmd.poll_id)
    _transition(poll, PollStatus.PUBLISHED)
    poll.published_at = utcnow()
    session.add(poll)
    assert poll.result is not None
    _audit(ctx, audit.POLL_PUBLISHED, poll, outcome=poll.result.get("outcome"))
    payload = PollPublished(poll=poll_view(poll), result=PollResult.model_validate(poll.result))
    hidden = None
    if is_confidential(session, poll):
        hidden = PollPublished(
            poll=poll_view(poll, redact=True),
            result=PollResult.model_validate(redacted_result(poll, poll.result)),
        )
    ctx.emit("poll.published", payload, observer_payload=hidden)
    return {"poll_id": poll.id, "status": poll.status, "result": poll.result}


@command("poll.cancel", PollRef, roles=CHAIR,
         summary="Cancel a draft or open poll, or a closed (unpublished) named poll; its "
         "ballots count for nothing. A closed secret poll cannot be cancelled "
         "(`secret_poll_closed`). A named poll cancelled after its close keeps its result: "
         "poll.cancelled carries it into the meeting's record. Ack: `{poll_id, status}`.",
         errors=("poll_not_found", "invalid_poll_status", "secret_poll_closed"))
def poll_cancel(session: Session, ctx: CommandContext, cmd: PollRef) -> dict[str, Any]:
    poll = load_poll(session, ctx.meeting, cmd.poll_id)
    previous = _transition(poll, PollStatus.CANCELLED)
    session.add(poll)
    if poll.secret and previous is PollStatus.OPEN:
        # As at a close: a database copy taken later must not find the ballots in cast order.
        assert poll.id is not None
        ballots.rekey_secret_ballots(session, poll.id)
    _audit(ctx, audit.POLL_CANCELLED, poll, previous_status=previous.value)
    # A result once counted stays in the record: cancelling must not be a way to bury it.
    result = PollResult.model_validate(poll.result) if poll.result is not None else None
    hidden = None
    if result is not None and is_confidential(session, poll):
        assert poll.result is not None
        hidden = PollCancelled(
            poll_id=cmd.poll_id, previous_status=previous.value,
            result=PollResult.model_validate(redacted_result(poll, poll.result)),
        )
    ctx.emit("poll.cancelled", PollCancelled(poll_id=cmd.poll_id, previous_status=previous.value,
                                             result=result), observer_payload=hidden)
    return {"poll_id": poll.id, "status": poll.status}


def _cast_poll(session: Session, meeting: Meeting, poll_id: int) -> Poll:
    """The poll, read once per batch under a share lock (PostgreSQL): a close waits for the
    batch's commit, and a batch after the close sees it closed."""
    cache = batch_cache(session)
    key = ("poll", poll_id)
    if key not in cache:
        stmt = select(Poll).where(Poll.id == poll_id).with_for_update(read=True)
        poll = session.exec(stmt).first()
        if poll is None or poll.meeting_id != meeting.id:
            raise NotFound(f"Không có phiếu biểu quyết #{poll_id} (no such poll).",
                           code="poll_not_found")
        cache[key] = (poll, spec_of(poll))
    found: Poll = cache[key][0]
    return found


def _batch_targets(session: Session, meeting_id: int, poll_id: int) -> list[int]:
    """The represented participants of the batch's casts in this poll (read ahead together)."""
    cache = batch_cache(session)
    key = ("targets", poll_id)
    if key not in cache:
        targets = []
        for name, caller, payload in batched_commands(session):
            if name != "poll.cast" or payload.poll_id != poll_id:
                continue
            pid = payload.for_participant_id or cached_participant_id(
                session, meeting_id, caller.user_id)
            if pid is not None:
                targets.append(pid)
        cache[key] = targets
    found: list[int] = cache[key]
    return found


@command("poll.cast", PollCast, roles=PARTICIPANTS, batched=True,
         summary="Cast your ballot, or with `for_participant_id` the ballot of someone whose "
         "proxy you hold; one ballot per represented participant. A poll that allows changes "
         "takes a new choice until it closes (`changed: true`). Nobody is told the choice. "
         "Ack: `{poll_id, for_participant_id, changed}`.",
         errors=("poll_not_found", "poll_not_open", "meeting_not_in_session", "no_voting_right",
                 "proxy_not_held", "proxy_given", "already_voted", "unknown_option",
                 "duplicate_choice", "choice_required", "too_many_choices"))
def poll_cast(session: Session, ctx: CommandContext, cmd: PollCast) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    poll = _cast_poll(session, meeting, cmd.poll_id)
    if poll.status != PollStatus.OPEN.value:
        raise Conflict(
            f"Phiếu biểu quyết không mở (the poll is {poll.status}, not open).",
            code="poll_not_open", details={"status": poll.status},
        )
    lifecycle.check_in_session(meeting.status)
    mid = meeting.id
    ahead = _batch_targets(session, mid, cmd.poll_id)
    ballots.batch_voters(session, mid, ahead)  # the whole batch's targets in one query
    me = ctx.actor.participant_id

    def lookup(pid: int) -> ballots.Voter | None:
        return ballots.batch_voters(session, mid, (pid,)).get(pid)

    target = ballots.check_right(lookup, me, cmd.for_participant_id or me or 0)
    spec = batch_cache(session)[("poll", cmd.poll_id)][1]
    try:
        choice = voting.normalise_choice(spec, cmd.choice)
    except Refusal as exc:
        raise refused(exc) from None
    assert me is not None
    changed = False
    if poll.secret:
        ballots.cast_secret(session, poll, me, target, choice, ahead)
    else:
        changed = ballots.cast_named(session, poll, me, target, choice, ahead)
    ctx.touch(PROGRESS, poll.id)
    return {"poll_id": poll.id, "for_participant_id": target.participant_id, "changed": changed}
