"""The protocol, declared once: Socket.IO commands, meeting events and HTTP endpoints.

Each declaration carries its pydantic schema, who may use it and a one-line description.
The realtime and web adapters dispatch from these registries, the tests check every emitted
event against its schema, and ``ecabinet protocol write`` writes docs/protocol.md from them.
This package depends on pydantic only; it never imports the layers that declare into it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ecabinet.protocol.roles import Role, Roles

# The cookie that carries a browser's sign-in session (clients may send a bearer token instead).
SESSION_COOKIE = "ecabinet_session"
# Who receives an event: the whole meeting (observers may get a redacted payload), the chair
# and secretaries, or one user's own devices.
Audience = Literal["meeting", "staff", "user"]


class Schema(BaseModel):
    """Base of every payload: unknown fields are refused, so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Command(Schema):
    """Every command names its meeting and carries a client id so that retries apply once."""

    meeting_id: int = Field(ge=1)
    client_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class Empty(Schema):
    pass


@dataclass(frozen=True)
class CommandSpec:
    name: str
    schema: type[Schema]
    roles: Roles
    summary: str
    handler: Callable[..., Any]
    errors: tuple[str, ...] = ()
    # Served by its own adapter code (joining a meeting), not by the generic dispatcher.
    custom: bool = False
    # Group-committed with other batched commands (casting a ballot): no meeting row lock, one
    # transaction for the commands that arrive together (ecabinet.storage.batching); for small,
    # independent, high-rate commands whose conflicts are caught by uniqueness constraints. The
    # handler refuses before it writes, writes through ``defer_insert`` and emits no logged
    # events.
    batched: bool = False


@dataclass(frozen=True)
class EventSpec:
    name: str
    schema: type[BaseModel]
    audience: Audience
    summary: str
    sent_by: str = ""
    logged: bool = True  # written to the meeting's event log with a sequence number


@dataclass(frozen=True)
class EndpointSpec:
    """One HTTP endpoint: the web adapter builds its route from this, the docs and OpenAPI
    describe it from this, the authorisation matrix walks these."""

    method: str
    path: str  # Starlette's template: ``{name}`` or ``{name:int}``
    summary: str
    roles: Roles
    body: type[BaseModel] | None = None
    errors: tuple[str, ...] = ()
    # The Starlette handler, ``async def handler(request) -> Response``.
    handler: Callable[..., Any] | None = None
    # The area it belongs to (OpenAPI tags): by default the declaring module's name.
    tag: str = ""
    # A multipart form (an upload): the text fields besides the ``file`` part.
    form: type[BaseModel] | None = None
    # The status of a successful answer (201 for a creation, 303 for a form's redirect).
    status: int = 200


@dataclass
class Registry:
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    events: dict[str, EventSpec] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], EndpointSpec] = field(default_factory=dict)


REGISTRY = Registry()
F = TypeVar("F", bound=Callable[..., Any])


def command(
    name: str,
    schema: type[Schema],
    *,
    roles: Iterable[Role],
    summary: str,
    errors: tuple[str, ...] = (),
    custom: bool = False,
    batched: bool = False,
) -> Callable[[F], F]:
    """Declare a Socket.IO command served by the decorated service function.

    The function is called as ``fn(session, ctx, payload)`` inside the command's transaction and
    returns the ack's data (a dict) or ``None``; events go through ``ctx.emit``.
    """

    def register(fn: F) -> F:
        if name in REGISTRY.commands:
            raise ValueError(f"command {name} declared twice")
        REGISTRY.commands[name] = CommandSpec(
            name, schema, frozenset(roles), summary, fn, errors, custom, batched
        )
        return fn

    return register


def event(
    type_: str,
    schema: type[BaseModel],
    *,
    audience: Audience,
    summary: str,
    sent_by: str = "",
    logged: bool = True,
) -> type[BaseModel]:
    """Declare an event type that the server pushes to clients."""
    if type_ in REGISTRY.events:
        raise ValueError(f"event {type_} declared twice")
    REGISTRY.events[type_] = EventSpec(type_, schema, audience, summary, sent_by, logged)
    return schema


def endpoint(
    method: str,
    path: str,
    *,
    roles: Iterable[Role],
    summary: str,
    body: type[BaseModel] | None = None,
    errors: tuple[str, ...] = (),
    form: type[BaseModel] | None = None,
    status: int = 200,
    tag: str = "",
) -> Callable[[F], F]:
    """Declare the HTTP endpoint served by the decorated handler.

    The declaration is the one source of the route (``ecabinet.web.routes``), the docs, the
    OpenAPI document and the authorisation matrix's list of endpoints.
    """

    def register(fn: F) -> F:
        key = (method.upper(), path)
        if key in REGISTRY.endpoints:
            raise ValueError(f"endpoint {method} {path} declared twice")
        area = tag or fn.__module__.rsplit(".", 1)[-1].removesuffix("_api")
        REGISTRY.endpoints[key] = EndpointSpec(
            method.upper(), path, summary, frozenset(roles), body, errors, fn, area, form, status
        )
        return fn

    return register
