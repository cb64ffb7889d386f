"""Anchors: the chain's head written down outside the database, one ``SEQ:HASH  time`` a line.

A head kept outside the database is what shows that records were cut from the end, or that the
whole chain was redone: the chain alone cannot tell. The trail anchors itself every
``ANCHOR_EVERY`` records and at its first keyed record, ``current_anchor`` (printed in the
minutes, ``ecabinet audit head``) adds the head it gives out, and ``verify`` checks every line.

Lines are appended after the transaction that wrote the records commits (an anchor must never
name a record that was rolled back), under an exclusive lock (several server processes share
the file), and fsynced. A failure to write one is logged, never raised: the action it followed
is committed and answered already.
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ecabinet.core.clock import utcnow
from ecabinet.core.logs import get_logger
from ecabinet.services.audit.keying import engine_of, keying_of
from ecabinet.storage.models import AuditRecord

log = get_logger(__name__)
# Every 10 records: a day of a busy body writes a few thousand records (sign-ins, confidential
# page views, polls), so a few hundred short lines; and at most 9 of the newest records can be
# cut without an anchor naming one of them (fewer when a head was printed since).
ANCHOR_EVERY = 10
_LINE = re.compile(r"^(\d+):([0-9a-f]{64})  (\S+)$")
_PENDING = "ecabinet.audit.anchors"
_LISTENING = "ecabinet.audit.listening"


@dataclass(frozen=True)
class Anchor:
    """A record's number and hash as kept outside the database, and when they were written."""

    seq: int
    hash: str
    at: str = ""

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def append(path: Path, anchor: Anchor) -> None:
    line = f"{anchor.seq}:{anchor.hash}  {anchor.at}\n".encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # also releases the lock


def read(path: Path) -> tuple[list[tuple[int, Anchor]], list[int]] | None:
    """The anchors of the log with their line numbers, and the numbers of unreadable lines;
    None when there is no log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    anchors, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match:
            anchors.append((number, Anchor(int(match[1]), match[2], match[3])))
        elif line.strip():
            bad.append(number)
    return anchors, bad


def now() -> str:
    return utcnow().isoformat(timespec="seconds")


def after_commit(session: Session, anchor: Anchor) -> None:
    """Append ``anchor`` to the log once ``session`` commits, if its record is still there then.

    The record is read again after the commit: one written inside a savepoint that was rolled
    back (a batched write) is not in the chain, and its number may belong to another record.
    """
    keying = keying_of(session)
    if _LISTENING not in session.info:
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _write)
        event.listen(session, "after_rollback", _forget)
    _engine, _keying, pending = session.info.setdefault(
        _PENDING, (engine_of(session), keying, [])
    )
    pending.append(anchor)


def _write(session: Session) -> None:
    # A savepoint's RELEASE is a "commit" too: wait for the transaction itself.
    if session.in_nested_transaction() or _PENDING not in session.info:
        return
    engine, keying, wanted = session.info.pop(_PENDING)
    try:
        stored = _stored(engine, {anchor.seq for anchor in wanted})
        for anchor in wanted:
            if stored.get(anchor.seq) == anchor.hash:
                append(keying.anchor_log, anchor)
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        log.warning("audit.anchor_failed", path=str(keying.anchor_log), error=str(exc))


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


def _stored(engine: Engine, seqs: set[int]) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditRecord.seq, AuditRecord.hash).where(col(AuditRecord.seq).in_(seqs))
        ).all()
    return {seq: digest for seq, digest in rows}
