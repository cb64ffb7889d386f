"""Everything one running application holds: settings, database, Socket.IO server, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import socketio
from starlette.templating import Jinja2Templates

from ecabinet.core.metrics import Metrics
from ecabinet.core.ratelimit import SlidingWindowLimiter
from ecabinet.core.settings import Settings
from ecabinet.storage.database import Database

if TYPE_CHECKING:
    from ecabinet.realtime.presence import Presence
    from ecabinet.services.documents.rendering import RenderService


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
    # Who has a device in which meeting (set by realtime.server.register).
    presence: Presence | None = None
    # Page rendering (set by create_app; started and stopped with the app's lifespan).
    renders: RenderService | None = None
    # Called with every batch of committed events this process publishes (after the commit,
    # before the fan-out): caches and follow-up work keyed on events register here.
    listeners: list[Callable[[list[Any]], None]] = field(default_factory=list)
