"""What every change to a meeting's preparation shares: who may edit, when, and the change note.

Secretaries of the meeting and admins edit; the meeting must not be archived. A change to a
published meeting takes a new pack version (services/publishing.record_change) and the events
that describe it carry that version, so "what changed since version N" is a read of the log.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ecabinet.core.errors import InvalidInput
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain import lifecycle
from ecabinet.protocol import Schema
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.meetings.versions import record_change


def begin_change(ctx: CommandContext) -> int:
    """Check that the meeting may change (not archived) and note the change; return its pack
    version."""
    lifecycle.check_editable(ctx.meeting.status)
    return record_change(ctx)


def apply_patch(row: Any, patch: Schema, *, nullable: Collection[str]) -> list[str]:
    """Set on ``row`` the fields ``patch`` gives (text in NFC, trimmed); return those that changed.

    A null clears a ``nullable`` field and is refused (``invalid_payload``) for any other.
    """
    changed: list[str] = []
    for name in sorted(patch.model_fields_set):
        value = getattr(patch, name)
        if value is None and name not in nullable:
            raise InvalidInput(
                f"Trường '{name}' không được để trống (field cannot be null).",
                code="invalid_payload",
                details=[{"field": name, "message": "may not be null"}],
            )
        if isinstance(value, str):
            value = nfc_trimmed(value)
        if getattr(row, name) != value:
            changed.append(name)
            setattr(row, name, value)
    return changed


class ChangeNote(Schema):
    """One line of "what changed": ``action`` such as ``item.added`` or ``participant.removed``."""

    action: str
    item_id: int | None = None
    document_id: int | None = None
    participant_id: int | None = None
    title: str = ""
    detail: str = ""
    confidential: bool = False
