from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from ecabinet.core.settings import Settings
from ecabinet.storage import migrate
from ecabinet.storage.database import Database
from ecabinet.storage.models import Meeting


def test_migrations_build_exactly_the_models(settings: Settings) -> None:
    db = Database(settings.prepare().database_url or "")
    try:
        migrate.upgrade(db.engine)
        migrate.upgrade(db.engine)  # idempotent: a second start changes nothing
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
        assert migrate.current_revision(db.engine) is not None
    finally:
        db.close()


def test_timestamps_keep_the_instant_on_every_backend(settings: Settings) -> None:
    db = Database(settings.prepare().database_url or "")
    try:
        migrate.upgrade(db.engine)
        hanoi = timezone(timedelta(hours=7))
        start = datetime(2026, 12, 3, 8, 0, tzinfo=hanoi)
        meeting_id = db.run_sync(lambda s: _add(s, Meeting(title="Họp", starts_at=start)))
        loaded = db.run_sync(lambda s: s.get(Meeting, meeting_id))
        assert loaded.starts_at == start
        assert loaded.starts_at.utcoffset() == timedelta(0)
        assert loaded.starts_at.hour == 1
    finally:
        db.close()


def _add(session, row):  # type: ignore[no-untyped-def]
    session.add(row)
    session.flush()
    return row.id
