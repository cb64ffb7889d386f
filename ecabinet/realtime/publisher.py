"""Fan-out of committed events to Socket.IO rooms (through the manager, so across processes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ecabinet.core.logs import get_logger
from ecabinet.services.kernel.context import OutEvent

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
EVENT = "event"  # the one Socket.IO event name that carries every meeting event


def meeting_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def members_room(meeting_id: int) -> str:
    """Everyone in the meeting but observers (observers may get redacted payloads)."""
    return f"meeting:{meeting_id}:members"


def observers_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:observers"


def staff_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}:staff"


def user_room(meeting_id: int, user_id: int) -> str:
    """One user's devices that have joined this meeting."""
    return f"meeting:{meeting_id}:user:{user_id}"


async def publish(runtime: Runtime, events: Iterable[OutEvent]) -> None:
    """Send each event to the rooms of its audience. Call only after the commit."""
    sio = runtime.sio
    events = list(events)
    for listener in runtime.listeners:
        listener(events)
    for ev in events:
        mid = ev.meeting_id
        control = runtime.controls.get(ev.type)
        if control is not None:  # an instruction (membership.changed): it sends what it sends
            await control(ev)
        elif ev.audience == "meeting":
            if ev.observer_payload is None:
                await sio.emit(EVENT, ev.envelope(), room=meeting_room(mid))
            else:
                await sio.emit(EVENT, ev.envelope(), room=members_room(mid))
                if not (ev.withheld and ev.seq is None):  # no gap to fill: nothing at all
                    await sio.emit(EVENT, ev.envelope(observer=True), room=observers_room(mid))
        elif ev.audience == "staff":
            await sio.emit(EVENT, ev.envelope(), room=staff_room(mid))
        elif ev.audience.startswith("user:"):
            await sio.emit(EVENT, ev.envelope(), room=user_room(mid, int(ev.audience[5:])))
        else:  # pragma: no cover - make_event only builds the audiences above
            log.error("publish.unknown_audience", audience=ev.audience, type=ev.type)
            continue
        runtime.metrics.events_sent.labels(ev.type).inc()
