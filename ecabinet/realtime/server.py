"""The python-socketio server: the manager is chosen by configuration, handlers stay thin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import socketio

from ecabinet.core.errors import EcabinetError, Unauthenticated
from ecabinet.core.logs import get_logger
from ecabinet.protocol import Empty, command
from ecabinet.protocol.roles import SIGNED_IN
from ecabinet.realtime.presence import Presence
from ecabinet.realtime.publisher import publish
from ecabinet.services import accounts
from ecabinet.services.kernel.context import OutEvent

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

log = get_logger(__name__)
SESSION_COOKIE = "ecabinet_session"
MAX_MESSAGE_BYTES = 256 * 1024


SESSION_ENDED = "auth.session_ended"
RESUBSCRIBE_MAX = 5.0  # seconds between attempts to subscribe to Redis again, at most


class _DropEndedSessions(socketio.AsyncManager):  # type: ignore[misc]
    """After delivering ``auth.session_ended`` to a session's room, disconnect its sockets.

    Every process runs this on its own members when the message reaches it (the Redis manager
    hands messages from other processes to this same ``emit``), so "sign out everywhere" drops
    sockets on all processes, not only on the one that served the request.
    """

    async def emit(self, event: str, data: Any, namespace: str | None = None,
                   room: str | None = None, skip_sid: Any = None, callback: Any = None,
                   to: str | None = None, **kwargs: Any) -> Any:
        target = to or room
        result = await super().emit(event, data, namespace=namespace, room=target,
                                    skip_sid=skip_sid, callback=callback, **kwargs)
        if event == SESSION_ENDED and target and target.startswith("session:"):
            ns = namespace or "/"
            for sid, _eio_sid in list(self.get_participants(ns, target)):
                await self.server.disconnect(sid, namespace=ns, ignore_queue=True)
        return result


class LocalManager(_DropEndedSessions):
    """Rooms in this process only (one server process)."""


class RedisManager(socketio.AsyncRedisManager, _DropEndedSessions):  # type: ignore[misc]
    """Rooms shared by every server process through Redis pub/sub.

    python-socketio delivers an emit to this process's clients first and publishes it for the
    other processes only then, so their clients wait for this process's whole fan-out (about
    60 ms at 500 clients, docs/benchmarks.md). Here the publish starts first and runs alongside
    the local fan-out, so every process fans out at the same time; a slow Redis still cannot
    hold up the local clients.
    """

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("host_id") != self.host_id:
            await super()._handle_emit(message)  # another process's emit, from the listener
            return
        publishing = asyncio.get_running_loop().create_task(
            socketio.AsyncRedisManager._publish(self, dict(message))
        )
        try:
            await super()._handle_emit(message)
        finally:
            await publishing
            message["_published"] = True

    async def _publish(self, data: Any) -> None:
        if isinstance(data, dict) and data.pop("_published", False):
            return  # sent already, alongside the local fan-out
        await super()._publish(data)

    async def _redis_listen_with_retries(self) -> Any:
        """python-socketio's listening loop, with one addition for a lost subscription.

        While this process is not subscribed (Redis down or restarting), what the other
        processes publish never reaches it, and nothing tells its clients that they missed
        events. So once the subscription is back, this process closes its clients' connections
        (like a network drop: they reconnect by themselves) and each re-joins with the last
        sequence number it saw, getting what it missed from the event log. Retries back off up
        to ``RESUBSCRIBE_MAX`` seconds (python-socketio waits up to a minute).
        """
        retry, connect, lost = 1.0, True, False
        while True:
            try:
                if connect:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    retry, connect = 1.0, False
                    if lost:
                        lost = False
                        self.server.start_background_task(self._reconnect_local_clients)
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke, subscribe again (as python-socketio)
                log.warning("redis.subscription_lost", error=str(exc), retry_in=retry)
                connect, lost = True, True
                await asyncio.sleep(retry)
                retry = min(retry * 2, RESUBSCRIBE_MAX)

    async def _reconnect_local_clients(self) -> None:
        clients = {eio_sid for _sid, eio_sid in self.get_participants("/", None)}
        log.warning("redis.subscribed_again", reconnecting_clients=len(clients))
        for eio_sid in clients:
            # Engine.IO level: the client sees a closed transport and reconnects (a Socket.IO
            # disconnect would read as "signed out" to the browser client).
            await self.server.eio.disconnect(eio_sid)


def build_manager(redis_url: str | None, channel: str = "ecabinet") -> socketio.AsyncManager:
    """In-process rooms by default; with Redis, rooms are shared between the server processes
    that use the same ``channel`` (pub/sub channels ignore the Redis database number)."""
    if redis_url:
        return RedisManager(redis_url, channel=channel)
    return LocalManager()


def build_server(redis_url: str | None, channel: str = "ecabinet") -> socketio.AsyncServer:
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=build_manager(redis_url, channel),
        # None: a browser's handshake must come from this server's own origin (Host, or the
        # proxy's X-Forwarded-Host/-Proto), against cross-site WebSocket hijacking. ([] would
        # switch the Origin check off altogether.) Clients without an Origin are not browsers.
        cors_allowed_origins=None,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        ping_interval=20,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )


async def start_manager(sio: socketio.AsyncServer, timeout: float = 5.0) -> None:
    """Subscribe to Redis before serving: python-socketio would do it on the first connection,
    and anything the other processes broadcast before the subscription lands is lost."""
    manager = sio.manager
    if not isinstance(manager, socketio.AsyncRedisManager) or sio.manager_initialized:
        return
    sio.manager_initialized = True
    manager.initialize()
    deadline = asyncio.get_running_loop().time() + timeout
    while not (manager.pubsub is not None and manager.pubsub.subscribed):
        if asyncio.get_running_loop().time() > deadline:
            log.warning("redis.subscribe_slow", channel=manager.channel)
            return
        await asyncio.sleep(0.01)


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


@command("whoami", Empty, roles=SIGNED_IN, custom=True,
         summary="Who this connection is signed in as: `{ok, user: {id, username, full_name}}`.")
def _whoami_doc(*_args: Any) -> None:
    """Served by the handler registered in ``register``; declared here for the protocol."""


def refusal(exc: EcabinetError) -> socketio.exceptions.ConnectionRefusedError:
    """The client receives ``{"message": ..., "data": {"code": ..., "message": ...}}``."""
    return socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict())


def register(runtime: Runtime) -> None:
    # Importing the feature modules declares their commands, events and snapshot parts.
    from ecabinet.realtime import dispatch, ink, join
    from ecabinet.services.kernel import features

    features.load()
    sio = runtime.sio
    dispatcher = dispatch.Dispatcher(runtime)
    dispatcher.register()
    presence = Presence.create(runtime)
    runtime.sockets = RealtimeSockets(runtime, presence)
    join.register(runtime, dispatcher, presence)
    ink_stream = ink.register(runtime, dispatcher)

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
    """Tell the sockets of ended sign-in sessions, then drop them, on every server process."""
    for session_id in session_ids:
        await runtime.sio.emit(SESSION_ENDED, {"reason": "signed_out"},
                               room=f"session:{session_id}")


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
