from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from ecabinet.services import audit
from tests.conftest import PASSWORD


def _fill(app: Any, n: int = 5) -> None:
    for i in range(n):
        app.runtime.db.run_sync(audit.record, audit.POLL_OPENED, actor_id=None,
                                subject=f"poll:{i}", details={"câu hỏi": f"Biểu quyết {i}"})


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
    assert _verify(app) == []  # the chain alone cannot tell
    assert _verify(app, anchored)[0].message.startswith("records after 3 up to 5 are missing")


def test_sign_ins_are_audited(client: TestClient, make_user: Any, app: Any) -> None:
    make_user("daibieu1")
    client.post("/api/auth/signin", json={"username": "daibieu1", "password": PASSWORD})
    client.post("/api/auth/signin", json={"username": "daibieu1", "password": "sai-mat-khau"})
    with app.runtime.db.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, subject FROM audit_record ORDER BY seq"))
        assert [tuple(r) for r in actions] == [("signin.ok", "daibieu1"),
                                              ("signin.failed", "daibieu1")]


def test_cli_verify_reports_tampering(tmp_path: Path) -> None:
    env = {**os.environ, "ECABINET_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ecabinet", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    assert cli("db", "upgrade").returncode == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'ecabinet.sqlite3'}")
    from sqlmodel import Session

    with Session(engine) as session, session.begin():
        for i in range(3):
            audit.record(session, audit.EXPORT, subject=f"meeting:{i}")
    ok = cli("audit", "verify")
    assert ok.returncode == 0 and "intact: 3 records" in ok.stdout
    head = cli("audit", "head").stdout.strip()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE seq = 3"))
    engine.dispose()
    assert cli("audit", "verify").returncode == 0
    broken = cli("audit", "verify", "--expect", head)
    assert broken.returncode == 1 and "BROKEN" in broken.stdout
