"""Checking the trail: the chain record by record, then every anchor kept outside the database.

A record passes when its hash is the keyed HMAC of its contents, or, before the first keyed
record only, their plain SHA-256 (records written before the chain was keyed). A plain hash
after that is a record changed by someone without the key. The chain alone cannot show records
cut from its end, nor a chain redone whole as if it had never been keyed: the anchors can, each
line of the log naming a record that must still be there with the same hash.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from ecabinet.services.audit import anchors
from ecabinet.services.audit.anchors import Anchor
from ecabinet.services.audit.keying import (
    GENESIS,
    Keying,
    contents,
    keyed_digest,
    keying_of,
    plain_digest,
)
from ecabinet.storage.models import AuditRecord


@dataclass(frozen=True)
class Problem:
    """A break in the trail: the record it is about (None: the anchor log itself) and why."""

    seq: int | None
    message: str


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    records: int = 0
    head: tuple[int, str] = (0, GENESIS)
    keyed_from: int | None = None  # the first keyed record; those before it are unkeyed
    anchor_log: Path | None = None
    anchors_checked: int = 0
    last_anchor: Anchor | None = None  # the highest anchor found to match


def _chain(keying: Keying, rows: list[AuditRecord], report: Report) -> None:
    problems = report.problems
    expected_seq, prev_hash = 1, GENESIS
    for row in rows:
        if row.seq != expected_seq:
            problems.append(Problem(row.seq, f"records {expected_seq}–{row.seq - 1} are missing"))
        if row.prev_hash != prev_hash:
            problems.append(Problem(row.seq, "does not follow the previous record (prev_hash)"))
        payload = contents(row)
        if hmac.compare_digest(keyed_digest(keying.key, payload), row.hash):
            if report.keyed_from is None:
                report.keyed_from = row.seq
        elif plain_digest(payload) != row.hash:
            problems.append(Problem(row.seq, "contents changed after it was written (hash)"))
        elif report.keyed_from is not None:
            problems.append(
                Problem(
                    row.seq,
                    "hashed without the key after the chain was keyed at record "
                    f"{report.keyed_from}: forged, or changed and its hash redone",
                )
            )
        expected_seq, prev_hash = row.seq + 1, row.hash


def _anchors(keying: Keying, rows: list[AuditRecord], report: Report) -> None:
    path = keying.anchor_log
    found = anchors.read(path)
    entries, bad = found if found is not None else ([], [])
    if not entries and report.keyed_from is not None:
        report.problems.append(
            Problem(
                None,
                f"no anchors in {path}, though the chain is keyed from record "
                f"{report.keyed_from}: the log was removed or emptied, or "
                "ECABINET_AUDIT_ANCHOR_LOG points elsewhere",
            )
        )
    for number in bad:
        report.problems.append(Problem(None, f"{path} line {number} is not `SEQ:HASH  time`"))
    by_seq = {row.seq: row for row in rows}
    last_seq = rows[-1].seq if rows else 0
    seen: set[tuple[int, str]] = set()
    for number, anchor in entries:
        if (anchor.seq, anchor.hash) in seen or anchor.seq == 0:
            continue
        seen.add((anchor.seq, anchor.hash))
        where = f"anchored {anchor.at} ({path.name} line {number})"
        row = by_seq.get(anchor.seq)
        if row is None:
            cut = f"; the trail now ends at record {last_seq}" if anchor.seq > last_seq else ""
            report.problems.append(Problem(anchor.seq, f"is missing, {where}{cut}"))
        elif not hmac.compare_digest(row.hash, anchor.hash):
            redone = plain_digest(contents(row)) == row.hash
            report.problems.append(
                Problem(
                    anchor.seq,
                    f"does not match its anchor, {where}"
                    + ("; its hash was redone without the key" if redone else ""),
                )
            )
        else:
            report.anchors_checked += 1
            if report.last_anchor is None or anchor.seq >= report.last_anchor.seq:
                report.last_anchor = anchor


def _expected(rows: list[AuditRecord], expect: tuple[int, str], report: Report) -> None:
    seq, digest = expect
    last_seq = rows[-1].seq if rows else 0
    if last_seq < seq:
        report.problems.append(
            Problem(
                last_seq + 1,
                f"records after {last_seq} up to {seq} are "
                "missing (the trail is shorter than its anchored head)",
            )
        )
        return
    anchored = next((r for r in rows if r.seq == seq), None)
    if anchored is None or anchored.hash != digest:
        report.problems.append(Problem(seq, "does not match the anchored head hash"))


def check(session: Session, expect: tuple[int, str] | None = None) -> Report:
    """Verify the chain and every anchor of the log (and ``expect``, a head kept elsewhere)."""
    keying = keying_of(session)
    rows = list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())  # type: ignore[arg-type]
    report = Report(records=len(rows), anchor_log=keying.anchor_log)
    if rows:
        report.head = (rows[-1].seq, rows[-1].hash)
    _chain(keying, rows, report)
    _anchors(keying, rows, report)
    if expect is not None:
        _expected(rows, expect, report)
    return report


def verify(session: Session, expect: tuple[int, str] | None = None) -> list[Problem]:
    """Every break in the trail: changed, removed, inserted or forged records, a cut tail."""
    return check(session, expect).problems
