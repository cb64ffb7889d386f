"""Pack versions: changes to a published meeting's pack make a new version, once per transaction."""

from __future__ import annotations

from ecabinet.domain.roles import MeetingStatus
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import CommandContext
from ecabinet.storage.models import utcnow

_BUMPED = "ecabinet.pack_version_bumped"


class PackVersion(Schema):
    pack_version: int


event("meeting.pack_version", PackVersion, audience="meeting",
      sent_by="any change to a published meeting's pack",
      summary="The published pack has a new version; the events that describe the change "
      "(agenda.changed, document.added, document.replaced, ...) follow with the same version.")


def record_change(ctx: CommandContext) -> int:
    """Note a change to the pack and return the pack version it belongs to.

    Before publication nothing is versioned. After it, the first change in a transaction takes
    the next version and tells the room; further changes in the same transaction share it.
    """
    meeting = ctx.meeting
    meeting.updated_at = utcnow()
    ctx.session.add(meeting)
    if MeetingStatus(meeting.status) is MeetingStatus.DRAFT:
        return meeting.pack_version
    if not ctx.session.info.get(_BUMPED):
        ctx.session.info[_BUMPED] = True
        meeting.pack_version += 1
        ctx.emit("meeting.pack_version", PackVersion(pack_version=meeting.pack_version))
    return meeting.pack_version
