"""The protocol registry, the served routes and handlers, and docs/protocol.md agree."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ecabinet.app.declarations import load_declarations
from ecabinet.protocol import REGISTRY
from ecabinet.protocol import docs as protocol_doc
from ecabinet.web.routes import ROUTES

load_declarations()
SOCKETIO_LIFECYCLE = {"connect", "disconnect"}


def test_docs_protocol_md_is_current() -> None:
    assert protocol_doc.DOC.read_text(encoding="utf-8") == protocol_doc.render(), (
        "docs/protocol.md is stale: run `python -m ecabinet.protocol.docs`"
    )


def test_every_http_route_is_declared() -> None:
    served = {(method, route.path) for route in ROUTES if isinstance(route, Route)
              for method in (route.methods or set()) if method != "HEAD"}
    assert served == set(REGISTRY.endpoints)


def test_every_socketio_handler_is_a_declared_command(app: Any) -> None:
    handlers = set(app.runtime.sio.handlers["/"]) - SOCKETIO_LIFECYCLE
    assert handlers == set(REGISTRY.commands)


def test_every_command_declares_roles_and_a_summary() -> None:
    for spec in REGISTRY.commands.values():
        assert spec.roles and spec.summary, spec.name
    for spec in REGISTRY.events.values():
        assert spec.summary, spec.name
