"""The migration that takes annotations' contents out of event logs written before issue #14,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ecabinet.core.settings import Settings
from ecabinet.storage import migrate
from ecabinet.storage.database import Database
from tests.annotations.helpers import REFERENCE_KEYS

SECRET = "Bí mật XYZ"
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

# The tables as revision 0001 made them (written out: the models follow the newest schema).
meeting = sa.table(
    "meeting", *(sa.column(name) for name in (
        "id", "title", "description", "place", "status", "pack_version", "last_seq",
        "live_state", "created_at", "updated_at")),
)
event = sa.table(
    "meeting_event", sa.column("meeting_id"), sa.column("seq"), sa.column("type"),
    sa.column("payload", sa.JSON), sa.column("observer_payload", sa.JSON),
    sa.column("actor_id"), sa.column("created_at"),
)


def view(id_: int, text: str, *, document_id: int = 5) -> dict[str, Any]:
    """An annotation as the old ``annotation.saved`` carried it."""
    return {
        "id": id_, "uid": f"u-{id_}", "document_id": document_id, "page": 0, "kind": "note",
        "visibility": "shared", "data": {"kind": "note", "at": [300.0, 300.0], "text": text,
                                         "colour": "#FBC02D"},
        "author": {"user_id": 3, "full_name": "Lê Hoàng Minh"}, "version": 2,
        "orphaned_from_document_id": None, "carry_pending": False,
        "created_at": NOW.isoformat(), "updated_at": NOW.isoformat(),
    }


def ref(id_: int, *, document_id: int = 5) -> dict[str, Any]:
    return {"id": id_, "uid": f"u-{id_}", "author_id": 3, "document_id": document_id,
            "version": 2}


def test_old_logs_keep_only_references(settings: Settings) -> None:
    db = Database(settings.prepare().database_url or "")
    try:
        migrate.upgrade(db.engine, "0001")
        rows: list[dict[str, Any]] = []
        other = {"item_id": 4, "note": SECRET}  # not an annotation: left as it is
        removed = {"annotations": [{**ref(1), "reason": "hidden"}]}
        for mid in (1, 2):
            rows += [
                {"meeting_id": mid, "seq": 1, "type": "annotation.saved",
                 "payload": {"annotations": [view(1, SECRET), view(2, "Công khai", document_id=9)]},
                 "observer_payload": {"annotations": [view(2, "Công khai", document_id=9)]}},
                {"meeting_id": mid, "seq": 2, "type": "agenda.current", "payload": other,
                 "observer_payload": None},
                {"meeting_id": mid, "seq": 3, "type": "annotation.removed", "payload": removed,
                 "observer_payload": None},
                # Damaged items name nothing and go; one without observer payload stays so.
                {"meeting_id": mid, "seq": 4, "type": "annotation.saved",
                 "payload": {"annotations": [{"text": SECRET}, "x", view(3, SECRET)]},
                 "observer_payload": None},
            ]
            # Enough rows to take several of the migration's pages.
            rows += [{"meeting_id": mid, "seq": seq, "type": "annotation.saved",
                      "payload": {"annotations": [view(seq, f"{SECRET} {seq}")]},
                      "observer_payload": None} for seq in range(5, 700)]
        with db.engine.begin() as conn:
            conn.execute(sa.insert(meeting), [
                {"id": mid, "title": "Họp", "description": "", "place": "", "status": "published",
                 "pack_version": 1, "last_seq": 699, "live_state": "{}", "created_at": NOW,
                 "updated_at": NOW} for mid in (1, 2)])
            conn.execute(sa.insert(event), [{**r, "actor_id": None, "created_at": NOW}
                                            for r in rows])

        migrate.upgrade(db.engine)

        with db.engine.connect() as conn:
            stored = {(r.meeting_id, r.seq): r for r in conn.execute(sa.select(event)).all()}
        assert len(stored) == len(rows)
        for mid in (1, 2):
            first = stored[(mid, 1)]
            assert first.payload == {"annotations": [ref(1), ref(2, document_id=9)]}
            assert first.observer_payload == {"annotations": [ref(2, document_id=9)]}
            assert stored[(mid, 2)].payload == other
            assert stored[(mid, 3)].payload == removed
            assert stored[(mid, 4)].payload == {"annotations": [ref(3)]}
            assert stored[(mid, 4)].observer_payload is None
            assert stored[(mid, 699)].payload == {"annotations": [ref(699)]}
        for key, row in stored.items():
            if row.type == "annotation.saved":
                assert all(set(a) == REFERENCE_KEYS for a in row.payload["annotations"]), key
                text = json.dumps([row.payload, row.observer_payload], ensure_ascii=False)
                assert SECRET not in text and "Công khai" not in text, key
        migrate.upgrade(db.engine)  # a second start changes nothing
        with db.engine.connect() as conn:
            again = {(r.meeting_id, r.seq): r for r in conn.execute(sa.select(event)).all()}
        assert again == stored
    finally:
        db.close()
