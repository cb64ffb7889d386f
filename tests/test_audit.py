"""The audit trail: a chain keyed with the server's secret, anchored outside the database."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from starlette.testclient import TestClient

from ecabinet.services import audit
from ecabinet.storage.models import AuditRecord
from tests.conftest import PASSWORD

ANCHOR_LINE = re.compile(r"^(\d+):([0-9a-f]{64})  (\S+)$")


def _fill(app: Any, n: int = 5) -> None:
    for i in range(n):
        app.runtime.db.run_sync(audit.record, audit.POLL_OPENED, actor_id=None,
                                subject=f"poll:{i}", details={"câu hỏi": f"Biểu quyết {i}"})


def _anchor_log(app: Any) -> Path:
    path: Path = app.runtime.settings.audit_anchor_log
    return path


def _anchors(app: Any) -> list[tuple[int, str]]:
    path = _anchor_log(app)
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = ANCHOR_LINE.match(line)
        assert match, line
        found.append((int(match[1]), match[2]))
    return found


def _plain_sha256(row: AuditRecord) -> str:
    """The hash as written before the chain was keyed (anyone can compute it: no secret)."""
    canonical = json.dumps(
        [row.seq, row.at.isoformat(), row.actor_id, row.address, row.action, row.subject,
         row.details, row.prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _rewrite_plain(
    session: Session, from_seq: int, change: dict[str, Any], to_seq: int | None = None
) -> None:
    """What someone with write access to the database (and not the key) can do: change a record
    and redo the hashes from there on (to the end, or to ``to_seq``) with plain SHA-256, so that
    the chain is consistent."""
    rows = session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all()  # type: ignore[arg-type]
    prev = None
    for row in rows:
        if from_seq <= row.seq <= (to_seq or row.seq):
            if row.seq == from_seq:
                for key, value in change.items():
                    setattr(row, key, value)
            if prev is not None:
                row.prev_hash = prev.hash
            row.hash = _plain_sha256(row)
            session.add(row)
            session.flush()
        prev = row


def _verify(app: Any, expect: tuple[int, str] | None = None) -> list[audit.Problem]:
    problems: list[audit.Problem] = app.runtime.db.run_sync(audit.verify, expect)
    return problems


def test_an_untouched_trail_verifies(app: Any) -> None:
    _fill(app)
    assert _verify(app) == []
    seq, digest = app.runtime.db.run_sync(audit.head)
    assert seq == 5 and len(digest) == 64
    assert _verify(app, (seq, digest)) == []


def test_a_changed_record_is_detected(app: Any) -> None:
    _fill(app)
    with app.runtime.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_record SET subject = 'poll:99' WHERE seq = 3"))
    assert [(p.seq, "hash" in p.message) for p in _verify(app)] == [(3, True)]


def test_a_removed_record_is_detected(app: Any) -> None:
    _fill(app)
    with app.runtime.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq = 2"))
    problems = _verify(app)
    assert {p.seq for p in problems} == {3}
    assert any("missing" in p.message for p in problems)


def test_removing_the_newest_records_is_caught_by_the_anchored_head(app: Any) -> None:
    _fill(app)
    anchored = app.runtime.db.run_sync(audit.head)
    with app.runtime.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq >= 4"))
    assert _verify(app) == []  # no anchor in the log covers records 4 and 5 yet
    assert _verify(app, anchored)[0].message.startswith("records after 3 up to 5 are missing")


def test_a_forged_record_with_a_plain_sha256_is_detected(app: Any) -> None:
    _fill(app)
    app.runtime.db.run_sync(_rewrite_plain, 3, {"subject": "poll:99"})
    problems = _verify(app)
    assert problems and {p.seq for p in problems} >= {3, 4, 5}
    assert "without the key" in problems[0].message and problems[0].seq == 3


def test_an_inserted_record_is_detected(app: Any) -> None:
    _fill(app)

    def insert(session: Session) -> None:
        rows = session.exec(select(AuditRecord).order_by(AuditRecord.seq.desc())).all()  # type: ignore[attr-defined]
        for row in rows:  # from the end, so that seq stays unique
            if row.seq >= 3:
                row.seq += 1
                session.add(row)
                session.flush()
        before = next(r for r in rows if r.seq == 2)
        forged = AuditRecord(seq=3, at=datetime.now(UTC), action=audit.EXPORT,
                             subject="meeting:1", details={}, prev_hash=before.hash, hash="")
        forged.hash = _plain_sha256(forged)
        session.add(forged)

    app.runtime.db.run_sync(insert)
    problems = _verify(app)
    assert problems[0].seq == 3
    assert {p.seq for p in problems} >= {3, 4}


def test_another_secret_key_does_not_verify_the_chain(app: Any) -> None:
    _fill(app, 3)
    engine = app.runtime.db.engine
    audit.configure(engine, secret_key="another-secret-key-0123456789",
                    anchor_log=_anchor_log(app))
    try:
        assert {p.seq for p in _verify(app)} == {1, 2, 3}
    finally:
        audit.configure(engine, secret_key=app.runtime.settings.secret_key,
                        anchor_log=_anchor_log(app))
    assert _verify(app) == []


def test_records_written_before_the_chain_was_keyed_still_verify(app: Any) -> None:
    def legacy(session: Session) -> None:
        prev = "0" * 64
        for i in range(1, 4):
            row = AuditRecord(seq=i, at=datetime(2026, 1, i, tzinfo=UTC), action=audit.EXPORT,
                              subject=f"meeting:{i}", details={"cũ": i}, prev_hash=prev, hash="")
            row.hash = _plain_sha256(row)
            session.add(row)
            session.flush()
            prev = row.hash

    app.runtime.db.run_sync(legacy)
    _fill(app, 2)
    report = app.runtime.db.run_sync(audit.check)
    assert report.problems == [] and report.records == 5 and report.keyed_from == 4
    # The first keyed record is anchored at once: the cut-over cannot be moved unseen.
    assert [seq for seq, _ in _anchors(app)] == [4]
    # The keyed record after them holds the legacy records: redo them and it does not follow.
    app.runtime.db.run_sync(_rewrite_plain, 2, {"subject": "meeting:99"}, 3)
    assert [(p.seq, "prev_hash" in p.message) for p in _verify(app)] == [(4, True)]
    # Redo everything as if the chain had never been keyed: the anchor of record 4 tells.
    app.runtime.db.run_sync(_rewrite_plain, 4, {})
    problems = _verify(app)
    assert [p.seq for p in problems] == [4] and "anchor" in problems[0].message


def test_the_head_is_anchored_every_few_records_outside_the_database(app: Any) -> None:
    _fill(app, 2 * audit.ANCHOR_EVERY + 1)
    heads = app.runtime.db.run_sync(
        lambda s: {r.seq: r.hash for r in s.exec(select(AuditRecord)).all()})
    anchors = _anchors(app)
    assert [seq for seq, _ in anchors] == [1, audit.ANCHOR_EVERY, 2 * audit.ANCHOR_EVERY]
    assert all(heads[seq] == digest for seq, digest in anchors)
    assert _anchor_log(app).parent == app.runtime.settings.data_dir
    report = app.runtime.db.run_sync(audit.check)
    assert report.problems == [] and report.anchors_checked == 3
    assert report.last_anchor is not None and report.last_anchor.seq == 2 * audit.ANCHOR_EVERY


def test_only_committed_records_are_anchored(app: Any) -> None:
    def rolled_back(session: Session) -> None:
        audit.record(session, audit.EXPORT, subject="meeting:1")  # the first: due an anchor
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        app.runtime.db.run_sync(rolled_back)
    assert _anchors(app) == []

    def savepoint_then_again(session: Session) -> str:
        try:
            with session.begin_nested():
                audit.record(session, audit.EXPORT, subject="meeting:2")
                raise RuntimeError("savepoint rolled back")
        except RuntimeError:
            pass
        return audit.record(session, audit.EXPORT, subject="meeting:3").hash

    kept = app.runtime.db.run_sync(savepoint_then_again)
    assert _anchors(app) == [(1, kept)]  # the record of the savepoint had number 1 too
    assert _verify(app) == []


def test_the_current_anchor_is_the_head_and_goes_into_the_log(app: Any) -> None:
    _fill(app, 3)
    anchor = app.runtime.db.run_sync(audit.current_anchor)
    assert (anchor.seq, anchor.hash) == app.runtime.db.run_sync(audit.head)
    assert str(anchor) == f"3:{anchor.hash}"
    assert _anchors(app)[-1] == (3, anchor.hash)


def test_cutting_the_newest_records_is_detected_against_the_log(app: Any) -> None:
    _fill(app, audit.ANCHOR_EVERY + 3)
    with app.runtime.db.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM audit_record WHERE seq >= {audit.ANCHOR_EVERY - 2}"))
    problems = _verify(app)  # no --expect: the log holds the anchors
    assert [p.seq for p in problems] == [audit.ANCHOR_EVERY]
    assert "missing" in problems[0].message


def test_an_anchor_that_does_not_match_fails(app: Any) -> None:
    _fill(app, 4)
    with _anchor_log(app).open("a", encoding="utf-8") as log:
        log.write(f"2:{'ab' * 32}  2026-12-03T08:00:00+00:00\n")
    problems = _verify(app)
    assert [p.seq for p in problems] == [2] and "anchor" in problems[0].message


def test_a_keyed_chain_without_its_anchor_log_fails(app: Any) -> None:
    _fill(app, 2)
    _anchor_log(app).unlink()
    problems = _verify(app)
    assert len(problems) == 1 and problems[0].seq is None
    assert str(_anchor_log(app)) in problems[0].message


def test_sign_ins_are_audited(client: TestClient, make_user: Any, app: Any) -> None:
    make_user("daibieu1")
    client.post("/api/auth/signin", json={"username": "daibieu1", "password": PASSWORD})
    client.post("/api/auth/signin", json={"username": "daibieu1", "password": "sai-mat-khau"})
    with app.runtime.db.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, subject FROM audit_record ORDER BY seq"))
        assert [tuple(r) for r in actions] == [("signin.ok", "daibieu1"),
                                              ("signin.failed", "daibieu1")]


@pytest.mark.slow
def test_cli_verify_reports_tampering(tmp_path: Path) -> None:
    secret = "cli-test-secret-0123456789"
    anchors = tmp_path / "elsewhere" / "anchors.log"
    anchors.parent.mkdir()
    env = {**os.environ, "ECABINET_DATA_DIR": str(tmp_path), "ECABINET_SECRET_KEY": secret,
           "ECABINET_AUDIT_ANCHOR_LOG": str(anchors)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ecabinet", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    assert cli("db", "upgrade").returncode == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ecabinet.sqlite3'}")
    audit.configure(engine, secret_key=secret, anchor_log=anchors)
    with Session(engine) as session, session.begin():
        for i in range(3):
            audit.record(session, audit.EXPORT, subject=f"meeting:{i}")
    ok = cli("audit", "verify")
    assert ok.returncode == 0 and "intact: 3 records" in ok.stdout
    assert "last anchor checked: 1:" in ok.stdout  # the first keyed record
    head = cli("audit", "head").stdout.strip()
    assert re.fullmatch(r"3:[0-9a-f]{64}", head)
    assert anchors.read_text(encoding="utf-8").splitlines()[-1].startswith(head + "  ")
    again = cli("audit", "verify")
    assert f"last anchor checked: {head}" in again.stdout
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq = 3"))
    # The head printed by `audit head` went into the anchor log: the cut shows without --expect.
    broken = cli("audit", "verify")
    assert broken.returncode == 1 and "BROKEN" in broken.stdout and "record 3:" in broken.stdout
    broken = cli("audit", "verify", "--expect", head)
    assert broken.returncode == 1 and "BROKEN" in broken.stdout
    # A chain redone with plain SHA-256 (no key) does not pass either.
    with Session(engine) as session, session.begin():
        _rewrite_plain(session, 1, {"subject": "meeting:99"})
    engine.dispose()
    forged = cli("audit", "verify")
    assert forged.returncode == 1 and "record 1: " in forged.stdout
    assert "without the key" in forged.stdout


def test_a_poll_result_export_carries_the_anchor(app: Any, client: TestClient) -> None:
    from tests.voting.conftest import create_voting_room
    from tests.voting.test_poll_export import auth, prepare, url

    room = app.runtime.db.run_sync(create_voting_room)
    polls = prepare(app, room)
    delegate = auth(client, "daibieu3")
    doc = client.get(url(room, polls["named"]), headers=delegate).json()
    seq, digest = app.runtime.db.run_sync(audit.head)  # the export's own record included
    assert doc["audit_anchor"] == f"{seq}:{digest}"
    assert _anchors(app)[-1] == (seq, digest)
    sheet = client.get(url(room, polls["named"], "csv"), headers=delegate).text
    seq, digest = app.runtime.db.run_sync(audit.head)
    assert f"Mốc nhật ký kiểm toán,{seq}:{digest}\r\n" in sheet
    assert _anchors(app)[-1] == (seq, digest)
    assert _verify(app) == []
