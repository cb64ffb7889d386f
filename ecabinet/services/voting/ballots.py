"""Ballots in the database: the voter roll, casting named and secret ballots, reading them back.

Named ballots (``Ballot``) say who voted for whom and what. Secret polls store two unlinked
things: ``PollParticipation`` (who took part, for whom) and ``SecretBallot`` (a weight and a
choice under a random key, no voter, no time). The cast path is written with SQLAlchemy Core and
per-batch caches because it runs a thousand times a second in a ballot storm.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ecabinet.core.errors import Conflict, Forbidden
from ecabinet.domain import quorum as quorum_rules
from ecabinet.domain.voting import CastBallot, name_key
from ecabinet.storage.batching import batch_cache, defer_insert
from ecabinet.storage.models import (
    Attendance,
    Ballot,
    Participant,
    Poll,
    PollParticipation,
    SecretBallot,
    User,
    utcnow,
)

BALLOT = Ballot.__table__  # type: ignore[attr-defined]
SECRET = SecretBallot.__table__  # type: ignore[attr-defined]
PARTICIPATION = PollParticipation.__table__  # type: ignore[attr-defined]
PARTICIPANT = Participant.__table__  # type: ignore[attr-defined]
USER = User.__table__  # type: ignore[attr-defined]
ATTENDANCE = Attendance.__table__  # type: ignore[attr-defined]
# Built once (the cast path runs them a thousand times a second).
_CHANGE_BALLOT = (
    sa.update(BALLOT)
    .where(
        BALLOT.c.poll_id == sa.bindparam("b_poll_id"),
        BALLOT.c.represented_participant_id == sa.bindparam("b_represented"),
    )
    .values(
        voter_participant_id=sa.bindparam("voter_participant_id"),
        weight=sa.bindparam("weight"),
        choice=sa.bindparam("choice", type_=sa.JSON),
        cast_at=sa.bindparam("cast_at", type_=BALLOT.c.cast_at.type),
    )
)


@dataclass(frozen=True)
class Voter:
    """A participant with a voting right, as the roll of a poll sees them."""

    participant_id: int
    user_id: int
    full_name: str
    weight: int
    proxy_holder_id: int | None


def voter_roll(session: Session, meeting_id: int) -> dict[int, Voter]:
    """Every participant with a voting right, by participant id."""
    rows = session.connection().execute(
        sa.select(
            PARTICIPANT.c.id,
            PARTICIPANT.c.user_id,
            USER.c.full_name,
            PARTICIPANT.c.vote_weight,
            PARTICIPANT.c.proxy_holder_id,
        )
        .join(USER, USER.c.id == PARTICIPANT.c.user_id)
        .where(PARTICIPANT.c.meeting_id == meeting_id, PARTICIPANT.c.can_vote.is_(True))
    ).all()
    return {r[0]: Voter(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def batch_voters(session: Session, meeting_id: int, wanted: Iterable[int]) -> dict[int, Voter]:
    """Voters (participants with a voting right) among ``wanted``, read once per batch: the
    first cast of a batch asks for the targets of all its casts at once."""
    cache = batch_cache(session)
    key = ("voters", meeting_id)
    if key not in cache:
        cache[key] = ({}, set())
    found, asked = cache[key]
    missing = set(wanted) - asked
    if missing:
        rows = session.connection().execute(
            sa.select(PARTICIPANT.c.id, PARTICIPANT.c.user_id, USER.c.full_name,
                      PARTICIPANT.c.vote_weight, PARTICIPANT.c.proxy_holder_id)
            .join(USER, USER.c.id == PARTICIPANT.c.user_id)
            .where(PARTICIPANT.c.meeting_id == meeting_id, PARTICIPANT.c.can_vote.is_(True),
                   PARTICIPANT.c.id.in_(missing))
        ).all()
        found.update({r[0]: Voter(r[0], r[1], r[2], r[3], r[4]) for r in rows})
        asked |= missing
    voters: dict[int, Voter] = found
    return voters


def voters_of(session: Session, meeting_id: int, participant_id: int | None) -> dict[int, Voter]:
    """The voters whose ballots this participant may cast (their own and their proxies'):
    what a join needs, without reading the whole roll of a big meeting."""
    if participant_id is None:
        return {}
    rows = session.connection().execute(
        sa.select(PARTICIPANT.c.id, PARTICIPANT.c.user_id, USER.c.full_name,
                  PARTICIPANT.c.vote_weight, PARTICIPANT.c.proxy_holder_id)
        .join(USER, USER.c.id == PARTICIPANT.c.user_id)
        .where(PARTICIPANT.c.meeting_id == meeting_id, PARTICIPANT.c.can_vote.is_(True),
               sa.or_(PARTICIPANT.c.id == participant_id,
                      PARTICIPANT.c.proxy_holder_id == participant_id))
    ).all()
    return {r[0]: Voter(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def counts(session: Session, meeting_id: int, poll: Poll) -> tuple[int, int, int, int]:
    """(voted, eligible, voted weight, eligible weight), counted by the database."""
    eligible = session.connection().execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(PARTICIPANT.c.vote_weight), 0))
        .where(PARTICIPANT.c.meeting_id == meeting_id, PARTICIPANT.c.can_vote.is_(True))
    ).one()
    table = PARTICIPATION if poll.secret else BALLOT
    done = session.connection().execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(PARTICIPANT.c.vote_weight), 0))
        .select_from(table.join(PARTICIPANT,
                                PARTICIPANT.c.id == table.c.represented_participant_id))
        .where(table.c.poll_id == poll.id, PARTICIPANT.c.can_vote.is_(True))
    ).one()
    return int(done[0]), int(eligible[0]), int(done[1]), int(eligible[1])


def voted_among(session: Session, poll: Poll, ids: Iterable[int]) -> set[int]:
    wanted = list(ids)
    if not wanted:
        return set()
    table = PARTICIPATION if poll.secret else BALLOT
    rows = session.connection().execute(
        sa.select(table.c.represented_participant_id).where(
            table.c.poll_id == poll.id, table.c.represented_participant_id.in_(wanted))
    ).all()
    return {r[0] for r in rows}


def represented_by(roll: dict[int, Voter], participant_id: int | None) -> list[Voter]:
    """Whose ballots this participant casts: their own (unless given away) and their proxies'."""
    if participant_id is None:
        return []
    own = roll.get(participant_id)
    out = [own] if own is not None and own.proxy_holder_id is None else []
    out += sorted(
        (v for v in roll.values() if v.proxy_holder_id == participant_id
         and v.participant_id != participant_id),
        key=lambda v: (name_key(v.full_name), v.participant_id),
    )
    return out


def check_right(lookup: Callable[[int], Voter | None], me: int | None, target: int) -> Voter:
    """The voter whose ballot ``me`` may cast for ``target``, or the refusal. ``lookup`` finds
    a voter (a participant with a voting right) by participant id."""
    voter = lookup(target)
    if me is not None and target == me:
        if voter is None:
            raise Forbidden(
                "Bạn không có quyền biểu quyết trong cuộc họp này (no voting right).",
                code="no_voting_right",
            )
        if voter.proxy_holder_id is not None:
            holder = lookup(voter.proxy_holder_id)
            name = holder.full_name if holder else f"#{voter.proxy_holder_id}"
            raise Conflict(
                f"Bạn đã ủy quyền biểu quyết cho {name}; người đó bỏ phiếu thay bạn "
                "(you gave your vote to a proxy holder).",
                code="proxy_given",
                details={"proxy_holder_id": voter.proxy_holder_id},
            )
        return voter
    if me is None and voter is None:
        raise Forbidden(
            "Bạn không có quyền biểu quyết trong cuộc họp này (no voting right).",
            code="no_voting_right",
        )
    if voter is None or me is None or voter.proxy_holder_id != me:
        raise Forbidden(
            f"Bạn không giữ ủy quyền biểu quyết của người dự họp #{target} "
            "(you do not hold this participant's proxy).",
            code="proxy_not_held",
            details={"for_participant_id": target},
        )
    return voter


def _already_voted(target: int) -> Conflict:
    return Conflict(
        "Phiếu này đã được bỏ; không thể bỏ lần nữa (this ballot was already cast).",
        code="already_voted",
        details={"for_participant_id": target},
    )


def has_voted(session: Session, poll: Poll, participant_id: int, ahead: Iterable[int] = ()
              ) -> bool:
    """Whether this represented participant has a ballot in the poll. Read once per batch for
    the participant and those ``ahead`` (the batch's other targets), then kept current by the
    batch's casts (a failed cast drops the whole cache)."""
    cache = batch_cache(session)
    key = ("voted", poll.id)
    if key not in cache:
        cache[key] = (set(), set())
    done, asked = cache[key]
    if participant_id not in asked:
        wanted = {participant_id, *ahead} - asked
        table = PARTICIPATION if poll.secret else BALLOT
        rows = session.connection().execute(
            sa.select(table.c.represented_participant_id).where(
                table.c.poll_id == poll.id, table.c.represented_participant_id.in_(wanted))
        ).all()
        done.update(r[0] for r in rows)
        asked |= wanted
    return participant_id in done


def _mark_voted(session: Session, poll: Poll, participant_id: int) -> None:
    done, asked = batch_cache(session)[("voted", poll.id)]
    done.add(participant_id)
    asked.add(participant_id)


def cast_named(
    session: Session, poll: Poll, voter_id: int, target: Voter, choice: tuple[str, ...],
    ahead: Iterable[int] = (),
) -> bool:
    """Store a named ballot; True when it replaced an earlier one (the poll allows changes).

    A new ballot is written at the end of the batch (``defer_insert``); the unique (poll,
    represented participant) constraint is the guarantee, the set of who voted only spares a
    query per ballot.
    """
    values = {"voter_participant_id": voter_id, "weight": target.weight, "choice": list(choice),
              "cast_at": utcnow()}
    cache = batch_cache(session)
    if has_voted(session, poll, target.participant_id, ahead):
        if not poll.allow_change:
            raise _already_voted(target.participant_id)
        pending = cache.get(("ballot_row", poll.id, target.participant_id))
        if pending is not None:  # cast earlier in this batch, not written yet
            pending.update(values)
        else:  # the last step of the cast: nothing after it can refuse
            session.connection().execute(
                _CHANGE_BALLOT,
                {**values, "b_poll_id": poll.id, "b_represented": target.participant_id},
            )
        return True
    row = {**values, "poll_id": poll.id, "represented_participant_id": target.participant_id}
    defer_insert(session, BALLOT, row)
    cache[("ballot_row", poll.id, target.participant_id)] = row
    _mark_voted(session, poll, target.participant_id)
    return False


def cast_secret(
    session: Session, poll: Poll, voter_id: int, target: Voter, choice: tuple[str, ...],
    ahead: Iterable[int] = (),
) -> None:
    """Record who took part and, apart from it, the anonymous ballot. Nothing links the two:
    within a batch the anonymous ballots are written in the order of their random keys."""
    if has_voted(session, poll, target.participant_id, ahead):
        raise _already_voted(target.participant_id)
    defer_insert(session, PARTICIPATION, {
        "poll_id": poll.id,
        "voter_participant_id": voter_id,
        "represented_participant_id": target.participant_id,
    })
    defer_insert(session, SECRET, {"key": secrets.token_hex(16), "poll_id": poll.id,
                                   "weight": target.weight, "choice": list(choice)},
                 shuffled=True)
    _mark_voted(session, poll, target.participant_id)


def voted(session: Session, poll: Poll) -> dict[int, int]:
    """Represented participant id → the participant who cast that ballot."""
    table = PARTICIPATION if poll.secret else BALLOT
    rows = session.connection().execute(
        sa.select(table.c.represented_participant_id, table.c.voter_participant_id).where(
            table.c.poll_id == poll.id
        )
    ).all()
    return {r[0]: r[1] for r in rows}


def own_choices(session: Session, poll: Poll, represented: Iterable[int]) -> dict[int, list[Any]]:
    """For a named poll, the current choice of each of these represented participants."""
    ids = list(represented)
    if poll.secret or not ids:
        return {}
    rows = session.execute(
        sa.select(BALLOT.c.represented_participant_id, BALLOT.c.choice).where(
            BALLOT.c.poll_id == poll.id, BALLOT.c.represented_participant_id.in_(ids)
        )
    ).all()
    return {r[0]: list(r[1]) for r in rows}


def ballots_of(session: Session, poll: Poll) -> list[CastBallot]:
    """Every ballot of the poll for the tally (secret ones in key order: an aggregate only)."""
    if poll.secret:
        stmt = (
            sa.select(SECRET.c.weight, SECRET.c.choice)
            .where(SECRET.c.poll_id == poll.id)
            .order_by(SECRET.c.key)
        )
    else:
        stmt = (
            sa.select(BALLOT.c.weight, BALLOT.c.choice)
            .where(BALLOT.c.poll_id == poll.id)
            .order_by(BALLOT.c.represented_participant_id)
        )
    return [CastBallot(tuple(r[1]), r[0]) for r in session.execute(stmt).all()]


def named_votes(session: Session, poll: Poll, roll: dict[int, Voter]) -> list[dict[str, Any]]:
    """The named list for the minutes: who voted what (and through whom, for proxies)."""
    rows = session.execute(
        sa.select(
            BALLOT.c.represented_participant_id,
            BALLOT.c.voter_participant_id,
            BALLOT.c.weight,
            BALLOT.c.choice,
        ).where(BALLOT.c.poll_id == poll.id)
    ).all()
    names = participant_names(session, {r[0] for r in rows} | {r[1] for r in rows})
    out = []
    for represented, voter, weight, choice in rows:
        by_proxy = voter != represented
        out.append(
            {
                "participant_id": represented,
                "full_name": names.get(represented, f"#{represented}"),
                "weight": weight,
                "choice": list(choice),
                "cast_by_participant_id": voter if by_proxy else None,
                "cast_by_name": names.get(voter) if by_proxy else None,
            }
        )
    out.sort(key=lambda v: (name_key(v["full_name"]), v["participant_id"]))
    return out


def participant_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(PARTICIPANT.c.id, USER.c.full_name)
        .join(USER, USER.c.id == PARTICIPANT.c.user_id)
        .where(PARTICIPANT.c.id.in_(wanted))
    ).all()
    return {r[0]: r[1] for r in rows}


def rekey_secret_ballots(session: Session, poll_id: int) -> int:
    """Rewrite a closed secret poll's ballots under fresh random keys, in key order.

    PostgreSQL stores rows in the order they were written and stamps each with the writing
    transaction (``xmin``), which a participation row of the same cast shares: rewriting them
    all in one transaction, sorted by new random keys, leaves nothing in the live table that
    follows the order of the casts. (SQLite stores them by key already; the rewrite is harmless.)
    """
    rows = session.execute(
        sa.select(SECRET.c.weight, SECRET.c.choice).where(SECRET.c.poll_id == poll_id)
    ).all()
    session.execute(sa.delete(SECRET).where(SECRET.c.poll_id == poll_id))
    fresh = sorted(
        ({"key": secrets.token_hex(16), "poll_id": poll_id, "weight": r[0], "choice": r[1]}
         for r in rows),
        key=lambda row: str(row["key"]),
    )
    if fresh:
        session.execute(sa.insert(SECRET), fresh)
    return len(fresh)


def present_ids(session: Session, meeting_id: int) -> set[int]:
    """Participants checked in (present) right now."""
    rows = session.execute(
        sa.select(ATTENDANCE.c.participant_id).where(
            ATTENDANCE.c.meeting_id == meeting_id,
            ATTENDANCE.c.checked_out_at.is_(None),
            ATTENDANCE.c.status == "present",
        )
    ).all()
    return {r[0] for r in rows}


def quorum_now(
    roll: dict[int, Voter], present: set[int], rule: quorum_rules.QuorumRule,
    voters: Iterable[int] = (),
) -> quorum_rules.Quorum:
    """The quorum of the roll; whoever cast a ballot (in person or as holder) counts present."""
    members = [
        quorum_rules.Member(v.participant_id, v.weight, v.proxy_holder_id) for v in roll.values()
    ]
    return quorum_rules.compute(members, present | set(voters), rule)
