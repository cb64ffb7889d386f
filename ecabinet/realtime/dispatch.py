"""Socket.IO commands: validate, limit, authorise, apply once in one transaction, ack, publish.

Every command declared in ``ecabinet.protocol.REGISTRY`` gets a handler here. The ack is the
handler's return value: ``{"ok": true, ...}`` after the commit, or ``{"ok": false, "error":
{"code", "message", "details"}}`` when nothing changed. Events go out after the ack.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ecabinet.errors import Conflict, EcabinetError, RateLimited, TooLarge
from ecabinet.logs import get_logger
from ecabinet.protocol import REGISTRY, CommandSpec
from ecabinet.realtime.publisher import publish
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.context import CommandContext, OutEvent, load_actor, require_roles
from ecabinet.storage.models import CommandReceipt
from ecabinet.validation import validate

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
MAX_COMMAND_BYTES = 128 * 1024
INTERNAL = {"code": "internal", "message": "Lỗi máy chủ (internal error)."}


@dataclass
class TokenBucket:
    """Per-connection command budget: ``rate`` a second, bursts up to ``burst``."""

    rate: float = 20.0
    burst: float = 40.0
    tokens: float = 40.0
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


def run_command(
    session: Session, spec: CommandSpec, user: SessionInfo, payload: Any
) -> tuple[dict[str, Any], list[OutEvent]]:
    """The transaction of one command. A retried client id returns the first answer."""
    receipt = _receipt(session, user.user_id, payload.client_id)
    if receipt is not None:
        if receipt.command != spec.name:
            raise Conflict(
                "Mã lệnh (client_id) đã được dùng cho lệnh khác.", code="client_id_reused"
            )
        return {**receipt.response, "duplicate": True}, []
    meeting, actor = load_actor(session, user, payload.meeting_id, lock=True)
    require_roles(actor, spec.roles, spec.name)
    ctx = CommandContext(session, meeting, actor)
    response = dict(spec.handler(session, ctx, payload) or {})
    seqs = [ev.seq for ev in ctx.events if ev.seq is not None]
    if seqs:
        response["seq"] = max(seqs)
    session.add(
        CommandReceipt(
            user_id=user.user_id, client_id=payload.client_id, command=spec.name, response=response
        )
    )
    return response, ctx.events


def _receipt(session: Session, user_id: int, client_id: str) -> CommandReceipt | None:
    return session.exec(
        select(CommandReceipt).where(
            CommandReceipt.user_id == user_id, CommandReceipt.client_id == client_id
        )
    ).first()


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.buckets: dict[str, TokenBucket] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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
        wait = self.buckets.setdefault(sid, TokenBucket()).take(time.monotonic())
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
            try:
                response, events = await self.runtime.db.write(run_command, spec, user, payload)
            except IntegrityError:
                # The same client id committed concurrently (PostgreSQL): answer with its receipt.
                response, events = await self.runtime.db.read(
                    self._retry_answer, spec, user, payload
                )
        except EcabinetError as exc:
            return error_ack(exc)
        except Exception:
            log.exception("command.failed", command=spec.name)
            return {"ok": False, "error": INTERNAL}
        if events:
            self.publish_after_ack(events)
        return {"ok": True, **response}

    def _retry_answer(
        self, session: Session, spec: CommandSpec, user: SessionInfo, payload: Any
    ) -> tuple[dict[str, Any], list[OutEvent]]:
        receipt = _receipt(session, user.user_id, payload.client_id)
        if receipt is None:
            raise Conflict("Lệnh xung đột; hãy thử lại.", code="conflict")
        return {**receipt.response, "duplicate": True}, []

    def publish_after_ack(self, events: list[OutEvent]) -> None:
        """Publish on the next loop turn: the ack, queued when the handler returns, goes first."""

        async def later() -> None:
            await asyncio.sleep(0)
            await publish(self.runtime, events)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
