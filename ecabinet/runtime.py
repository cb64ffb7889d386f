"""Everything one running application holds: settings, database, Socket.IO server, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import socketio
from starlette.templating import Jinja2Templates

from ecabinet.core.metrics import Metrics
from ecabinet.core.ratelimit import Counters
from ecabinet.core.settings import Settings
from ecabinet.storage.database import Database

if TYPE_CHECKING:
    from ecabinet.services.documents.rendering import RenderService
    from ecabinet.services.kernel.context import OutEvent


class Sockets(Protocol):
    """What the realtime adapter offers the rest of the application (``realtime.server.register``
    sets it): the web adapter and background work reach the sockets only through this."""

    async def publish(self, events: Iterable[OutEvent]) -> None:
        """Fan committed events out to their rooms, on every server process."""

    async def end_sessions(self, session_ids: list[int]) -> None:
        """Tell the sockets of ended sign-in sessions, then drop them, on every process."""

    async def close(self) -> None:
        """Stop the background work (presence heartbeats and sweeps)."""


@dataclass
class Runtime:
    settings: Settings
    db: Database
    sio: socketio.AsyncServer
    templates: Jinja2Templates
    metrics: Metrics = field(default_factory=Metrics)
    # Counts of failed sign-ins (in Redis when configured: create_app builds them so).
    counters: Counters = field(default_factory=Counters)
    # The live sockets (set by realtime.server.register).
    sockets: Sockets | None = None
    # Page rendering (set by create_app; started and stopped with the app's lifespan).
    renders: RenderService | None = None
    # Why Office files are refused here (``soffice_missing``, ``bwrap_missing``…), checked once
    # at start-up by create_app; None when they are converted.
    conversion_problem: str | None = None
    # Called with every batch of committed events this process publishes (after the commit,
    # before the fan-out): caches and follow-up work keyed on events register here.
    listeners: list[Callable[[list[Any]], None]] = field(default_factory=list)
    # Events that instruct the realtime adapter rather than inform clients (by type: the
    # ``membership.changed`` handler, set by realtime.server.register): the publisher awaits
    # each in its place in the stream, so the events after it find the rooms it left.
    controls: dict[str, Callable[[OutEvent], Awaitable[None]]] = field(default_factory=dict)
