"""Writing the trail: one record at a time, in the caller's transaction, chained to the last."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ecabinet.core.clock import utcnow
from ecabinet.services.audit import anchors
from ecabinet.services.audit.anchors import ANCHOR_EVERY, Anchor
from ecabinet.services.audit.keying import (
    GENESIS,
    canonical,
    is_keyed,
    keyed_digest,
    keying_of,
)
from ecabinet.storage.models import AuditRecord


def _lock_chain(session: Session) -> None:
    """Appends must see the true last record: serialise them (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7311)"))


def _last(session: Session) -> AuditRecord | None:
    return session.exec(
        select(AuditRecord)
        .order_by(AuditRecord.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None = None,
    subject: str = "",
    details: dict[str, Any] | None = None,
    address: str = "",
) -> AuditRecord:
    """Append one record in the caller's transaction, its hash keyed with the server secret."""
    keying = keying_of(session)
    _lock_chain(session)
    last = _last(session)
    seq = (last.seq + 1) if last else 1
    prev_hash = last.hash if last else GENESIS
    # Round-trip through JSON so the hash covers exactly what the database will return.
    body = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    at = utcnow()
    address, subject = address[:64], subject[:200]
    payload = canonical(seq, at, actor_id, address, action, subject, body, prev_hash)
    row = AuditRecord(
        seq=seq,
        at=at,
        actor_id=actor_id,
        address=address,
        action=action,
        subject=subject,
        details=body,
        prev_hash=prev_hash,
        hash=keyed_digest(keying.key, payload),
    )
    session.add(row)
    session.flush()
    # The first keyed record (of a new trail, or right after records written without the key)
    # is anchored too: where the keyed chain begins can then not be moved unseen.
    if seq % ANCHOR_EVERY == 0 or last is None or not is_keyed(keying, last):
        anchors.after_commit(session, Anchor(seq, row.hash, anchors.now()))
    return row


def head(session: Session) -> tuple[int, str]:
    """The latest record's number and hash; ``(0, GENESIS)`` for an empty trail."""
    last = _last(session)
    return (last.seq, last.hash) if last else (0, GENESIS)


def current_anchor(session: Session) -> Anchor:
    """The head to print where it is kept outside the database (the minutes of a meeting,
    ``ecabinet audit head``); it also goes into the anchor log once the transaction commits.

    ``str(anchor)`` is ``SEQ:HASH``, what ``ecabinet audit verify --expect`` takes.
    """
    seq, digest = head(session)
    anchor = Anchor(seq, digest, anchors.now())
    if seq:
        anchors.after_commit(session, anchor)
    return anchor
