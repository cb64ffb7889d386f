"""Everything one running application holds: settings, database, Socket.IO server, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import socketio
from starlette.templating import Jinja2Templates

from ecabinet.metrics import Metrics
from ecabinet.ratelimit import SlidingWindowLimiter
from ecabinet.settings import Settings
from ecabinet.storage.database import Database


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
