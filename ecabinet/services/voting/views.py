"""What people see of polls: payload schemas, views, snapshot parts and the live progress.

Nobody sees a choice before the close: the open poll shows how many have voted out of how many
may (everyone) and who has not voted yet (chair and secretary). Results go to the staff at the
close and to everyone at publication.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlmodel import Session, col, select

from ecabinet.domain.procedure import MAJORITY_LABELS, Majority
from ecabinet.domain.roles import MeetingRole
from ecabinet.domain.voting import (
    KIND_LABELS,
    Option,
    PollKind,
    PollSpec,
    PollStatus,
    name_key,
)
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import Actor, OutEvent, make_event
from ecabinet.services.kernel.refresh import live_view
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.voting import ballots
from ecabinet.storage.models import AgendaItem, Meeting, Poll

CONFIDENTIAL = "Nội dung mật (confidential)"
PROGRESS = "poll.progress"


class OptionView(Schema):
    id: str
    label: str


class PollView(Schema):
    id: int
    agenda_item_id: int | None
    question: str
    kind: str
    kind_label: str
    options: list[OptionView]
    max_choices: int
    secret: bool
    majority: str
    majority_label: str
    abstentions_count: bool
    allow_change: bool
    status: str
    opened_at: str | None
    closed_at: str | None
    published_at: str | None


class PollProgress(Schema):
    poll_id: int
    voted: int  # ballots cast (one per represented participant); only grows while open
    eligible: int
    voted_weight: int
    eligible_weight: int


class PendingVoter(Schema):
    participant_id: int
    full_name: str
    proxy_holder_id: int | None  # who is to cast this ballot, when it is a proxy
    proxy_holder_name: str | None


class PollPending(Schema):
    poll_id: int
    not_voted: list[PendingVoter]


class ResultOption(Schema):
    id: str
    label: str
    votes: int  # weighted
    ballots: int
    percent: str  # of the rule's base, two decimals
    passed: bool  # adopted / elected


class QuorumAtClose(Schema):
    reached: bool
    total_weight: int
    present_weight: int
    represented_weight: int
    counted_weight: int
    required_weight: int
    members_total: int
    members_present: int
    members_represented: int


class NamedVote(Schema):
    participant_id: int
    full_name: str
    weight: int
    choice: list[str]
    cast_by_participant_id: int | None  # the proxy holder who cast it
    cast_by_name: str | None


class PollResult(Schema):
    outcome: Literal["passed", "rejected", "tie", "no_quorum"]
    passed: bool
    reason: str
    majority: str
    majority_label: str
    abstentions_count: bool
    base: Literal["cast", "present", "members"]
    base_label: str
    base_label_en: str
    base_votes: int
    needed: int
    ballots: int
    weight_cast: int
    abstentions: int
    eligible: int
    options: list[ResultOption]
    elected: list[str]
    quorum: QuorumAtClose
    votes: list[NamedVote] | None  # the named list; null for a secret poll


class PollDraft(Schema):
    poll: PollView


class PollOpened(Schema):
    poll: PollView
    progress: PollProgress


class PollClosed(Schema):
    poll_id: int
    progress: PollProgress


class PollResultReady(Schema):
    poll_id: int
    result: PollResult


class PollPublished(Schema):
    poll: PollView
    result: PollResult


class PollCancelled(Schema):
    poll_id: int
    previous_status: str
    result: PollResult | None  # the result counted at the close, for a poll cancelled after it


event("poll.draft", PollDraft, audience="staff", logged=False, sent_by="poll.create, poll.update",
      summary="A poll was drafted or its draft changed (chair and secretary only). The staff's "
      "snapshot part `polls_staff.drafts` holds every draft.")
event("poll.opened", PollOpened, audience="meeting", sent_by="poll.open",
      summary="The chair opened a poll: its question, options and rule, and 0 of N voted. "
      "Observers get confidential items' questions and options redacted.")
event(PROGRESS, PollProgress, audience="meeting", logged=False, sent_by="poll.cast (coalesced)",
      summary="How many have voted out of how many may, while a poll is open. Coalesced: at most "
      "one every 200 ms per poll (longer in big rooms), carrying the latest count; never the "
      "choices. Also in the part `poll_live.progress`.")
event("poll.pending", PollPending, audience="staff", logged=False,
      sent_by="poll.open, poll.cast (coalesced)",
      summary="Chair and secretary: who has not voted yet (with the proxy holder who is to "
      "vote for them). Also in the part `polls_staff.pending`.")
event("poll.closed", PollClosed, audience="meeting", sent_by="poll.close",
      summary="Voting ended; the final count of ballots, not the result (that comes with "
      "poll.published).")
event("poll.result", PollResultReady, audience="staff", logged=False, sent_by="poll.close",
      summary="Chair and secretary: the result of a closed poll, before it is published. "
      "Also in the part `polls_staff.results`.")
event("poll.published", PollPublished, audience="meeting", sent_by="poll.publish",
      summary="The result, for every tablet and the minutes: totals per option with weights, "
      "percentages, passed or rejected by the rule with the reason, and the named list for a "
      "named poll. Observers get confidential items redacted.")
event("poll.cancelled", PollCancelled, audience="meeting", sent_by="poll.cancel",
      summary="The chair cancelled a poll (a draft, an open one, or a closed named one); its "
      "ballots count for nothing. A poll cancelled after its close carries the result it had, "
      "so that the meeting's record keeps it (observers get confidential items redacted).")


def spec_of(poll: Poll) -> PollSpec:
    try:
        majority = Majority(poll.rule)
    except ValueError:
        majority = Majority.SIMPLE_CAST
    return PollSpec(
        kind=PollKind(poll.kind),
        options=tuple(Option(str(o["id"]), str(o["label"])) for o in poll.options),
        max_choices=poll.max_choices,
        majority=majority,
        abstentions_count=poll.abstentions_count,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def poll_view(poll: Poll, *, redact: bool = False) -> PollView:
    assert poll.id is not None
    spec = spec_of(poll)
    kind = PollKind(poll.kind)
    hide = redact and kind is not PollKind.YES_NO_ABSTAIN
    return PollView(
        id=poll.id,
        agenda_item_id=poll.agenda_item_id,
        question=CONFIDENTIAL if redact else poll.question,
        kind=kind.value,
        kind_label=KIND_LABELS[kind],
        options=[
            OptionView(id=o.id, label=f"Phương án {o.id}" if hide else o.label)
            for o in spec.options
        ],
        max_choices=poll.max_choices,
        secret=poll.secret,
        majority=spec.majority.value,
        majority_label=MAJORITY_LABELS[spec.majority],
        abstentions_count=poll.abstentions_count,
        allow_change=poll.allow_change,
        status=poll.status,
        opened_at=_iso(poll.opened_at),
        closed_at=_iso(poll.closed_at),
        published_at=_iso(poll.published_at),
    )


def redacted_result(poll: Poll, result: dict[str, Any]) -> dict[str, Any]:
    """A result as observers get it for a confidential item: counts, no labels, no names."""
    hide_labels = PollKind(poll.kind) is not PollKind.YES_NO_ABSTAIN
    options = [
        {**o, "label": f"Phương án {o['id']}"} if hide_labels else o for o in result["options"]
    ]
    return {
        **result,
        "options": options,
        "reason": "Kết quả biểu quyết nội dung mật (result of a confidential item).",
        "votes": None,
    }


def recorded(poll: Poll) -> bool:
    """Whether the poll's result is in the meeting's record, for everyone in the meeting to
    read: once published, or when a closed poll was cancelled (poll.cancelled carried it)."""
    return poll.result is not None and poll.status in (PollStatus.PUBLISHED.value,
                                                       PollStatus.CANCELLED.value)


def is_confidential(session: Session, poll: Poll) -> bool:
    if poll.agenda_item_id is None:
        return False
    item = session.get(AgendaItem, poll.agenda_item_id)
    return bool(item and item.confidential)


def sees_redacted(actor: Actor) -> bool:
    return actor.role is MeetingRole.OBSERVER and not actor.is_admin


def progress_of(poll: Poll, roll: dict[int, ballots.Voter], done: dict[int, int]) -> PollProgress:
    assert poll.id is not None
    return PollProgress(
        poll_id=poll.id,
        voted=sum(1 for pid in done if pid in roll),
        eligible=len(roll),
        voted_weight=sum(v.weight for pid, v in roll.items() if pid in done),
        eligible_weight=sum(v.weight for v in roll.values()),
    )


def pending_of(poll: Poll, roll: dict[int, ballots.Voter], done: dict[int, int]) -> PollPending:
    assert poll.id is not None
    waiting = []
    for v in sorted(roll.values(), key=lambda v: (name_key(v.full_name), v.participant_id)):
        if v.participant_id in done:
            continue
        # A holder is a voter too (domain.proxies), so the roll has their name.
        holder = roll.get(v.proxy_holder_id) if v.proxy_holder_id else None
        waiting.append(
            PendingVoter(
                participant_id=v.participant_id,
                full_name=v.full_name,
                proxy_holder_id=v.proxy_holder_id,
                proxy_holder_name=holder.full_name if holder else None,
            )
        )
    return PollPending(poll_id=poll.id, not_voted=waiting)


@live_view(PROGRESS, interval=0.2, per_recipient=0.001)
def progress_events(session: Session, meeting_id: int, poll_id: int) -> list[OutEvent]:
    """The open poll's progress for everyone and the not-yet-voted list for the staff."""
    poll = session.get(Poll, poll_id)
    if poll is None or poll.status != PollStatus.OPEN.value:
        return []  # closed meanwhile: poll.closed carried the final count
    roll = ballots.voter_roll(session, meeting_id)
    done = ballots.voted(session, poll)
    return [
        make_event(session, meeting_id, PROGRESS, progress_of(poll, roll, done), actor_id=None),
        make_event(session, meeting_id, "poll.pending", pending_of(poll, roll, done),
                   actor_id=None),
    ]


def meeting_polls(session: Session, meeting_id: int) -> list[Poll]:
    return list(
        session.exec(select(Poll).where(Poll.meeting_id == meeting_id).order_by(col(Poll.id)))
    )


@snapshot_part("polls")
def polls_part(session: Session, actor: Actor, meeting: Meeting) -> list[dict[str, Any]]:
    """Every poll past its draft, with the result once it is in the record."""
    assert meeting.id is not None
    out = []
    for poll in meeting_polls(session, meeting.id):
        if poll.status == PollStatus.DRAFT.value:
            continue
        redact = sees_redacted(actor) and is_confidential(session, poll)
        result = poll.result if recorded(poll) else None
        if result is not None and redact:
            result = redacted_result(poll, result)
        out.append({"poll": poll_view(poll, redact=redact).model_dump(), "result": result})
    return out


@snapshot_part("poll_live", private=True)
def poll_live_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any] | None:
    """The open poll's progress and the caller's own ballots: for whom they vote, done or not.
    (Counted by the database: a thousand tablets re-joining must not each read the roll.)"""
    assert meeting.id is not None
    poll = session.exec(
        select(Poll).where(Poll.meeting_id == meeting.id, Poll.status == PollStatus.OPEN.value)
    ).first()
    if poll is None:
        return None
    assert poll.id is not None
    voted, eligible, voted_weight, eligible_weight = ballots.counts(session, meeting.id, poll)
    mine = ballots.represented_by(
        ballots.voters_of(session, meeting.id, actor.participant_id), actor.participant_id)
    ids = [v.participant_id for v in mine]
    done = ballots.voted_among(session, poll, ids)
    choices = ballots.own_choices(session, poll, ids)
    return {
        "poll_id": poll.id,
        "progress": PollProgress(poll_id=poll.id, voted=voted, eligible=eligible,
                                 voted_weight=voted_weight,
                                 eligible_weight=eligible_weight).model_dump(),
        "you": [
            {
                "participant_id": v.participant_id,
                "full_name": v.full_name,
                "weight": v.weight,
                "proxy": v.participant_id != actor.participant_id,
                "voted": v.participant_id in done,
                "choice": choices.get(v.participant_id),  # named polls only
            }
            for v in mine
        ],
    }


@snapshot_part("polls_staff", private=True)
def polls_staff_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any] | None:
    """Chair and secretary: drafts, who has not voted yet, results not yet published."""
    if not (actor.is_staff or actor.is_admin):
        return None
    assert meeting.id is not None
    polls = meeting_polls(session, meeting.id)
    pending = None
    for poll in polls:
        if poll.status == PollStatus.OPEN.value:
            roll = ballots.voter_roll(session, meeting.id)
            pending = pending_of(poll, roll, ballots.voted(session, poll)).model_dump()
    return {
        "drafts": [poll_view(p).model_dump() for p in polls if p.status == "draft"],
        "pending": pending,
        "results": [
            {"poll_id": p.id, "result": p.result}
            for p in polls
            if p.status == PollStatus.CLOSED.value and p.result is not None
        ],
    }
