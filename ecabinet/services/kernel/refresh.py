"""Live views: state that changes too often to send one event per change (a vote's progress).

A command marks a view as changed with ``ctx.touch(name, key)``; after the commit the realtime
layer rebuilds it at most once per interval and publishes the events the builder returns. The
events are outside the sequenced log (``logged=False``), so what they carry must also be in a
snapshot part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from ecabinet.services.kernel.context import OutEvent

# fn(session, meeting_id, key) -> the events that describe the view now
Builder = Callable[[Session, int, Any], list[OutEvent]]


@dataclass(frozen=True)
class LiveView:
    name: str
    build: Builder
    interval: float  # seconds between two refreshes of the same (meeting, key)
    # Extra seconds per client in the meeting's room: sending to 1,000 tablets costs ~0.1 s of
    # server time, so big rooms get fewer refreshes (PERFORMANCE.md).
    per_recipient: float


LIVE: dict[str, LiveView] = {}


def live_view(
    name: str, *, interval: float = 0.2, per_recipient: float = 0.0
) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        if name in LIVE:
            raise ValueError(f"live view {name} registered twice")
        LIVE[name] = LiveView(name, fn, interval, per_recipient)
        return fn

    return register
