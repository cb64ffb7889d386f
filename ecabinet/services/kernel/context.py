"""Who is acting in which meeting, and the context a command runs in.

A command runs in one transaction: ``load_actor`` finds the caller's role in the meeting (and,
for commands that change shared state, locks the meeting row so that commands on one meeting
apply one after another on PostgreSQL as they do on SQLite); the service function then changes
rows and calls ``ctx.emit`` for each event, which writes it to the meeting's log with the next
sequence number in the same transaction. The events are published only after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, select

from ecabinet.core.errors import Forbidden, NotFound
from ecabinet.domain.roles import STAFF_ROLES, MeetingRole, MeetingStatus, can_read_meeting
from ecabinet.protocol import REGISTRY, Schema, event
from ecabinet.protocol.roles import Roles
from ecabinet.services.accounts import SessionInfo
from ecabinet.storage.batching import batch_cache
from ecabinet.storage.models import Event, Meeting, Participant, utcnow


@dataclass(frozen=True)
class Actor:
    """The caller as a meeting sees them."""

    user_id: int
    username: str
    full_name: str
    is_admin: bool
    participant_id: int | None
    role: MeetingRole | None
    can_vote: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def has_any(self, roles: Roles) -> bool:
        if "user" in roles or (self.is_admin and "admin" in roles):
            return True
        if self.role is None:
            return False
        return "participant" in roles or self.role.value in roles


class Withheld(Schema):
    """Nothing: what observers get in place of an event they may not know of."""


WITHHELD_TYPE = "event.withheld"
# Pass as ``observer_payload``: observers get ``event.withheld`` in this event's place.
WITHHELD = Withheld()

event(WITHHELD_TYPE, Withheld, audience="meeting",
      sent_by="the server, to observers, in place of a logged event about something they may "
      "not know of (a confidential document)",
      summary="Observers only: the sequence number of an event they may not see, so that their "
      "log stays gap-free; it says nothing of what the event was. Nothing to apply.")


@dataclass(frozen=True)
class OutEvent:
    """An event to publish after the commit. ``seq`` is None for events outside the log."""

    meeting_id: int
    seq: int | None
    type: str
    payload: dict[str, Any]
    audience: str  # "meeting", "staff" or "user:<id>"
    at: datetime
    observer_payload: dict[str, Any] | None = None
    observer_type: str | None = None  # WITHHELD_TYPE: observers may not know of this event

    @property
    def withheld(self) -> bool:
        return self.observer_type == WITHHELD_TYPE

    def envelope(self, *, observer: bool = False) -> dict[str, Any]:
        payload = (
            self.observer_payload
            if observer and self.observer_payload is not None
            else (self.payload)
        )
        return {
            "meeting_id": self.meeting_id,
            "seq": self.seq,
            "type": self.observer_type if observer and self.observer_type else self.type,
            "payload": payload,
            "at": self.at.isoformat(),
        }


def load_actor(
    session: Session, user: SessionInfo, meeting_id: int, *, lock: bool = False
) -> tuple[Meeting, Actor]:
    """The meeting and the caller's place in it; ``NotFound`` when they may not even see it."""
    meeting = session.get(Meeting, meeting_id, with_for_update=lock or None)
    if meeting is None:
        raise NotFound(f"Không tìm thấy cuộc họp #{meeting_id}.", code="meeting_not_found")
    participant = session.exec(
        select(Participant).where(
            Participant.meeting_id == meeting_id, Participant.user_id == user.user_id
        )
    ).first()
    role = MeetingRole(participant.role) if participant else None
    if not can_read_meeting(role, MeetingStatus(meeting.status), is_admin=user.is_admin):
        # The same answer as a missing meeting: outsiders learn nothing about it.
        raise NotFound(f"Không tìm thấy cuộc họp #{meeting_id}.", code="meeting_not_found")
    actor = Actor(
        user_id=user.user_id,
        username=user.username,
        full_name=user.full_name,
        is_admin=user.is_admin,
        participant_id=participant.id if participant else None,
        role=role,
        can_vote=bool(participant and participant.can_vote),
    )
    return meeting, actor


BATCHED = "batched_commands"


def batched_commands(session: Session) -> list[tuple[str, SessionInfo, Any]]:
    """In a batch (``ecabinet.storage.batching``): the batched commands still to run, the
    current one first, as (command name, caller, payload); set by the dispatcher so that a
    command can read ahead for the others in one query. Empty outside a batch."""
    commands: list[tuple[str, SessionInfo, Any]] = batch_cache(session).get(BATCHED, [])
    return commands


def load_actor_cached(
    session: Session, user: SessionInfo, meeting_id: int
) -> tuple[Meeting, Actor]:
    """``load_actor`` for batched commands, no row lock: the meeting is read once per batch
    and the participant rows of all the batch's callers in one query."""
    cache = batch_cache(session)
    key = ("load_actor", meeting_id)
    if key not in cache:
        cache[key] = (session.get(Meeting, meeting_id), {}, set())
    meeting, people, asked = cache[key]
    if meeting is not None and user.user_id not in asked:
        wanted = {user.user_id} | {
            caller.user_id for _name, caller, payload in batched_commands(session)
            if getattr(payload, "meeting_id", None) == meeting_id
        }
        table = Participant.__table__  # type: ignore[attr-defined]
        rows = session.connection().execute(
            sa.select(table.c.user_id, table.c.id, table.c.role, table.c.can_vote).where(
                table.c.meeting_id == meeting_id, table.c.user_id.in_(wanted)
            )
        ).all()
        people.update({r[0]: r for r in rows})
        asked |= wanted
    row = people.get(user.user_id)
    role = MeetingRole(row[2]) if row else None
    if meeting is None or not can_read_meeting(
        role, MeetingStatus(meeting.status), is_admin=user.is_admin
    ):
        raise NotFound(f"Không tìm thấy cuộc họp #{meeting_id}.", code="meeting_not_found")
    actor = Actor(
        user_id=user.user_id,
        username=user.username,
        full_name=user.full_name,
        is_admin=user.is_admin,
        participant_id=row[1] if row else None,
        role=role,
        can_vote=bool(row and row[3]),
    )
    return meeting, actor


def cached_participant_id(session: Session, meeting_id: int, user_id: int) -> int | None:
    """The participant id of a caller of this batch (after ``load_actor_cached``), if known."""
    entry = batch_cache(session).get(("load_actor", meeting_id))
    row = entry[1].get(user_id) if entry else None
    return int(row[1]) if row else None


def require_roles(actor: Actor, roles: Roles, action: str) -> None:
    if not actor.has_any(roles):
        allowed = ", ".join(sorted(roles))
        raise Forbidden(
            f"Vai trò của bạn không được phép thực hiện '{action}' (allowed: {allowed}).",
            code="forbidden_role",
            details={"action": action, "allowed": sorted(roles)},
        )


def next_seq(session: Session, meeting_id: int) -> int:
    """Take the meeting's next sequence number (the row stays locked until the commit)."""
    table = Meeting.__table__  # type: ignore[attr-defined]
    seq: int = session.execute(
        sa.update(table)
        .where(table.c.id == meeting_id)
        .values(last_seq=table.c.last_seq + 1)
        .returning(table.c.last_seq)
    ).scalar_one()
    return seq


def make_event(
    session: Session,
    meeting_id: int,
    type_: str,
    payload: BaseModel | dict[str, Any],
    *,
    actor_id: int | None,
    user_id: int | None = None,
    observer_payload: BaseModel | dict[str, Any] | None = None,
) -> OutEvent:
    """Validate an event against its declared schema; log it when its type is logged.

    ``observer_payload``: what observers get instead (None: the same; ``WITHHELD``: an
    ``event.withheld`` in its place, nothing when the event is not logged)."""
    spec = REGISTRY.events.get(type_)
    if spec is None:
        raise KeyError(f"event type {type_!r} is not declared in ecabinet.protocol")
    body = _checked(spec.schema, payload)
    observer_type = None
    if observer_payload is WITHHELD:
        hidden: dict[str, Any] | None = {}
        observer_type = WITHHELD_TYPE
    else:
        hidden = _checked(spec.schema, observer_payload) if observer_payload is not None else None
    audience = spec.audience
    if audience == "user":
        if user_id is None:
            raise ValueError(f"event {type_} goes to one user: pass user_id")
        audience_key = f"user:{user_id}"
    else:
        audience_key = audience
    at = utcnow()
    seq = None
    if spec.logged:
        if audience != "meeting":
            raise ValueError(f"event {type_}: only meeting-wide events are logged")
        seq = next_seq(session, meeting_id)
        session.add(
            Event(
                meeting_id=meeting_id,
                seq=seq,
                type=type_,
                payload=body,
                observer_payload=hidden,
                observer_type=observer_type,
                actor_id=actor_id,
                created_at=at,
            )
        )
    return OutEvent(meeting_id, seq, type_, body, audience_key, at, hidden, observer_type)


def _checked(schema: type[BaseModel], payload: BaseModel | dict[str, Any]) -> dict[str, Any]:
    model = (
        payload
        if isinstance(payload, schema)
        else schema.model_validate(
            payload.model_dump() if isinstance(payload, BaseModel) else payload
        )
    )
    return model.model_dump(mode="json")


@dataclass
class CommandContext:
    """What a command's service function gets besides the session and its payload."""

    session: Session
    meeting: Meeting
    actor: Actor
    events: list[OutEvent] = field(default_factory=list)
    # Live views to refresh after the commit (name, key): coalesced, not one event per command.
    touched: set[tuple[str, Any]] = field(default_factory=set)

    def touch(self, view: str, key: Any) -> None:
        """Ask for the live view ``view`` (see ``services.kernel.refresh``) to be re-sent."""
        self.touched.add((view, key))

    def emit(
        self,
        type_: str,
        payload: BaseModel | dict[str, Any],
        *,
        user_id: int | None = None,
        observer_payload: BaseModel | dict[str, Any] | None = None,
    ) -> OutEvent:
        assert self.meeting.id is not None
        out = make_event(
            self.session,
            self.meeting.id,
            type_,
            payload,
            actor_id=self.actor.user_id,
            user_id=user_id,
            observer_payload=observer_payload,
        )
        self.events.append(out)
        return out
