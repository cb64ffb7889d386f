"""annotation events in the log keep references only

Revision ID: 0002_annotation_refs
Revises: 0001

The meeting event log is replayed to whoever resyncs, for as long as the meeting exists; until
now its ``annotation.saved`` rows held the annotations' contents (text, geometry) as they were
when shared, so an annotation later made private or deleted was still served from the log. The
server now logs references only (issue #14); this rewrites the rows written before, payload and
observer payload alike, to the same references. The contents stay in the ``annotation`` table,
served only to those who may read them now.

The reference's shape is written out here rather than imported from the annotations service: a
migration must keep doing what it did when it was written, whatever the code becomes.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from alembic import op

revision = "0002_annotation_refs"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH: Final = 500
REFERENCE: Final = ("id", "uid", "author_id", "document_id", "version")
# What each logged annotation event may keep of an annotation.
KEPT: Final = {
    "annotation.saved": REFERENCE,
    "annotation.removed": (*REFERENCE, "reason"),
}

event_table = sa.table(
    "meeting_event",
    sa.column("meeting_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("type", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("observer_payload", sa.JSON),
)


def redact(type_: str, payload: Any) -> Any:
    """The payload with only the references of its annotations (None stays None)."""
    if payload is None:
        return None
    items = payload.get("annotations") if isinstance(payload, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if "author_id" not in item and isinstance(item.get("author"), dict):
            item = {**item, "author_id": item["author"].get("user_id")}
        kept = {key: item.get(key) for key in KEPT[type_]}
        if all(value is not None for value in kept.values()):
            out.append(kept)  # an item without its id or version names nothing: dropped
    return {"annotations": out}


def upgrade() -> None:
    conn = op.get_bind()
    after = (-1, -1)
    while True:
        # Keyset pages, so that a long log is never held in memory at once.
        rows = conn.execute(
            sa.select(event_table)
            .where(event_table.c.type.in_(list(KEPT)))
            .where(sa.tuple_(event_table.c.meeting_id, event_table.c.seq) > sa.tuple_(*after))
            .order_by(event_table.c.meeting_id, event_table.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            payload = redact(row.type, row.payload)
            hidden = redact(row.type, row.observer_payload)
            if payload != row.payload or hidden != row.observer_payload:
                conn.execute(
                    event_table.update()
                    .where(event_table.c.meeting_id == row.meeting_id,
                           event_table.c.seq == row.seq)
                    .values(payload=payload, observer_payload=hidden)
                )
        after = (rows[-1].meeting_id, rows[-1].seq)


def downgrade() -> None:
    """Nothing to undo: the contents left the log on purpose and do not come back (the
    annotations themselves are untouched)."""
