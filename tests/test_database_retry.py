"""PostgreSQL aborts one side of a deadlock; the database layer runs that transaction again."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from ecabinet.storage import migrate
from ecabinet.storage.database import Database
from ecabinet.storage.models import Meeting


@pytest.mark.postgres
def test_a_deadlocked_transaction_is_run_again(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        migrate.upgrade(db.engine)

        def add(session: Session) -> list[int]:
            rows = [Meeting(title=f"Họp {i}", starts_at=datetime.now(UTC)) for i in range(2)]
            session.add_all(rows)
            session.flush()
            return [r.id for r in rows if r.id is not None]

        a, b = db.run_sync(add)
        both_hold_one = threading.Barrier(2)
        runs: Counter[str] = Counter()

        def lock_both(session: Session, first: int, second: int, name: str) -> str:
            runs[name] += 1
            session.exec(select(Meeting).where(Meeting.id == first).with_for_update()).one()
            if runs[name] == 1:
                both_hold_one.wait(10)  # now each waits for the other's row: a deadlock
            session.exec(select(Meeting).where(Meeting.id == second).with_for_update()).one()
            return name

        with ThreadPoolExecutor(2) as pool:
            left = pool.submit(db.run_sync, lock_both, a, b, "left")
            right = pool.submit(db.run_sync, lock_both, b, a, "right")
            assert {left.result(30), right.result(30)} == {"left", "right"}
        assert sorted(runs.values()) == [1, 2]  # exactly one side was aborted and run again
    finally:
        db.close()
