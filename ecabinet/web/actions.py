"""Changing a meeting over HTTP the same way commands do: one transaction, then publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session
from starlette.requests import Request

from ecabinet.protocol.roles import Roles
from ecabinet.services.kernel.context import CommandContext, load_actor, require_roles
from ecabinet.web.common import require_user, runtime

T = TypeVar("T")


async def meeting_action(
    request: Request, meeting_id: int, roles: Roles, action: str,
    fn: Callable[..., T], *args: Any,
) -> T:
    """Run ``fn(session, ctx, *args)`` for the caller on a locked meeting; publish after commit."""
    rt = runtime(request)
    user = await require_user(request)

    def transaction(session: Session) -> tuple[T, list[Any]]:
        meeting, actor = load_actor(session, user, meeting_id, lock=True)
        require_roles(actor, roles, action)
        ctx = CommandContext(session, meeting, actor)
        result = fn(session, ctx, *args)
        return result, ctx.events

    result, events = await rt.db.write(transaction)
    if events and rt.sockets is not None:
        await rt.sockets.publish(events)
    return result
