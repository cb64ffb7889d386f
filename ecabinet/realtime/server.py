"""The python-socketio server: the manager is chosen by configuration, handlers stay thin."""

from __future__ import annotations

import asyncio
import contextlib
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import socketio

from ecabinet.errors import EcabinetError, Unauthenticated
from ecabinet.logs import get_logger
from ecabinet.protocol import Empty, command
from ecabinet.services import accounts

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
SESSION_COOKIE = "ecabinet_session"
MAX_MESSAGE_BYTES = 256 * 1024


def build_manager(redis_url: str | None) -> socketio.AsyncManager:
    """In-process rooms by default; with Redis, rooms are shared between server processes."""
    if redis_url:
        return socketio.AsyncRedisManager(redis_url)
    return socketio.AsyncManager()


def build_server(redis_url: str | None) -> socketio.AsyncServer:
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=build_manager(redis_url),
        cors_allowed_origins=[],  # same origin only: pages and sockets are served together
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        ping_interval=20,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )


async def close_manager(sio: socketio.AsyncServer) -> None:
    """Stop the Redis listener and close its connections when the server shuts down."""
    manager = sio.manager
    if not isinstance(manager, socketio.AsyncRedisManager):
        return
    listener = getattr(manager, "thread", None)
    if isinstance(listener, asyncio.Task):
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    if manager.pubsub is not None:
        await manager.pubsub.aclose()
    if manager.redis is not None:
        await manager.redis.aclose()


def token_from_handshake(environ: dict[str, Any], auth: Any) -> str | None:
    """The Python client sends ``{"token": ...}``; browsers send the session cookie."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    raw = environ.get("HTTP_COOKIE", "")
    if raw:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(raw)
        if SESSION_COOKIE in cookie:
            return cookie[SESSION_COOKIE].value
    return None


@command("whoami", Empty, roles={"user"}, custom=True,
         summary="Who this connection is signed in as: `{ok, user: {id, username, full_name}}`.")
def _whoami_doc(*_args: Any) -> None:
    """Served by the handler registered in ``register``; declared here for the protocol."""


def refusal(exc: EcabinetError) -> socketio.exceptions.ConnectionRefusedError:
    """The client receives ``{"message": ..., "data": {"code": ..., "message": ...}}``."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict())


def register(runtime: Runtime) -> None:
    # Importing the feature modules declares their commands, events and snapshot parts.
    from ecabinet.realtime import dispatch, join
    from ecabinet.services import features

    features.load()
    sio = runtime.sio
    dispatcher = dispatch.Dispatcher(runtime)
    dispatcher.register()
    join.register(runtime, dispatcher)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = token_from_handshake(environ, auth)
        if token is None:
            raise refusal(
                Unauthenticated("Chưa đăng nhập (not signed in).", code="unauthenticated")
            )
        try:
            info = await runtime.db.read(accounts.resolve_session, token)
        except EcabinetError as exc:
            raise refusal(exc) from None
        await sio.save_session(sid, {"user": info})
        await sio.enter_room(sid, f"user:{info.user_id}")
        await sio.enter_room(sid, f"session:{info.session_id}")
        runtime.metrics.connected_clients.inc()
        log.info("socket.connected", user=info.username, sid=sid)

    async def disconnect(sid: str, reason: Any = None) -> None:
        runtime.metrics.connected_clients.dec()
        dispatcher.forget(sid)

    async def whoami(sid: str, _data: Any = None) -> dict[str, Any]:
        """Who this connection is signed in as (also a cheap liveness probe for clients)."""
        info: accounts.SessionInfo = (await sio.get_session(sid))["user"]
        return {
            "ok": True,
            "user": {"id": info.user_id, "username": info.username, "full_name": info.full_name},
        }

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("whoami", whoami)


async def drop_sessions(runtime: Runtime, session_ids: list[int]) -> None:
    """Disconnect the sockets of ended sign-in sessions (those connected to this process)."""
    sio = runtime.sio
    for session_id in session_ids:
        room = f"session:{session_id}"
        for sid, _eio_sid in list(sio.manager.get_participants("/", room)):
            await sio.emit("auth.session_ended", {"reason": "signed_out"}, to=sid)
            await sio.disconnect(sid)
