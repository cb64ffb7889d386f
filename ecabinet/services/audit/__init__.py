"""The audit trail: append-only records, each chained to the previous one by a SHA-256 hash.

``record`` appends in the caller's transaction. ``verify`` recomputes the chain and reports every
changed, removed or re-ordered record. A record removed from the end leaves the chain intact, so
``head`` gives the latest (seq, hash) to anchor outside the database (printed in the minutes,
kept by the secretary); ``verify(expect=...)`` then detects a shortened trail too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ecabinet.storage.models import AuditRecord, utcnow

GENESIS = "0" * 64
# Actions recorded (stable names; docs/security.md lists them).
SIGNIN_OK = "signin.ok"
SIGNIN_FAILED = "signin.failed"
SIGNOUT_ALL = "signout.everywhere"
ROLE_CHANGED = "participant.role_changed"
CONFIDENTIAL_VIEW = "document.confidential_view"
DOWNLOAD = "document.download"
EXPORT = "export"
POLL_OPENED = "poll.opened"
POLL_CLOSED = "poll.closed"
POLL_PUBLISHED = "poll.published"
POLL_CANCELLED = "poll.cancelled"


def _digest(
    seq: int,
    at: datetime,
    actor_id: int | None,
    address: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, at.isoformat(), actor_id, address, action, subject, details, prev_hash],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain(session: Session) -> None:
    """Appends must see the true last record: serialise them (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7311)"))


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None = None,
    subject: str = "",
    details: dict[str, Any] | None = None,
    address: str = "",
) -> AuditRecord:
    """Append one record in the caller's transaction."""
    _lock_chain(session)
    last = session.exec(
        select(AuditRecord)
        .order_by(AuditRecord.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    seq = (last.seq + 1) if last else 1
    prev_hash = last.hash if last else GENESIS
    # Round-trip through JSON so the hash covers exactly what the database will return.
    body = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    at = utcnow()
    row = AuditRecord(
        seq=seq,
        at=at,
        actor_id=actor_id,
        address=address[:64],
        action=action,
        subject=subject[:200],
        details=body,
        prev_hash=prev_hash,
        hash=_digest(seq, at, actor_id, address[:64], action, subject[:200], body, prev_hash),
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str


def head(session: Session) -> tuple[int, str]:
    last = session.exec(
        select(AuditRecord)
        .order_by(AuditRecord.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def verify(session: Session, expect: tuple[int, str] | None = None) -> list[Problem]:
    """Every break in the chain: changed contents, removed or inserted records, a short tail."""
    problems: list[Problem] = []
    expected_seq, prev_hash = 1, GENESIS
    rows = session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all()  # type: ignore[arg-type]
    for row in rows:
        if row.seq != expected_seq:
            problems.append(Problem(row.seq, f"records {expected_seq}–{row.seq - 1} are missing"))
        if row.prev_hash != prev_hash:
            problems.append(Problem(row.seq, "does not follow the previous record (prev_hash)"))
        again = _digest(
            row.seq,
            row.at,
            row.actor_id,
            row.address,
            row.action,
            row.subject,
            row.details,
            row.prev_hash,
        )
        if again != row.hash:
            problems.append(Problem(row.seq, "contents changed after it was written (hash)"))
        expected_seq, prev_hash = row.seq + 1, row.hash
    if expect is not None:
        seq, digest = expect
        last_seq = rows[-1].seq if rows else 0
        if last_seq < seq:
            problems.append(
                Problem(
                    last_seq + 1,
                    f"records after {last_seq} up to {seq} are "
                    "missing (the trail is shorter than its anchored head)",
                )
            )
        else:
            anchored = next((r for r in rows if r.seq == seq), None)
            if anchored is None or anchored.hash != digest:
                problems.append(Problem(seq, "does not match the anchored head hash"))
    return problems
