"""The python-socketio server: the manager is chosen by configuration, handlers stay thin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import socketio

from ecabinet.core.cookies import session_token
from ecabinet.core.errors import EcabinetError, Unauthenticated
from ecabinet.core.logs import get_logger
from ecabinet.core.proxies import handshake_origin_allowed
from ecabinet.protocol import Empty, command
from ecabinet.protocol.roles import SIGNED_IN
from ecabinet.realtime.managers import SESSION_ENDED, build_manager, drop_members
from ecabinet.realtime.managers import close_manager as close_manager  # for the app's lifespan
from ecabinet.realtime.managers import start_manager as start_manager
from ecabinet.realtime.presence import Presence
from ecabinet.realtime.publisher import publish
from ecabinet.services import accounts
from ecabinet.services.kernel.context import OutEvent

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
MAX_MESSAGE_BYTES = 256 * 1024


def build_server(redis_url: str | None, channel: str = "ecabinet") -> socketio.AsyncServer:
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=build_manager(redis_url, channel),
        # A browser's handshake must come from this server's own origin (its Host, or a trusted
        # proxy's X-Forwarded-Host/-Proto), against cross-site WebSocket hijacking. Clients
        # without an Origin are not browsers.
        cors_allowed_origins=handshake_origin_allowed,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        ping_interval=20,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )


def token_from_handshake(environ: dict[str, Any], auth: Any, *, secure: bool) -> str | None:
    """The Python client sends ``{"token": ...}``; browsers send the session cookie."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str):
        return str(auth["token"])
    return session_token(environ.get("HTTP_COOKIE"), secure=secure)


@command("whoami", Empty, roles=SIGNED_IN, custom=True,
         summary="Who this connection is signed in as: `{ok, user: {id, username, full_name}}`.")
def _whoami_doc(*_args: Any) -> None:
    """Served by the handler registered in ``register``; declared here for the protocol."""


def refusal(exc: EcabinetError) -> socketio.exceptions.ConnectionRefusedError:
    """The client receives ``{"message": ..., "data": {"code": ..., "message": ...}}``."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict())


def register(runtime: Runtime) -> None:
    # Importing the feature modules declares their commands, events and snapshot parts.
    from ecabinet.realtime import dispatch, ink, join, membership
    from ecabinet.services.kernel import features

    features.load()
    sio = runtime.sio
    dispatcher = dispatch.Dispatcher(runtime)
    dispatcher.register()
    presence = Presence.create(runtime)
    runtime.sockets = RealtimeSockets(runtime, presence)
    join.register(runtime, dispatcher, presence)
    membership.register(runtime, presence)
    ink_stream = ink.register(runtime, dispatcher)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = token_from_handshake(environ, auth, secure=runtime.settings.secure_cookies)
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
        ink_stream.forget(sid)
        await presence.disconnected(sid)

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
    """Tell the sockets of ended sign-in sessions, then drop them, on every server process (the
    Redis manager drops them on the others when the message reaches them)."""
    for session_id in session_ids:
        room = f"session:{session_id}"
        await runtime.sio.emit(SESSION_ENDED, {"reason": "signed_out"}, room=room)
        await drop_members(runtime.sio, room)


class RealtimeSockets:
    """The ``Sockets`` port of the runtime, served by this adapter."""

    def __init__(self, runtime: Runtime, presence: Presence) -> None:
        self.runtime = runtime
        self.presence = presence

    async def publish(self, events: Iterable[OutEvent]) -> None:
        await publish(self.runtime, events)

    async def end_sessions(self, session_ids: list[int]) -> None:
        await drop_sessions(self.runtime, session_ids)

    async def close(self) -> None:
        await self.presence.close()
