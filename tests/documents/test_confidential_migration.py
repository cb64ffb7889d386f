"""The migration that makes confidentiality sticky across a document's versions and takes
confidential documents out of what observers replay, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ecabinet.core.settings import Settings
from ecabinet.storage import migrate
from ecabinet.storage.database import Database

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SHA = "a" * 64


def table(name: str, *columns: str, json: tuple[str, ...] = ()) -> sa.TableClause:
    return sa.table(name, *(sa.column(c, sa.JSON if c in json else None) for c in columns))


# The tables as revision 0002 left them (written out: the models follow the newest schema).
meeting = table("meeting", "id", "title", "description", "place", "status", "pack_version",
                "last_seq", "live_state", "created_at", "updated_at", json=("live_state",))
blob = table("blob", "sha256", "size", "media_type", "page_count", "status", "pages_ready",
             "created_at")
item = table("agenda_item", "id", "meeting_id", "position", "title", "presenter", "description",
             "confidential", "vote_planned")
document = table("document", "id", "meeting_id", "blob_sha256", "title", "filename",
                 "confidential", "version", "replaces_id", "replaced_by_id", "created_at")
link = table("agenda_item_document", "id", "agenda_item_id", "document_id", "position")
event = table("meeting_event", "meeting_id", "seq", "type", "payload", "observer_payload",
              "actor_id", "created_at", json=("payload", "observer_payload"))


def doc(id_: int, *, confidential: bool = False, version: int = 1, replaces: int | None = None,
        replaced_by: int | None = None) -> dict[str, Any]:
    return {"id": id_, "meeting_id": 1, "blob_sha256": SHA, "title": f"Tài liệu {id_}",
            "filename": "t.pdf", "confidential": confidential, "version": version,
            "replaces_id": replaces, "replaced_by_id": replaced_by, "created_at": NOW}


def info(id_: int) -> dict[str, Any]:
    return {"id": id_, "title": f"Tài liệu {id_}", "confidential": False}


def test_old_versions_become_confidential_and_observers_replay_no_trace(settings: Settings
                                                                        ) -> None:
    db = Database(settings.prepare().database_url or "")
    try:
        migrate.upgrade(db.engine, "0002_annotation_refs")
        with db.engine.begin() as conn:
            conn.execute(meeting.insert().values(
                id=1, title="Họp", description="", place="", status="published",
                pack_version=1, last_seq=4, live_state={}, created_at=NOW, updated_at=NOW))
            conn.execute(blob.insert().values(sha256=SHA, size=1, media_type="application/pdf",
                                              page_count=1, status="ready", pages_ready=1,
                                              created_at=NOW))
            conn.execute(item.insert(), [
                {"id": 1, "meeting_id": 1, "position": 0, "title": "Nhân sự",
                 "presenter": "", "description": "", "confidential": True,
                 "vote_planned": False},
                {"id": 2, "meeting_id": 1, "position": 1, "title": "Khác", "presenter": "",
                 "description": "", "confidential": False, "vote_planned": False}])
            conn.execute(document.insert(), [
                # 1 -> 2 -> 3: the current version (3) is on the confidential item.
                doc(1, version=1, replaced_by=2), doc(2, version=2, replaces=1, replaced_by=3),
                doc(3, version=3, replaces=2),
                # 4 -> 5: marked confidential only from version 2.
                doc(4, replaced_by=5), doc(5, confidential=True, version=2, replaces=4),
                doc(6)])  # public, on the other item
            conn.execute(link.insert(), [
                {"id": 1, "agenda_item_id": 1, "document_id": 3, "position": 0},
                {"id": 2, "agenda_item_id": 2, "document_id": 6, "position": 0}])
            conn.execute(event.insert(), [{**e, "actor_id": None, "created_at": NOW} for e in [
                {"meeting_id": 1, "seq": 1, "type": "document.added",
                 "payload": {"document": info(1), "pack_version": 1}, "observer_payload": None},
                {"meeting_id": 1, "seq": 2, "type": "document.replaced",
                 "payload": {"document": info(2), "replaced_id": 1, "pack_version": 1},
                 "observer_payload": None},
                {"meeting_id": 1, "seq": 3, "type": "document.ready",
                 "payload": {"document_ids": [3, 6], "page_count": 1, "status": "ready"},
                 "observer_payload": None},
                {"meeting_id": 1, "seq": 4, "type": "document.added",
                 "payload": {"document": info(6), "pack_version": 1}, "observer_payload": None},
            ]])
        migrate.upgrade(db.engine)
        migrate.upgrade(db.engine)  # a second start changes nothing
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, confidential, access_version FROM document ORDER BY id")).all()
            logged = conn.execute(sa.text(
                "SELECT seq, type, observer_type, observer_payload FROM meeting_event "
                "ORDER BY seq")).all()
        assert [tuple(r) for r in rows] == [
            (1, True, 2), (2, True, 2), (3, True, 2), (4, True, 2), (5, True, 1), (6, False, 1)]
        hidden = [(r.seq, r.type, r.observer_type, _json(r.observer_payload)) for r in logged]
        assert hidden == [
            (1, "document.added", "event.withheld", {}),
            (2, "document.replaced", "event.withheld", {}),
            (3, "document.ready", None,
             {"document_ids": [6], "page_count": 1, "status": "ready"}),
            (4, "document.added", None, None),
        ]
    finally:
        db.close()


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value
