"""Every HTTP route of the application, collected from the web modules."""

from __future__ import annotations

from typing import Any

from ecabinet.web import (
    agenda_api,
    annotations_api,
    auth,
    bodies_api,
    documents,
    health,
    live_api,
    meetings_api,
    packs_api,
    pages,
    polls_api,
)

ROUTES: list[Any] = [*health.routes, *auth.routes, *pages.routes]
ROUTES += [*bodies_api.routes, *meetings_api.routes, *agenda_api.routes, *packs_api.routes]
ROUTES += live_api.routes
ROUTES += documents.routes
ROUTES += polls_api.routes
ROUTES += annotations_api.routes
