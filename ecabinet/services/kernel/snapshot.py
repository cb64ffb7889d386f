"""The snapshot a client gets on joining: one part per feature, registered where it is built.

Parts marked ``private`` hold what only some people see (the user's own annotations, the staff's
list of who has not voted). Such state travels as events outside the sequenced log, so a client
resyncing from a sequence number gets those parts again beside the missed events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from ecabinet.core.errors import InvalidInput
from ecabinet.services.kernel.context import Actor
from ecabinet.storage.models import Event, Meeting

Part = Callable[[Session, Actor, Meeting], Any]
# Beyond this many missed events a fresh snapshot is cheaper than the replay.
MAX_REPLAY = 500


@dataclass(frozen=True)
class _PartSpec:
    name: str
    build: Part
    private: bool


_PARTS: dict[str, _PartSpec] = {}


def snapshot_part(name: str, *, private: bool = False) -> Callable[[Part], Part]:
    def register(fn: Part) -> Part:
        if name in _PARTS:
            raise ValueError(f"snapshot part {name} registered twice")
        _PARTS[name] = _PartSpec(name, fn, private)
        return fn

    return register


def build_snapshot(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    parts = {spec.name: spec.build(session, actor, meeting) for spec in _PARTS.values()}
    return {"mode": "snapshot", "seq": meeting.last_seq, "snapshot": parts}


def catch_up(session: Session, actor: Actor, meeting: Meeting, since: int) -> dict[str, Any]:
    """Exactly the events after ``since``, or a snapshot when that is too far back."""
    assert meeting.id is not None
    head = meeting.last_seq
    if since > head:
        raise InvalidInput(
            f"Số thứ tự {since} không tồn tại (the meeting is at {head}); hãy tải lại từ đầu.",
            code="unknown_seq",
            details={"since": since, "seq": head},
        )
    if head - since > MAX_REPLAY:
        return build_snapshot(session, actor, meeting)
    rows = session.exec(
        select(Event).where(Event.meeting_id == meeting.id, Event.seq > since).order_by(Event.seq)  # type: ignore[arg-type]
    ).all()
    observer = actor.role is not None and actor.role.value == "observer"
    events = [
        {
            "meeting_id": row.meeting_id,
            "seq": row.seq,
            "type": row.observer_type if observer and row.observer_type else row.type,
            "payload": row.observer_payload
            if observer and row.observer_payload is not None
            else row.payload,
            "at": row.created_at.isoformat(),
        }
        for row in rows
    ]
    private = {
        spec.name: spec.build(session, actor, meeting) for spec in _PARTS.values() if spec.private
    }
    return {"mode": "events", "seq": head, "events": events, "private": private}
