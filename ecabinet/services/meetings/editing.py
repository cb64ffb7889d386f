"""What every change to a meeting's preparation shares: who may edit, when, and the change note.

Secretaries of the meeting and admins edit; the meeting must not be archived. A change to a
published meeting takes a new pack version (services/publishing.record_change) and the events
that describe it carry that version, so "what changed since version N" is a read of the log.
"""

from __future__ import annotations

from ecabinet.domain import lifecycle
from ecabinet.protocol import Schema
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.meetings.versions import record_change


def begin_change(ctx: CommandContext) -> int:
    """Check that the meeting may change (not archived) and note the change; return its pack
    version."""
    lifecycle.check_editable(ctx.meeting.status)
    return record_change(ctx)


class ChangeNote(Schema):
    """One line of "what changed": ``action`` such as ``item.added`` or ``participant.removed``."""

    action: str
    item_id: int | None = None
    document_id: int | None = None
    participant_id: int | None = None
    title: str = ""
    detail: str = ""
    confidential: bool = False
