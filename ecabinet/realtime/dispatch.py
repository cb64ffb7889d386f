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

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, select

from ecabinet.core.errors import Conflict, EcabinetError, RateLimited, TooLarge
from ecabinet.core.logs import get_logger
from ecabinet.core.validation import validate
from ecabinet.protocol import REGISTRY, CommandSpec
from ecabinet.realtime.publisher import publish
from ecabinet.realtime.refresh import LiveRefresher
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import (
    BATCHED,
    CommandContext,
    OutEvent,
    batched_commands,
    load_actor,
    load_actor_cached,
    require_roles,
)
from ecabinet.storage.batching import batch_cache, batch_calls, defer_insert
from ecabinet.storage.database import invalid_data
from ecabinet.storage.models import CommandReceipt, utcnow

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


Touched = set[tuple[str, Any]]


def run_command(
    session: Session, spec: CommandSpec, user: SessionInfo, payload: Any
) -> tuple[dict[str, Any], list[OutEvent], Touched]:
    """The transaction of one command. A retried client id returns the first answer.

    Batched commands (``spec.batched``) go through ``run_batched`` instead.
    """
    receipt = _receipt(session, user.user_id, payload.client_id)
    if receipt is not None:
        if receipt.command != spec.name:
            raise Conflict(
                "Mã lệnh (client_id) đã được dùng cho lệnh khác.", code="client_id_reused"
            )
        return {**receipt.response, "duplicate": True}, [], set()
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
    return response, ctx.events, ctx.touched


RECEIPT = CommandReceipt.__table__  # type: ignore[attr-defined]


def run_batched(
    session: Session, spec: CommandSpec, user: SessionInfo, payload: Any
) -> tuple[dict[str, Any], list[OutEvent], Touched]:
    """``run_command`` for batched commands, lean because it runs a thousand times a second:
    the actor from the batch's cache, no meeting lock, no logged events, and writes deferred
    to the end of the batch (``defer_insert``): the handler refuses before it writes."""
    cache = batch_cache(session)
    if BATCHED not in cache:
        cache[BATCHED] = [(args[0].name, args[1], args[2]) for fn, args in batch_calls(session)
                          if fn is run_batched]
    found = _batch_receipts(session, spec).get((user.user_id, payload.client_id))
    if found is not None:
        if found[0] != spec.name:
            raise Conflict(
                "Mã lệnh (client_id) đã được dùng cho lệnh khác.", code="client_id_reused"
            )
        return {**found[1], "duplicate": True}, [], set()
    meeting, actor = load_actor_cached(session, user, payload.meeting_id)
    require_roles(actor, spec.roles, spec.name)
    ctx = CommandContext(session, meeting, actor)
    response = dict(spec.handler(session, ctx, payload) or {})
    if any(ev.seq is not None for ev in ctx.events):
        raise RuntimeError(f"batched command {spec.name} emitted logged events")
    defer_insert(session, RECEIPT, {
        "user_id": user.user_id,
        "client_id": payload.client_id,
        "command": spec.name,
        "response": response,
        "created_at": utcnow(),
    })
    # A retry later in the same batch must find it (a failed command drops the whole cache).
    _batch_receipts(session, spec)[(user.user_id, payload.client_id)] = (spec.name, response)
    return response, ctx.events, ctx.touched


def _batch_receipts(session: Session, spec: CommandSpec) -> dict[tuple[int, str], Any]:
    """The receipts of this and the following batched commands of the batch, in one query
    (a cast that is a retry is rare; asking for each one would be a round trip per cast)."""
    cache = batch_cache(session)
    if "receipts" not in cache:
        keys = [(caller.user_id, payload.client_id)
                for _name, caller, payload in batched_commands(session)]
        found: dict[tuple[int, str], Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = session.connection().execute(
                sa.select(RECEIPT.c.user_id, RECEIPT.c.client_id, RECEIPT.c.command,
                          RECEIPT.c.response)
                .where(sa.tuple_(RECEIPT.c.user_id, RECEIPT.c.client_id).in_(chunk))
            ).all()
            found.update({(r[0], r[1]): (r[2], r[3]) for r in rows})
        cache["receipts"] = found
    receipts: dict[tuple[int, str], Any] = cache["receipts"]
    return receipts


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
            try:
                if spec.batched:
                    response, events, touched = await self.runtime.db.write_batched(
                        run_batched, spec, user, payload, savepoint=False
                    )
                else:
                    response, events, touched = await self.runtime.db.write(
                        run_command, spec, user, payload
                    )
            except IntegrityError:
                # The same client id committed concurrently (PostgreSQL): answer with its receipt.
                response, events, touched = await self.runtime.db.read(
                    self._retry_answer, spec, user, payload
                )
        except EcabinetError as exc:
            return error_ack(exc)
        except DataError:  # a batched command's value PostgreSQL refuses (an id past 32 bits)
            return error_ack(invalid_data())
        except Exception:
            log.exception("command.failed", command=spec.name)
            return {"ok": False, "error": INTERNAL}
        if events:
            self.publish_after_ack(events)
        for view, key in touched:
            self.live.touch(view, getattr(payload, "meeting_id"), key)  # noqa: B009
        return {"ok": True, **response}

    def _retry_answer(
        self, session: Session, spec: CommandSpec, user: SessionInfo, payload: Any
    ) -> tuple[dict[str, Any], list[OutEvent], Touched]:
        receipt = _receipt(session, user.user_id, payload.client_id)
        if receipt is None:
            raise Conflict("Lệnh xung đột; hãy thử lại.", code="conflict")
        return {**receipt.response, "duplicate": True}, [], set()

    def publish_after_ack(self, events: list[OutEvent]) -> None:
        """Publish on the next loop turn: the ack, queued when the handler returns, goes first."""

        async def later() -> None:
            await asyncio.sleep(0)
            await publish(self.runtime, events)

        task = asyncio.get_running_loop().create_task(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
