"""The application factory: one ASGI app (Starlette with the Socket.IO server in front)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import socketio
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ecabinet.core import i18n
from ecabinet.core.errors import ConfigError, EcabinetError
from ecabinet.core.logs import get_logger
from ecabinet.core.proxies import TrustedProxies
from ecabinet.core.ratelimit import Counters
from ecabinet.core.settings import Settings
from ecabinet.realtime import server as realtime_server
from ecabinet.realtime.publisher import publish
from ecabinet.rendering.queue import RenderQueue
from ecabinet.runtime import Runtime
from ecabinet.services import audit
from ecabinet.services.documents import log_conversion_setup
from ecabinet.services.documents.rendering import RenderService
from ecabinet.services.kernel.context import OutEvent
from ecabinet.storage import migrate
from ecabinet.storage.database import Database
from ecabinet.web.common import handle_error, handle_http_error, handle_unexpected
from ecabinet.web.locale import request_locale
from ecabinet.web.routes import ROUTES
from ecabinet.web.security import CrossSiteGuard, SecurityHeaders

log = get_logger(__name__)


def open_database(settings: Settings) -> Database:
    """Connect and (by default) migrate; a failure is one ``ConfigError`` line, not a traceback."""
    assert settings.database_url is not None
    db = Database(settings.database_url)
    assert settings.secret_key is not None and settings.audit_anchor_log is not None
    audit.configure(db.engine, secret_key=settings.secret_key, anchor_log=settings.audit_anchor_log)
    try:
        db.ping()
        if settings.migrate_on_start:
            migrate.upgrade(db.engine)
    except DBAPIError as exc:
        db.close()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        safe_url = db.engine.url.render_as_string(hide_password=True)
        raise ConfigError("ECABINET_DATABASE_URL", f"cannot use {safe_url}: {reason}") from None
    return db


def templates_for(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=settings.clients_dir / "web" / "templates")
    templates.env.globals["app_name"] = "eCabinet"
    templates.env.globals["timezone"] = settings.timezone
    i18n.install(templates.env, settings.clients_dir / "web" / "i18n", request_locale)
    zone = ZoneInfo(settings.timezone)

    def localtime(value: str | datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        """Dates as people in the meeting's time zone read them (day first, 24-hour)."""
        if value is None:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(zone).strftime(fmt)

    templates.env.filters["localtime"] = localtime
    return templates


def build_render_service(rt: Runtime, queue: RenderQueue | None = None) -> RenderService:
    """The render pipeline of this process (the queue the settings ask for, unless given); it
    tells meetings through the publisher."""

    async def publish_events(events: list[OutEvent]) -> None:
        await publish(rt, events)

    return RenderService(rt.settings, rt.db, rt.metrics, publish_events, queue)


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """Build the application from settings (read from the environment only when none are given)."""
    settings = (settings if settings is not None else Settings()).prepare()
    db = open_database(settings)
    rt = Runtime(
        settings=settings,
        db=db,
        sio=realtime_server.build_server(settings.redis_url, settings.redis_channel),
        templates=templates_for(settings),
        counters=Counters(settings.redis_url, namespace=settings.redis_channel),
    )
    realtime_server.register(rt)
    rt.renders = build_render_service(rt)

    def presented_first(events: list[Any]) -> None:
        # The page the presenter turns to goes to the front of the render queue.
        if rt.renders is not None:
            rt.renders.notice(events)

    rt.listeners.append(presented_first)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        log.info(
            "server.started",
            data_dir=str(settings.data_dir),
            database=db.engine.url.render_as_string(hide_password=True),
            redis=bool(settings.redis_url),
        )
        await realtime_server.start_manager(rt.sio)
        if rt.renders is not None:
            rt.renders.start()
        try:
            yield
        finally:
            if rt.renders is not None:
                await rt.renders.close()
            if rt.sockets is not None:
                await rt.sockets.close()
            await realtime_server.close_manager(rt.sio)
            db.close()

    web_dir = settings.clients_dir / "web"
    rt.conversion_problem = log_conversion_setup(settings)
    # Served from the npm packages (package.json), never a CDN: the Socket.IO client, and the
    # Noto Sans font with its stylesheet, so that Vietnamese looks the same on every device.
    vendor = {
        "socket.io": web_dir / "node_modules" / "socket.io-client" / "dist",
        "noto-sans": web_dir / "node_modules" / "@fontsource-variable" / "noto-sans",
    }
    for folder in vendor.values():
        if not folder.is_dir():
            log.warning("static.missing", path=str(folder), hint="run: npm ci --prefix clients/web")
    routes: list[Any] = [
        *ROUTES,
        *(
            Mount(f"/static/vendor/{name}", StaticFiles(directory=folder, check_dir=False))
            for name, folder in vendor.items()
        ),
        Mount("/static", StaticFiles(directory=web_dir / "static", check_dir=False), name="static"),
    ]
    web = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(CrossSiteGuard, secure_cookies=settings.secure_cookies),
        ],
        exception_handlers={
            EcabinetError: handle_error,
            HTTPException: handle_http_error,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    web.state.runtime = rt
    return Application(rt, web)


class Application(socketio.ASGIApp):  # type: ignore[misc]
    """Both transports (Socket.IO in front of Starlette) behind one filter of forwarded headers:
    believed from ``ECABINET_TRUSTED_PROXIES``, removed from everyone's requests."""

    def __init__(self, rt: Runtime, web: Starlette) -> None:
        super().__init__(rt.sio, other_asgi_app=web)
        self.runtime = rt
        self._front = TrustedProxies(super().__call__, rt.settings.proxy_networks)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._front(scope, receive, send)


def app_from_env() -> socketio.ASGIApp:
    """Factory for ``uvicorn --factory ecabinet.app:app_from_env`` (several worker processes)."""
    from ecabinet.core import logs

    settings = Settings()
    logs.configure(json_lines=settings.log_json)
    return create_app(settings)
