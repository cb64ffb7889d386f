"""Reading one record of the trail back by its number."""

from __future__ import annotations

from sqlmodel import Session, select

from ecabinet.storage.models import AuditRecord


def record_at(session: Session, seq: int) -> AuditRecord | None:
    """The record numbered ``seq`` (1, 2, 3... in the order written), or None."""
    return session.exec(select(AuditRecord).where(AuditRecord.seq == seq)).first()
