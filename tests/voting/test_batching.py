"""Group commit (ecabinet.storage.batching): calls share a transaction, fail alone, answer after
the commit; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from ecabinet.core.errors import Conflict
from ecabinet.storage.batching import batch_cache, defer_insert
from ecabinet.storage.models import User, utcnow

pytestmark = pytest.mark.anyio
USERS = User.__table__  # type: ignore[attr-defined]


def add_user(session: Any, name: str, fail_after: bool = False) -> str:
    """A Core insert; optionally refuse after writing (the write must be rolled back)."""
    session.connection().execute(sa.insert(USERS).values(
        username=name, full_name=name, password_hash="x", is_admin=False, is_active=True,
        locale="vi", created_at=sa.func.now()))
    batch_cache(session)["last"] = name
    if fail_after:
        raise Conflict("từ chối sau khi ghi (refused after writing)", code="refused")
    return name


def add_user_orm(session: Any, name: str) -> str:
    session.add(User(username=name, full_name=name, password_hash="x"))
    return name


def names(app: Any) -> set[str]:
    def read(session: Any) -> set[str]:
        return set(session.exec(select(User.username)))

    found: set[str] = app.runtime.db.run_sync(read)
    return found


async def test_calls_that_arrive_together_share_one_commit(app: Any) -> None:
    db = app.runtime.db
    before = db.batcher.batches
    results = await asyncio.gather(*(db.write_batched(add_user, f"u{i:03d}") for i in range(120)))
    assert results == [f"u{i:03d}" for i in range(120)]
    assert db.batcher.batches - before < 10  # grouped, not one transaction each
    assert {f"u{i:03d}" for i in range(120)} <= names(app)  # committed before the answers


async def test_a_failing_call_is_rolled_back_alone(app: Any) -> None:
    db = app.runtime.db
    calls = [db.write_batched(add_user, "a1"),
             db.write_batched(add_user, "a2", fail_after=True),  # wrote, then refused
             db.write_batched(add_user, "a1"),                   # unique violation
             db.write_batched(add_user, "a3")]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert outcomes[0] == "a1" and outcomes[3] == "a3"
    assert isinstance(outcomes[1], Conflict) and outcomes[1].code == "refused"
    assert isinstance(outcomes[2], sa.exc.IntegrityError)
    stored = names(app)
    assert {"a1", "a3"} <= stored and "a2" not in stored


async def test_a_failed_orm_flush_falls_back_to_one_transaction_per_call(app: Any) -> None:
    db = app.runtime.db
    await db.write_batched(add_user_orm, "dup")
    outcomes = await asyncio.gather(db.write_batched(add_user_orm, "b1"),
                                    db.write_batched(add_user_orm, "dup"),
                                    db.write_batched(add_user_orm, "b2"),
                                    return_exceptions=True)
    assert outcomes[0] == "b1" and outcomes[2] == "b2"
    assert isinstance(outcomes[1], sa.exc.IntegrityError)
    assert {"b1", "b2", "dup"} <= names(app)


async def test_the_batch_cache_lives_one_transaction(app: Any) -> None:
    db = app.runtime.db

    def peek(session: Any) -> Any:
        return batch_cache(session).get("last")

    first = await asyncio.gather(db.write_batched(add_user, "c1"), db.write_batched(peek))
    assert first == ["c1", "c1"]  # same batch: the cache is shared
    assert await db.write_batched(peek) is None  # a new batch starts empty
    after_failure = await asyncio.gather(
        db.write_batched(add_user, "c2", fail_after=True), db.write_batched(peek),
        return_exceptions=True)
    assert after_failure[1] is None  # dropped with the failed call's changes


def defer_user(session: Any, name: str, fail_after: bool = False, bad: bool = False) -> str:
    """A call that writes only through ``defer_insert`` (as casts do)."""
    if bad:  # a statement the database refuses: the batch goes round again, with savepoints
        session.connection().execute(sa.text("SELECT * FROM no_such_table"))
    defer_insert(session, USERS, {"username": name, "full_name": name, "password_hash": "x",
                                  "is_admin": False, "is_active": True, "locale": "vi",
                                  "created_at": utcnow()})
    if fail_after:
        raise Conflict("từ chối (refused)", code="refused")
    return name


async def test_deferred_rows_are_written_at_the_end_or_dropped_with_their_call(app: Any) -> None:
    db = app.runtime.db
    outcomes = await asyncio.gather(
        db.write_batched(defer_user, "d1", savepoint=False),
        db.write_batched(defer_user, "d2", fail_after=True, savepoint=False),
        db.write_batched(defer_user, "d3", savepoint=False),
        return_exceptions=True)
    assert outcomes[0] == "d1" and outcomes[2] == "d3"
    assert isinstance(outcomes[1], Conflict)
    stored = names(app)
    assert {"d1", "d3"} <= stored and "d2" not in stored


async def test_a_database_error_or_a_conflict_sends_the_batch_round_again(app: Any) -> None:
    db = app.runtime.db
    outcomes = await asyncio.gather(
        db.write_batched(defer_user, "e1", savepoint=False),
        db.write_batched(defer_user, "e2", bad=True, savepoint=False),
        db.write_batched(defer_user, "e1", savepoint=False),  # conflicts with the first
        db.write_batched(defer_user, "e3", savepoint=False),
        return_exceptions=True)
    assert outcomes[0] == "e1" and outcomes[3] == "e3"
    assert isinstance(outcomes[1], sa.exc.DBAPIError)
    assert isinstance(outcomes[2], sa.exc.IntegrityError)
    stored = names(app)
    assert {"e1", "e3"} <= stored and "e2" not in stored
