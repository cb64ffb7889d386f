"""SQLModel tables for the whole domain as far as it is known.

Conventions: integer surrogate keys; timestamps are timezone-aware UTC (``utcnow``); enumerations
are stored as short strings; free-form structures (annotation geometry, poll options, event
payloads) are JSON. The same tables run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# The tables' default timestamps; re-exported (the services import it from here).
from ecabinet.core.clock import utcnow as utcnow


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type and would silently drop the offset (08:00+07:00 would come back
    as 08:00); converting to UTC before storing keeps instants exact there and on PostgreSQL.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: ecabinet stores only time-zone-aware instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False) -> Any:
    return sa.Column(UTCDateTime(), nullable=nullable)


def _json(nullable: bool = False) -> Any:
    return sa.Column(sa.JSON, nullable=nullable)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    is_active: bool = True
    locale: str = Field(default="vi", max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuthSession(SQLModel, table=True):
    """A server-side sign-in session. The client holds a random token; we keep only its hash."""

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    kind: str = Field(default="cookie", max_length=16)  # cookie (browser) or token (API client)
    user_agent: str = Field(default="", max_length=300)
    address: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Body(SQLModel, table=True):
    """A deliberative body (committee, People's Committee, board) and its rules of procedure."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = ""
    # Quorum: present members must exceed (strict) or reach this fraction of all members.
    quorum_numerator: int = 1
    quorum_denominator: int = 2
    quorum_strict: bool = True
    default_majority: str = Field(default="simple_cast", max_length=32)


class BodyMember(SQLModel, table=True):
    __tablename__ = "body_member"
    __table_args__ = (sa.UniqueConstraint("body_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="body.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    title: str = Field(default="", max_length=200)
    # "member" (counts for the quorum and may vote) or "secretary" (prepares the body's meetings).
    role: str = Field(default="member", max_length=16)


class Meeting(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    body_id: int | None = Field(default=None, foreign_key="body.id", index=True)
    title: str = Field(max_length=300)
    description: str = ""
    place: str = Field(default="", max_length=300)
    starts_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    ends_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    status: str = Field(default="draft", max_length=16, index=True)
    pack_version: int = 0
    # The last sequence number handed out in this meeting's event log (gap-free, per meeting).
    last_seq: int = 0
    # Live state, changed only through services that also append to the event log.
    current_item_id: int | None = None
    live_state: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Participant(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("meeting_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    role: str = Field(max_length=16)
    can_vote: bool = False
    vote_weight: int = 1
    # Set when this participant's vote is carried by another participant (a proxy).
    proxy_holder_id: int | None = Field(default=None, foreign_key="participant.id")


class AgendaItem(SQLModel, table=True):
    __tablename__ = "agenda_item"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="agenda_item.id")
    position: int = 0
    title: str = Field(max_length=500)
    presenter: str = Field(default="", max_length=200)
    description: str = ""
    planned_minutes: int | None = None
    confidential: bool = False
    vote_planned: bool = False


class Blob(SQLModel, table=True):
    """A stored file, addressed by the SHA-256 of its bytes: stored once, shared by documents."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    media_type: str = Field(max_length=100)
    page_count: int | None = None
    status: str = Field(default="pending", max_length=16)  # pending, rendering, ready, failed
    error: str | None = None
    pages_ready: int = 0  # pages with every rendition on disk (updated as rendering goes)
    # [[width, height], ...] in points, so clients can lay pages out before any image arrives.
    page_sizes: list[Any] | None = Field(default=None, sa_column=_json(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Document(SQLModel, table=True):
    """A file as it belongs to a meeting (title, confidentiality, version chain)."""

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    blob_sha256: str = Field(foreign_key="blob.sha256", max_length=64, index=True)
    title: str = Field(max_length=300)
    filename: str = Field(max_length=255)
    # Sticky: set when the document is marked so or attached to a confidential item (now or
    # ever), shared by every version of it; lowered only by an audited declassification.
    confidential: bool = False
    # Bumped at each change of confidentiality: part of every content URL and ETag, so that a
    # copy kept under the old URL is never taken for the current one.
    access_version: int = 1
    version: int = 1
    replaces_id: int | None = Field(default=None, foreign_key="document.id")
    replaced_by_id: int | None = None
    uploaded_by: int | None = Field(default=None, foreign_key="user_account.id")
    # SHA-256 of the file as received (a Word file, an encrypted PDF), before conversion.
    source_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AgendaItemDocument(SQLModel, table=True):
    __tablename__ = "agenda_item_document"
    __table_args__ = (sa.UniqueConstraint("agenda_item_id", "document_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agenda_item_id: int = Field(foreign_key="agenda_item.id", index=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    position: int = 0


class Annotation(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("author_id", "uid"),)

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=64)  # chosen by the client, so offline creations can be replayed
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    page: int
    author_id: int = Field(foreign_key="user_account.id", index=True)
    kind: str = Field(max_length=16)  # ink, highlight, note, text
    visibility: str = Field(default="private", max_length=16)  # private, shared, staff
    data: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    version: int = 1
    deleted: bool = False
    # Set when a replaced document's text no longer holds this annotation's anchor.
    orphaned_from_document_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Poll(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id")
    question: str
    kind: str = Field(max_length=16)  # yes_no_abstain, single, multiple
    options: list[Any] = Field(default_factory=list, sa_column=_json())
    max_choices: int = 1
    secret: bool = False
    rule: str = Field(default="simple_cast", max_length=32)
    abstentions_count: bool = False
    allow_change: bool = False
    status: str = Field(default="draft", max_length=16)  # draft, open, closed, published, cancelled
    opened_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))


class Ballot(SQLModel, table=True):
    """A named ballot: who voted (for whom, when a proxy) and what."""

    __table_args__ = (sa.UniqueConstraint("poll_id", "represented_participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    voter_participant_id: int = Field(foreign_key="participant.id")
    represented_participant_id: int = Field(foreign_key="participant.id")
    weight: int = 1
    choice: list[Any] = Field(default_factory=list, sa_column=_json())
    cast_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class SecretBallot(SQLModel, table=True):
    """An anonymous ballot: no voter, no time, a random key so that row order links nothing.

    On SQLite the table has no rowid (rows live in the order of their random keys, not of their
    insertion); PostgreSQL keeps heap rows in insertion order, so closing a poll rewrites its
    secret ballots under fresh keys (docs/voting.md).
    """

    __tablename__ = "secret_ballot"
    __table_args__ = {"sqlite_with_rowid": False}

    key: str = Field(primary_key=True, max_length=32)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    weight: int = 1
    choice: list[Any] = Field(default_factory=list, sa_column=_json())


class PollParticipation(SQLModel, table=True):
    """Who took part in a secret poll, kept apart from the anonymous ballots."""

    __tablename__ = "poll_participation"
    __table_args__ = (sa.UniqueConstraint("poll_id", "represented_participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    voter_participant_id: int = Field(foreign_key="participant.id")
    represented_participant_id: int = Field(foreign_key="participant.id")


class Attendance(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    checked_in_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    checked_out_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    marked_by: int | None = Field(default=None, foreign_key="user_account.id")
    # One row per period: "present" (checked in) or "excused" (marked absent with a reason).
    status: str = Field(default="present", max_length=16)
    note: str = Field(default="", max_length=300)
    closed_by: int | None = Field(default=None, foreign_key="user_account.id")


class SpeakerRequest(SQLModel, table=True):
    __tablename__ = "speaker_request"

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    agenda_item_id: int | None = Field(default=None, foreign_key="agenda_item.id")
    participant_id: int = Field(foreign_key="participant.id", index=True)
    status: str = Field(
        default="waiting", max_length=16
    )  # waiting, speaking, done, withdrawn, refused
    position: int = 0
    requested_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    limit_seconds: int | None = None  # the speaking time the chair granted, if limited
    note: str = Field(default="", max_length=300)  # the chair's reason when refused
    requested_by: int | None = Field(default=None, foreign_key="user_account.id")


class Event(SQLModel, table=True):
    """The append-only per-meeting event log; (meeting_id, seq) is gap-free from 1."""

    __tablename__ = "meeting_event"

    meeting_id: int = Field(foreign_key="meeting.id", primary_key=True)
    seq: int = Field(primary_key=True)
    type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    # What observers receive instead, when the payload holds confidential content.
    observer_payload: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    # The event type observers receive instead (``event.withheld``: one they may not know of).
    observer_type: str | None = Field(default=None, max_length=64)
    actor_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CommandReceipt(SQLModel, table=True):
    """The answer to a command, kept so that a retried command (same client id) is applied once."""

    __tablename__ = "command_receipt"
    __table_args__ = (sa.UniqueConstraint("user_id", "client_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id")
    client_id: str = Field(max_length=64)
    command: str = Field(max_length=64)
    response: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AuditRecord(SQLModel, table=True):
    """Append-only audit trail; each record's hash covers the previous record's hash."""

    __tablename__ = "audit_record"

    id: int | None = Field(default=None, primary_key=True)
    # 1, 2, 3, ... with no gaps: a removed record shows as a gap even where hashes were redone.
    seq: int = Field(unique=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    actor_id: int | None = None
    address: str = Field(default="", max_length=64)
    action: str = Field(max_length=64)
    subject: str = Field(default="", max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def _never_reuse_ids() -> None:
    # Ids name rows in live state, socket rooms, event logs and the audit trail. SQLite gives a
    # deleted row's rowid to the next insert unless the table is AUTOINCREMENT (PostgreSQL's
    # sequences never go back): so every table keyed by one integer id is, here in one place,
    # so that a table added later cannot forget it (tests/test_ids.py checks the migrated schema).
    for table in SQLModel.metadata.tables.values():
        if [column.name for column in table.primary_key.columns] == ["id"]:
            table.dialect_kwargs["sqlite_autoincrement"] = True


_never_reuse_ids()
