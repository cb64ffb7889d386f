"""Coalesced refreshes of live views (``services.kernel.refresh``): at most one per interval.

A change schedules a refresh one interval later, unless one is already due; every change until
then is folded into it, and it is built from the database as it is when it runs. A storm of a
thousand ballots thus becomes a handful of progress broadcasts, each with the latest count, not
a thousand, and they come mostly after the storm rather than in its middle.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from ecabinet.core.logs import get_logger
from ecabinet.realtime.publisher import meeting_room, publish
from ecabinet.services.kernel.refresh import LIVE

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
Key = tuple[str, int, Any]


class LiveRefresher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._scheduled: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def interval(self, name: str, meeting_id: int) -> float:
        """The view's interval, longer in big rooms (sending costs per recipient)."""
        view = LIVE[name]
        if not view.per_recipient:
            return view.interval
        rooms = self.runtime.sio.manager.rooms.get("/", {})
        audience = len(rooms.get(meeting_room(meeting_id), ()))
        return max(view.interval, audience * view.per_recipient)

    def touch(self, name: str, meeting_id: int, key: Any) -> None:
        """Note a change: the view goes out at the end of the interval that starts now."""
        k = (name, meeting_id, key)
        if k in self._scheduled:
            return
        loop = asyncio.get_running_loop()
        self._scheduled[k] = loop.call_later(self.interval(name, meeting_id), self._fire, loop, k)

    def _fire(self, loop: asyncio.AbstractEventLoop, k: Key) -> None:
        self._scheduled.pop(k, None)
        task = loop.create_task(self._refresh(k))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, k: Key) -> None:
        name, meeting_id, key = k
        started = time.perf_counter()
        try:
            events = await self.runtime.db.read(LIVE[name].build, meeting_id, key)
            await publish(self.runtime, events)
        except RuntimeError:  # shutting down: the database's workers are gone
            return
        except Exception:  # best effort: the next change, or a resync, repairs the view
            log.exception("live.refresh_failed", view=name, meeting_id=meeting_id)
            return
        log.debug("live.refreshed", view=name, ms=round(1000 * (time.perf_counter() - started)))
