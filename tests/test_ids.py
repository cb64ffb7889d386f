"""Ids are never reused (issue #14, finding 16).

Live state, socket rooms, event logs and the audit trail name rows by id. SQLite hands the
highest rowid of a deleted row to the next insert unless the table is AUTOINCREMENT, so a
participant removed and another added would inherit the removed one's id (and its proxy, its
place in the speaker queue, its lines in the log). PostgreSQL's sequences never go back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from ecabinet.storage import migrate
from ecabinet.storage.database import Database
from tests.prep.helpers import Callers

# The revision before ids were made never-reused, and the tables it rebuilt.
BEFORE = "0003_sticky_confidential"


def _id_tables() -> list[str]:
    """Tables whose primary key is one integer column (a rowid alias on SQLite)."""
    return sorted(
        table.name
        for table in SQLModel.metadata.tables.values()
        if [c.name for c in table.primary_key.columns] == ["id"]
    )


def test_a_removed_participants_id_is_never_given_to_the_next(
    client: TestClient, room: dict[str, Any]
) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    added = as_.post("thuky", f"{m}/participants", {"username": "nguoingoai", "role": "delegate"})
    assert added.status_code == 201, added.text
    highest = added.json()["participant_id"]
    listed = as_.get("thuky", f"{m}/participants").json()["participants"]
    ids = [p["id"] for p in listed]
    assert highest == max(ids)
    assert as_.delete("thuky", f"{m}/participants/{highest}").status_code == 200
    again = as_.post("thuky", f"{m}/participants", {"username": "nguoingoai", "role": "observer"})
    assert again.status_code == 201, again.text
    assert again.json()["participant_id"] > highest


def test_every_id_table_is_autoincrement_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        migrate.upgrade(db.engine)
        with db.engine.connect() as conn:
            schema: dict[str, str] = dict(conn.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )).all())
        tables = _id_tables()
        assert "participant" in tables and "auth_session" in tables
        assert [t for t in tables if "AUTOINCREMENT" not in schema[t].upper()] == []
    finally:
        db.close()


def test_the_upgrade_keeps_rows_and_links_and_never_reuses_an_id_seen_since(
    tmp_path: Path,
) -> None:
    """An existing SQLite database: tables rebuilt in place, every row and reference kept."""
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        migrate.upgrade(db.engine, BEFORE)
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO user_account (id, username, full_name, password_hash, is_admin,"
                " is_active, locale, created_at) VALUES"
                " (1, 'chutich', 'Nguyễn Văn An', 'x', 0, 1, 'vi', '2026-01-01'),"
                " (2, 'daibieu1', 'Lê Hoàng Minh', 'x', 0, 1, 'vi', '2026-01-01')"
            ))
            conn.execute(sa.text(
                "INSERT INTO meeting (id, title, description, place, status, pack_version,"
                " last_seq, live_state, created_at, updated_at)"
                " VALUES (1, 'Họp', '', '', 'draft', 0, 0, '{}', '2026-01-01', '2026-01-01')"
            ))
            conn.execute(sa.text(
                "INSERT INTO participant (id, meeting_id, user_id, role, can_vote, vote_weight,"
                " proxy_holder_id) VALUES (1, 1, 1, 'chair', 1, 1, NULL),"
                " (2, 1, 2, 'delegate', 1, 1, 1)"
            ))
        migrate.upgrade(db.engine)
        with db.engine.begin() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, user_id, proxy_holder_id FROM participant ORDER BY id"
            )).all()
            assert [tuple(r) for r in rows] == [(1, 1, None), (2, 2, 1)]
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            conn.execute(sa.text("DELETE FROM participant WHERE id = 2"))
            conn.execute(sa.text(
                "INSERT INTO participant (meeting_id, user_id, role, can_vote, vote_weight)"
                " VALUES (1, 2, 'observer', 0, 1)"
            ))
            assert conn.execute(sa.text("SELECT max(id) FROM participant")).scalar() == 3
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    finally:
        db.close()
