"""Small pieces the meeting-preparation endpoints share: reads as the caller, int query values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

from ecabinet.core.errors import InvalidInput
from ecabinet.protocol.roles import Roles
from ecabinet.services.kernel.pipeline import run_read
from ecabinet.web.common import require_user, runtime

T = TypeVar("T")


async def meeting_read(
    request: Request,
    meeting_id: int,
    roles: Roles,
    action: str,
    fn: Callable[..., T],
    *args: Any,
) -> T:
    """Run ``fn(session, actor, meeting, *args)`` in a read transaction as the caller.

    A meeting the caller may not see answers ``meeting_not_found`` (load_actor decides).
    """
    user = await require_user(request)
    return await run_read(runtime(request).db, user, meeting_id, roles, action, fn, *args)


def int_param(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            f"Tham số '{name}' phải là số nguyên (must be an integer).",
            code="invalid_payload",
            details=[{"field": name, "message": "must be an integer"}],
        ) from None
    if value < 0:
        raise InvalidInput(
            f"Tham số '{name}' không được âm (must not be negative).",
            code="invalid_payload",
            details=[{"field": name, "message": "must not be negative"}],
        )
    return value


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")
