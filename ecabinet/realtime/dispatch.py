"""Socket.IO commands: limit, validate, run through the kernel's pipeline, ack, then publish.

Every command declared in ``ecabinet.protocol.REGISTRY`` gets a handler here. The ack is the
handler's return value: ``{"ok": true, ...}`` after the commit (``services.kernel.pipeline``
authorises, applies once and commits), or ``{"ok": false, "error": {"code", "message",
"details"}}`` when nothing changed. Events go out after the ack.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecabinet.core.errors import EcabinetError, RateLimited, TooLarge
from ecabinet.core.logs import get_logger
from ecabinet.core.validation import validate
from ecabinet.protocol import REGISTRY, CommandSpec
from ecabinet.realtime.publisher import publish
from ecabinet.realtime.refresh import LiveRefresher
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import OutEvent
from ecabinet.services.kernel.pipeline import execute

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
MAX_COMMAND_BYTES = 128 * 1024
COMMAND_RATE = 20.0  # commands a second per connection, sustained
COMMAND_BURST = 40.0
INTERNAL = {"code": "internal", "message": "Lỗi máy chủ (internal error)."}


@dataclass
class TokenBucket:
    """Per-connection command budget: ``rate`` a second, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float
    stamp: float = 0.0

    def take(self, now: float) -> float:
        """Spend a token; return 0, or the seconds to wait when the bucket is empty."""
        if self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def error_ack(exc: EcabinetError) -> dict[str, Any]:
    return {"ok": False, "error": exc.to_dict()}


def payload_size(data: Any) -> int:
    try:
        return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return 0  # not JSON-serialisable: the schema check will refuse it


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.buckets: dict[str, TokenBucket] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.live = LiveRefresher(runtime)

    def register(self) -> None:
        for spec in REGISTRY.commands.values():
            if not spec.custom:
                self.runtime.sio.on(spec.name, self._handler(spec))

    def _handler(self, spec: CommandSpec) -> Callable[[str, Any], Awaitable[dict[str, Any]]]:
        async def handle(sid: str, data: Any = None) -> dict[str, Any]:
            return await self.dispatch(spec, sid, data)

        return handle

    def forget(self, sid: str) -> None:
        self.buckets.pop(sid, None)

    def check_limits(self, sid: str, data: Any) -> None:
        """Refuse floods and oversized payloads before any work is done."""
        bucket = self.buckets.get(sid)
        if bucket is None:
            bucket = self.buckets[sid] = TokenBucket(COMMAND_RATE, COMMAND_BURST, COMMAND_BURST)
        wait = bucket.take(time.monotonic())
        if wait:
            raise RateLimited(
                "Quá nhiều lệnh; vui lòng chậm lại (too many commands).",
                retry_after=wait,
                code="rate_limited",
            )
        if payload_size(data) > MAX_COMMAND_BYTES:
            raise TooLarge(
                f"Lệnh quá lớn (over {MAX_COMMAND_BYTES // 1024} KiB).", code="payload_too_large"
            )

    async def dispatch(self, spec: CommandSpec, sid: str, data: Any) -> dict[str, Any]:
        try:
            user: SessionInfo = (await self.runtime.sio.get_session(sid))["user"]
            self.check_limits(sid, data)
            payload = validate(spec.schema, data)
            response, events, touched = await execute(self.runtime.db, spec, user, payload)
        except EcabinetError as exc:
            return error_ack(exc)
        except Exception:
            log.exception("command.failed", command=spec.name)
            return {"ok": False, "error": INTERNAL}
        if events:
            self.publish_after_ack(events)
        for view, key in touched:
            self.live.touch(view, getattr(payload, "meeting_id"), key)  # noqa: B009
        return {"ok": True, **response}

    def publish_after_ack(self, events: list[OutEvent]) -> None:
        """Publish on the next loop turn: the ack, queued when the handler returns, goes first."""

        async def later() -> None:
            await asyncio.sleep(0)
            await publish(self.runtime, events)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
