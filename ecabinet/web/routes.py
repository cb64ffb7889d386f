"""Every HTTP route of the application, collected from the web modules."""

from __future__ import annotations

from typing import Any

from ecabinet.web import auth, health, pages

ROUTES: list[Any] = [*health.routes, *auth.routes, *pages.routes]
