"""Every HTTP route of the application, built from the endpoint declarations.

A handler is served because it is declared (``@endpoint`` in the modules imported below): the
declaration's path, method and handler become the Starlette route, so no route can exist
without its roles, errors and documentation. Static files are mounted by the application
(``ecabinet.app``), not declared here.
"""

from __future__ import annotations

from starlette.routing import Route

from ecabinet.protocol import REGISTRY, EndpointSpec
from ecabinet.web import (
    agenda_api,
    annotations_api,
    auth,
    bodies_api,
    documents,
    health,
    live_api,
    meetings_api,
    openapi_api,
    packs_api,
    pages,
    polls_api,
)

# The modules whose handlers are declared: imported for their ``@endpoint`` declarations.
MODULES = (
    agenda_api, annotations_api, auth, bodies_api, documents, health, live_api, meetings_api,
    openapi_api, packs_api, pages, polls_api,
)


def _precedence(spec: EndpointSpec) -> tuple[tuple[int, str], ...]:
    """Fixed path segments before parameters at the same place: Starlette takes the first
    route that matches, and ``/pages/{page}/text`` must win over ``/pages/{page}/{size}``."""
    return tuple((1, "") if part.startswith("{") else (0, part)
                 for part in spec.path.strip("/").split("/"))


def build_routes() -> list[Route]:
    """One route per declared endpoint, in an order where no route hides another."""
    routes = []
    for spec in sorted(REGISTRY.endpoints.values(), key=_precedence):
        if spec.handler is None:
            raise RuntimeError(f"{spec.method} {spec.path} is declared without a handler")
        routes.append(Route(spec.path, spec.handler, methods=[spec.method]))
    return routes


ROUTES: list[Route] = build_routes()
