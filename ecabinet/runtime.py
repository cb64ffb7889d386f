"""Everything one running application holds: settings, database, Socket.IO server, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import socketio
from starlette.templating import Jinja2Templates

from ecabinet.core.metrics import Metrics
from ecabinet.core.ratelimit import SlidingWindowLimiter
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
    # Failed sign-ins: a few per account, more per address (a shared office address).
    signin_by_account: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=5, window=300)
    )
    signin_by_address: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(limit=30, window=300)
    )
    # The live sockets (set by realtime.server.register).
    sockets: Sockets | None = None
    # Page rendering (set by create_app; started and stopped with the app's lifespan).
    renders: RenderService | None = None
    # Called with every batch of committed events this process publishes (after the commit,
    # before the fan-out): caches and follow-up work keyed on events register here.
    listeners: list[Callable[[list[Any]], None]] = field(default_factory=list)
