"""What every change to a meeting's preparation shares: who may edit, when, and the change note.

Secretaries of the meeting and admins edit; the meeting must not be archived. A change to a
published meeting takes a new pack version (services/publishing.record_change) and the events
that describe it carry that version, so "what changed since version N" is a read of the log.
"""

from __future__ import annotations

import unicodedata

from ecabinet.core.errors import Conflict
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingStatus
from ecabinet.protocol import Schema
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.meetings.versions import record_change
from ecabinet.storage.models import Meeting

# Roles that prepare a meeting (endpoints declare them; "admin" is the site admin).
# Roles that read everything about a meeting, confidential content and the change log included.


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def check_editable(meeting: Meeting) -> None:
    """Archived meetings are read-only; everything else may still be corrected."""
    if not lifecycle.is_editable(MeetingStatus(meeting.status)):
        raise Conflict(
            "Cuộc họp đã lưu trữ, không thể sửa (archived meetings are read-only).",
            code="meeting_archived",
            details={"status": meeting.status},
        )


def begin_change(ctx: CommandContext) -> int:
    """Check that the meeting may change and note the change; return its pack version."""
    check_editable(ctx.meeting)
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
