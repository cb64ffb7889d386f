"""Moving-window counters of failed attempts, shared by every server process through Redis.

Built on the `limits` library (moving windows in memory or in Redis, atomic there through Lua
scripts). With ``ECABINET_REDIS_URL`` the counts live in Redis, so N server processes give an
attacker the same attempts as one; without it, in this process's memory. When Redis does not
answer, the counts fall back to memory (logged) rather than refusing every sign-in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from ecabinet.core.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")
REDIS_TIMEOUT = 2.0  # seconds; a sign-in waits no longer than this for a Redis that is down


@dataclass(frozen=True)
class Window:
    """At most ``amount`` counted events per ``seconds``, per key, under ``name``."""

    name: str
    amount: int
    seconds: int

    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds, namespace=self.name)


class Counters:
    """Counted events per window and key: how many, how long until another is allowed."""

    def __init__(self, redis_url: str | None = None, namespace: str = "ecabinet") -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if redis_url:
            storage: Storage = RedisStorage(
                redis_url,
                key_prefix=f"{namespace}:limits",
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self._shared = MovingWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        return self._shared is not None

    def _call(self, use: Callable[[MovingWindowRateLimiter], T]) -> T:
        if self._shared is not None:
            try:
                return use(self._shared)
            except StorageError as exc:
                log.warning("ratelimit.redis_unavailable", error=str(exc.storage_error))
        return use(self._memory)

    async def _run(self, use: Callable[[MovingWindowRateLimiter], T]) -> T:
        # A thread: the Redis client blocks, and the event loop must not wait on it.
        return await asyncio.to_thread(self._call, use)

    async def wait(self, window: Window, *key: str) -> float:
        """Seconds until one more event is allowed for ``key``; 0 when it is now."""

        def seconds(limiter: MovingWindowRateLimiter) -> float:
            stats = limiter.get_window_stats(window.item(), *key)
            if stats.remaining > 0:
                return 0.0
            return max(0.0, stats.reset_time - time.time())

        return await self._run(seconds)

    async def count(self, window: Window, *key: str) -> int:
        """Events counted for ``key`` within the window."""

        def counted(limiter: MovingWindowRateLimiter) -> int:
            return window.amount - limiter.get_window_stats(window.item(), *key).remaining

        return await self._run(counted)

    async def hit(self, window: Window, *key: str) -> None:
        """Count one event (a full window counts no more: its oldest event sets the wait)."""
        await self._run(lambda limiter: limiter.hit(window.item(), *key))

    async def clear(self, window: Window, *key: str) -> None:
        await self._run(lambda limiter: limiter.clear(window.item(), *key))
