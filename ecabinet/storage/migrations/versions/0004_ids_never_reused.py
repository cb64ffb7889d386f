"""ids are never reused on SQLite: every table keyed by an integer id becomes AUTOINCREMENT

Revision ID: 0004_ids_never_reused
Revises: 0003_sticky_confidential

SQLite gives the highest rowid of a deleted row to the next insert unless the table was created
AUTOINCREMENT, and ids name rows in live state, socket rooms, event logs and the audit trail: a
participant removed and another added inherited the removed one's id (issue #14, finding 16).
SQLite cannot add AUTOINCREMENT to a table, so each is rebuilt (batch mode: a copy with the
same rows, ids, indexes and links, then a rename; env.py turns foreign keys off meanwhile and
checks every link before the commit). The copy sets ``sqlite_sequence`` to the highest id
present; an id deleted before this upgrade above that can still be handed out once.
PostgreSQL's sequences never go back: nothing to do there.

The list is written out rather than read from the models: a migration must keep doing what it
did when it was written.
"""

from __future__ import annotations

from alembic import op

revision = "0004_ids_never_reused"
down_revision = "0003_sticky_confidential"
branch_labels = None
depends_on = None

TABLES = (
    "user_account",
    "auth_session",
    "body",
    "body_member",
    "meeting",
    "participant",
    "agenda_item",
    "document",
    "agenda_item_document",
    "annotation",
    "poll",
    "ballot",
    "poll_participation",
    "attendance",
    "speaker_request",
    "command_receipt",
    "audit_record",
)


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TABLES:
        with op.batch_alter_table(
            name, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
