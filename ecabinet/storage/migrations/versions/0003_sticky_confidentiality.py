"""confidentiality is sticky and shared by a document's versions; content URLs carry an access
version; observers' log entries may be withheld

Revision ID: 0003_sticky_confidential
Revises: 0002_annotation_refs

Until now a document was confidential when marked so or attached *now* to a confidential agenda
item, so the old version of such a document (which keeps no agenda link) was served to everyone,
its PDF and text included (issue #14). Confidentiality is now a stored fact of the document's
lineage: set by the flag or by any confidential item the document is or was attached to, and
shared by every version, old and new. This revision:

- adds ``document.access_version`` (bumped at each change of confidentiality; part of every
  content URL and ETag) and ``meeting_event.observer_type`` (the event observers receive
  instead: ``event.withheld`` for one they may not know of);
- marks confidential every document attached to a confidential item, then every version of a
  lineage that has a confidential version;
- rewrites the log entries observers would replay about confidential documents
  (``document.added``, ``document.replaced``, ``document.ready``): they learn no id and no count.

The rules are written out here rather than imported: a migration must keep doing what it did
when it was written, whatever the code becomes.
"""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from alembic import op

revision = "0003_sticky_confidential"
down_revision = "0002_annotation_refs"
branch_labels = None
depends_on = None

BATCH: Final = 500
WITHHELD: Final = "event.withheld"

document = sa.table(
    "document",
    sa.column("id", sa.Integer),
    sa.column("replaces_id", sa.Integer),
    sa.column("confidential", sa.Boolean),
    sa.column("access_version", sa.Integer),
)
item = sa.table("agenda_item", sa.column("id", sa.Integer), sa.column("confidential", sa.Boolean))
link = sa.table(
    "agenda_item_document", sa.column("agenda_item_id", sa.Integer),
    sa.column("document_id", sa.Integer),
)
event = sa.table(
    "meeting_event",
    sa.column("meeting_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("type", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("observer_payload", sa.JSON),
    sa.column("observer_type", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("access_version", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("meeting_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("observer_type", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    secret = _sticky(conn)
    _rewrite_log(conn, secret)


def _sticky(conn: sa.Connection) -> set[int]:
    """Mark every version of a lineage confidential when one is, or was attached to a
    confidential item; return the confidential document ids."""
    rows = conn.execute(sa.select(document.c.id, document.c.replaces_id,
                                  document.c.confidential)).all()
    by_item = set(conn.execute(
        sa.select(link.c.document_id).join(item, item.c.id == link.c.agenda_item_id)
        .where(item.c.confidential.is_(True))
    ).scalars())
    parent = {row.id: row.replaces_id for row in rows}

    def root(doc_id: int) -> int:
        seen: set[int] = set()
        while parent.get(doc_id) is not None and doc_id not in seen:
            seen.add(doc_id)
            doc_id = parent[doc_id]
        return doc_id

    secret_roots = {root(r.id) for r in rows if r.confidential or r.id in by_item}
    secret = {r.id for r in rows if root(r.id) in secret_roots}
    raise_ids = sorted(r.id for r in rows if r.id in secret and not r.confidential)
    for start in range(0, len(raise_ids), BATCH):
        chunk = raise_ids[start:start + BATCH]
        conn.execute(
            document.update().where(document.c.id.in_(chunk))
            .values(confidential=True, access_version=document.c.access_version + 1)
        )
    return secret


def _observers_see(type_: str, payload: Any, secret: set[int]) -> tuple[str | None, Any]:
    """(observer_type, observer_payload) for a document event, or ``("", None)`` to keep it."""
    if not isinstance(payload, dict):
        return "", None
    if type_ in ("document.added", "document.replaced"):
        doc = payload.get("document")
        if isinstance(doc, dict) and doc.get("id") in secret:
            return WITHHELD, {}
        return "", None
    ids = payload.get("document_ids")
    if not isinstance(ids, list):
        return "", None
    public = [i for i in ids if i not in secret]
    if not public:
        return WITHHELD, {}
    if public == ids:
        return None, None
    return None, {**payload, "document_ids": public}


def _rewrite_log(conn: sa.Connection, secret: set[int]) -> None:
    types = ("document.added", "document.replaced", "document.ready")
    last = (0, 0)
    while True:
        rows = conn.execute(
            sa.select(event.c.meeting_id, event.c.seq, event.c.type, event.c.payload,
                      event.c.observer_payload)
            .where(event.c.type.in_(types))
            .where(sa.tuple_(event.c.meeting_id, event.c.seq) > sa.tuple_(*last))
            .order_by(event.c.meeting_id, event.c.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            kind, hidden = _observers_see(row.type, row.payload, secret)
            if kind == "":
                continue
            if kind is None and hidden == row.observer_payload:
                continue
            conn.execute(
                event.update()
                .where(event.c.meeting_id == row.meeting_id, event.c.seq == row.seq)
                .values(observer_type=kind, observer_payload=hidden)
            )
        last = (rows[-1].meeting_id, rows[-1].seq)


def downgrade() -> None:
    with op.batch_alter_table("meeting_event", schema=None) as batch_op:
        batch_op.drop_column("observer_type")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_column("access_version")
