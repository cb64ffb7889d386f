"""The protocol registry, the served routes and handlers, and docs/protocol.md agree."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Match, Route, Router

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


def concrete(path: str) -> str:
    """A request path for a route template: numbers for ``int`` parameters, a word that is no
    fixed segment of any route for the others."""
    return re.sub(r"\{(\w+)(:(\w+))?\}", lambda m: "7" if m.group(3) == "int" else "w0rd", path)


def test_every_declared_endpoint_is_reached_by_its_own_handler() -> None:
    """The routes are generated in an order where none hides another: a request for each
    declared endpoint lands on the handler declared for it, with its path parameters."""
    router = Router(routes=ROUTES)
    for (method, path), spec in REGISTRY.endpoints.items():
        scope = {"type": "http", "method": method, "path": concrete(path), "root_path": ""}
        found = [(route, child) for route in router.routes
                 for match, child in [route.matches(scope)] if match is Match.FULL]
        assert found, f"{method} {path}: no route answers it"
        route, child = found[0]
        assert isinstance(route, Route), route
        assert route.endpoint is spec.handler, f"{method} {path} is answered by {route.path}"
        names = set(re.findall(r"\{(\w+)", path))
        assert set(child["path_params"]) == names
        for name, value in child["path_params"].items():
            assert value == (7 if f"{{{name}:int}}" in path else "w0rd")


def test_every_socketio_handler_is_a_declared_command(app: Any) -> None:
    handlers = set(app.runtime.sio.handlers["/"]) - SOCKETIO_LIFECYCLE
    assert handlers == set(REGISTRY.commands)


def test_every_command_declares_roles_and_a_summary() -> None:
    for command in REGISTRY.commands.values():
        assert command.roles and command.summary, command.name
    for event in REGISTRY.events.values():
        assert event.summary, event.name
