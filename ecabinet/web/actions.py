"""Changing a meeting over HTTP the same way commands do: one transaction, then publish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

from ecabinet.protocol.roles import Roles
from ecabinet.services.kernel.pipeline import run_action
from ecabinet.web.common import require_user, runtime

T = TypeVar("T")


async def meeting_action(
    request: Request, meeting_id: int, roles: Roles, action: str,
    fn: Callable[..., T], *args: Any,
) -> T:
    """Run ``fn(session, ctx, *args)`` for the caller on a locked meeting; publish after commit."""
    rt = runtime(request)
    user = await require_user(request)
    result, events = await run_action(rt.db, user, meeting_id, roles, action, fn, *args)
    if events and rt.sockets is not None:
        await rt.sockets.publish(events)
    return result
