"""The command pipeline both transports run: authorise, apply once in one transaction, answer.

A Socket.IO command (``execute``) and an HTTP meeting action (``run_action``) go the same way:
the caller's role in the meeting is checked on the locked meeting row, the service function
changes rows and emits events into ``CommandContext``, and the transaction commits. What comes
back is the answer and the events to publish; the transport answers first and publishes after
(``nothing acked is ever lost``: commit, then ack, then publish).

Commands carry a client-generated id: the first answer is kept as a ``CommandReceipt`` in the
same transaction, so a retry after a lost ack gets that answer again (``duplicate: true``) and
changes nothing. Batched commands (``spec.batched``: ballots) are group-committed with the
others that arrive together (``ecabinet.storage.batching``) on a leaner path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, select

from ecabinet.core.clock import utcnow
from ecabinet.core.errors import Conflict
from ecabinet.protocol import CommandSpec
from ecabinet.protocol.roles import Roles
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import (
    BATCHED,
    Actor,
    CommandContext,
    OutEvent,
    batched_commands,
    load_actor,
    load_actor_cached,
    require_roles,
)
from ecabinet.storage.batching import batch_cache, batch_calls, defer_insert
from ecabinet.storage.database import Database, invalid_data
from ecabinet.storage.models import CommandReceipt, Meeting

T = TypeVar("T")
Touched = set[tuple[str, Any]]
RECEIPT = CommandReceipt.__table__  # type: ignore[attr-defined]


class Outcome(NamedTuple):
    """A committed command: its answer, the events to publish, the live views it changed."""

    response: dict[str, Any]
    events: list[OutEvent]
    touched: Touched


def authorised(
    session: Session, user: SessionInfo, meeting_id: int, roles: Roles, action: str, *,
    lock: bool = False,
) -> tuple[Meeting, Actor]:
    """The meeting and the caller, who must hold one of ``roles`` in it (``lock``: the meeting
    row stays locked until the commit, so changes to one meeting apply one after another)."""
    meeting, actor = load_actor(session, user, meeting_id, lock=lock)
    require_roles(actor, roles, action)
    return meeting, actor


def _reused(found_command: str, spec: CommandSpec) -> None:
    if found_command != spec.name:
        raise Conflict("Mã lệnh (client_id) đã được dùng cho lệnh khác.", code="client_id_reused")


def run_command(session: Session, spec: CommandSpec, user: SessionInfo, payload: Any) -> Outcome:
    """The transaction of one command. A retried client id returns the first answer.

    Batched commands (``spec.batched``) go through ``run_batched`` instead.
    """
    receipt = _receipt(session, user.user_id, payload.client_id)
    if receipt is not None:
        _reused(receipt.command, spec)
        return Outcome({**receipt.response, "duplicate": True}, [], set())
    meeting, actor = authorised(session, user, payload.meeting_id, spec.roles, spec.name,
                                lock=True)
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
    return Outcome(response, ctx.events, ctx.touched)


def run_batched(session: Session, spec: CommandSpec, user: SessionInfo, payload: Any) -> Outcome:
    """``run_command`` for batched commands, lean because it runs a thousand times a second:
    the actor from the batch's cache, no meeting lock, no logged events, and writes deferred
    to the end of the batch (``defer_insert``): the handler refuses before it writes."""
    cache = batch_cache(session)
    if BATCHED not in cache:
        cache[BATCHED] = [(args[0].name, args[1], args[2]) for fn, args in batch_calls(session)
                          if fn is run_batched]
    found = _batch_receipts(session).get((user.user_id, payload.client_id))
    if found is not None:
        _reused(found[0], spec)
        return Outcome({**found[1], "duplicate": True}, [], set())
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
    _batch_receipts(session)[(user.user_id, payload.client_id)] = (spec.name, response)
    return Outcome(response, ctx.events, ctx.touched)


def _batch_receipts(session: Session) -> dict[tuple[int, str], Any]:
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


def retry_answer(session: Session, spec: CommandSpec, user: SessionInfo, payload: Any) -> Outcome:
    """The answer to a command whose client id another transaction committed meanwhile."""
    receipt = _receipt(session, user.user_id, payload.client_id)
    if receipt is None:
        raise Conflict("Lệnh xung đột; hãy thử lại.", code="conflict")
    return Outcome({**receipt.response, "duplicate": True}, [], set())


async def execute(db: Database, spec: CommandSpec, user: SessionInfo, payload: Any) -> Outcome:
    """Run a validated command for ``user`` and commit it; raises ``EcabinetError`` when it is
    refused (nothing changed). Publish ``events`` only after answering the caller."""
    try:
        try:
            if spec.batched:
                outcome: Outcome = await db.write_batched(
                    run_batched, spec, user, payload, savepoint=False
                )
                return outcome
            return await db.write(run_command, spec, user, payload)
        except IntegrityError:
            # The same client id committed concurrently (PostgreSQL): answer with its receipt.
            return await db.read(retry_answer, spec, user, payload)
    except DataError:  # a batched command's value PostgreSQL refuses (an id past 32 bits)
        raise invalid_data() from None


async def run_action(
    db: Database, user: SessionInfo, meeting_id: int, roles: Roles, action: str,
    fn: Callable[..., T], *args: Any,
) -> tuple[T, list[OutEvent]]:
    """Run ``fn(session, ctx, *args)`` for ``user`` on the locked meeting in one transaction, as
    a command does (without a client id: HTTP callers retry by reading); return its result and
    the events to publish after the commit."""

    def transaction(session: Session) -> tuple[T, list[OutEvent]]:
        meeting, actor = authorised(session, user, meeting_id, roles, action, lock=True)
        ctx = CommandContext(session, meeting, actor)
        return fn(session, ctx, *args), ctx.events

    return await db.write(transaction)


async def run_read(
    db: Database, user: SessionInfo, meeting_id: int, roles: Roles, action: str,
    fn: Callable[..., T], *args: Any,
) -> T:
    """Run ``fn(session, actor, meeting, *args)`` in a read transaction as ``user``. A meeting the
    caller may not see answers ``meeting_not_found``, one they may see but not act on
    ``forbidden_role``."""

    def transaction(session: Session) -> T:
        meeting, actor = authorised(session, user, meeting_id, roles, action)
        return fn(session, actor, meeting, *args)

    return await db.read(transaction)
