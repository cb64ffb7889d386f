"""The Socket.IO client managers: rooms in this process, or shared through Redis pub/sub.

python-socketio's managers own rooms and fan-out; the Redis one here adds what ours needs on
top of python-socketio's pub/sub framework, through its documented extension points only:

- ``AsyncPubSubManager`` leaves ``_publish`` and ``_listen`` to its subclasses ("the actual
  backends must be implemented by subclasses"; python-socketio's own Redis, Kafka, AioPika
  managers are such subclasses). ``RedisManager`` implements both over its own Redis client
  (redis-py's public API), so the listening loop, with its resubscription, is ours.
- ``initialize`` is the documented hook "invoked before the first request".
- Everything else goes through public methods: ``emit(..., ignore_queue=True)`` for the local
  fan-out, ``get_participants``, ``server.disconnect(..., ignore_queue=True)``, and Engine.IO's
  ``eio.disconnect``.

The messages on the channel are python-socketio's (an ``AsyncRedisManager(write_only=True)``
in another program can emit to our rooms); pyproject.toml bounds python-socketio to the
versions this was tested with, since that message format is not a documented interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from socketio.packet import Packet

from ecabinet.core.logs import get_logger

log = get_logger(__name__)
SESSION_ENDED = "auth.session_ended"
SESSION_ENDED_BYTES = SESSION_ENDED.encode()
RESUBSCRIBE_MAX = 5.0  # seconds between attempts to subscribe to Redis again, at most
Delivered = Callable[[dict[str, Any]], Awaitable[None]]


async def drop_members(sio: socketio.AsyncServer, room: str, namespace: str = "/") -> None:
    """Disconnect this process's sockets in ``room`` (each process drops its own)."""
    for sid, _eio_sid in list(sio.manager.get_participants(namespace, room)):
        await sio.disconnect(sid, namespace=namespace, ignore_queue=True)


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """Rooms shared by every server process through Redis pub/sub.

    Three things beyond python-socketio's ``AsyncRedisManager``:

    - It delivers an emit to this process's clients first and publishes it for the other
      processes only then, so their clients wait for this process's whole fan-out (about 60 ms
      at 500 clients, docs/benchmarks.md). Here the publish starts first and runs alongside the
      local fan-out, so every process fans out at the same time; a slow Redis still cannot hold
      up the local clients.
    - While this process is not subscribed (Redis down or restarting), what the other processes
      publish never reaches it, and nothing tells its clients that they missed events. So once
      the subscription is back, this process closes its clients' connections (like a network
      drop: they reconnect by themselves) and each re-joins with the last sequence number it
      saw, getting what it missed from the event log. Retries back off up to
      ``RESUBSCRIBE_MAX`` seconds (python-socketio waits up to a minute).
    - ``auth.session_ended`` sent to a ``session:<id>`` room by another process drops that
      session's sockets here once delivered, so "sign out everywhere" reaches every process.
    - ``after_delivery`` lets the server act on another process's emit here once delivered and
      before the next message (``realtime/membership.py`` moves sockets between rooms so).
    """

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(url, channel=channel)
        self.redis: Redis | None = None
        self.pubsub: PubSub | None = None
        self.listening = asyncio.Event()  # subscribed to the channel right now
        self._initialized = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._after: list[tuple[bytes, Delivered]] = []

    def after_delivery(self, marker: str, handler: Delivered) -> None:
        """Await ``handler(message)`` for each emit from another process whose message holds
        ``marker``, once python-socketio has delivered it to this process's clients and before
        it delivers the next message: what the handler changes (rooms) holds for every message
        published after that one."""
        self._after.append((marker.encode(), handler))

    def initialize(self) -> None:
        """Start listening (once: ``start_manager`` calls it before the server would)."""
        if self._initialized:
            return
        self._initialized = True
        super().initialize()

    async def emit(self, event: str, data: Any, namespace: str | None = None,
                   room: str | None = None, skip_sid: Any = None, callback: Any = None,
                   to: str | None = None, **kwargs: Any) -> Any:
        room = to or room
        args = list(data) if isinstance(data, tuple) else [data]
        if kwargs.get("ignore_queue") or callback is not None or Packet.data_is_binary(args):
            # Local only, or what python-socketio's own message path handles (acks, binary).
            return await super().emit(event, data, namespace=namespace, room=room,
                                      skip_sid=skip_sid, callback=callback, **kwargs)
        namespace = namespace or "/"
        # python-socketio's emit message (as AsyncPubSubManager.emit builds it), for JSON data.
        message = {"method": "emit", "event": event, "data": args, "binary": False,
                   "namespace": namespace, "room": room, "skip_sid": skip_sid,
                   "callback": None, "host_id": self.host_id}
        publishing = asyncio.get_running_loop().create_task(self.send(message))
        try:
            await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                               ignore_queue=True)
        finally:
            await publishing

    async def send(self, message: dict[str, Any]) -> None:
        """Publish ``message`` on the channel for the other processes. A Redis that does not
        answer loses it (logged): the commands are committed, and the clients of the other
        processes get the events when they resync after the subscription comes back."""
        payload = self.json.dumps(message)
        for attempt in (1, 2):
            try:
                await self._client().publish(self.channel, payload)
                return
            except Exception as exc:  # redis-py reconnects on the next command
                log.warning("redis.publish_failed", attempt=attempt, error=str(exc))

    async def _publish(self, data: Any) -> None:
        # The extension point AsyncPubSubManager calls for its own messages (disconnect,
        # enter_room, acks from other processes): the same path as our emits.
        await self.send(data)

    def _client(self) -> Redis:
        if self.redis is None:
            self.redis = Redis.from_url(self.redis_url, **self.redis_options)
        return self.redis

    async def _listen(self) -> AsyncIterator[bytes]:
        """The channel's messages, for python-socketio's listening task; subscribes again after
        any failure, and then makes this process's clients reconnect (see the class docstring).
        """
        channel = self.channel.encode()
        retry, lost = 1.0, False
        while True:
            try:
                if self.pubsub is None:
                    self.pubsub = self._client().pubsub(ignore_subscribe_messages=True)
                    await self.pubsub.subscribe(self.channel)
                    self.listening.set()
                    retry = 1.0
                    if lost:
                        lost = False
                        self._background(self._reconnect_local_clients())
                async for message in self.pubsub.listen():
                    if message["type"] != "message" or message["channel"] != channel:
                        continue
                    data: bytes = message["data"]
                    yield data
                    # python-socketio has delivered it to this process's clients by now.
                    if SESSION_ENDED_BYTES in data:
                        await self._after_session_ended(data)
                    for marker, handler in self._after:
                        if marker in data:
                            await self._run_after(handler, data)
                raise ConnectionError("the Redis subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke, subscribe again (as python-socketio)
                log.warning("redis.subscription_lost", error=str(exc), retry_in=retry)
                self.listening.clear()
                lost = True
                await self._close_pubsub()
                await asyncio.sleep(retry)
                retry = min(retry * 2, RESUBSCRIBE_MAX)

    async def _after_session_ended(self, data: bytes) -> None:
        try:
            message = self.json.loads(data)
        except ValueError:
            return
        room = message.get("room")
        if (message.get("method") == "emit" and message.get("event") == SESSION_ENDED
                and message.get("host_id") != self.host_id  # ours: dropped when sent
                and isinstance(room, str) and room.startswith("session:")):
            await drop_members(self.server, room, message.get("namespace") or "/")

    async def _run_after(self, handler: Delivered, data: bytes) -> None:
        try:
            message = self.json.loads(data)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("method") != "emit":
            return
        if message.get("host_id") == self.host_id:
            return  # ours: the sender handled it when it sent it
        try:
            await handler(message)
        except Exception:  # the handler's failure must not cost the subscription
            log.exception("redis.after_delivery_failed", socketio_event=message.get("event"))

    async def _reconnect_local_clients(self) -> None:
        clients = {eio_sid for _sid, eio_sid in self.get_participants("/", None)}
        log.warning("redis.subscribed_again", reconnecting_clients=len(clients))
        for eio_sid in clients:
            # Engine.IO level: the client sees a closed transport and reconnects (a Socket.IO
            # disconnect would read as "signed out" to the browser client).
            await self.server.eio.disconnect(eio_sid)

    def _background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_pubsub(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def start(self, timeout: float) -> None:
        """Subscribe before serving: python-socketio would do it on the first connection, and
        anything the other processes broadcast before the subscription lands is lost."""
        self.initialize()
        try:
            await asyncio.wait_for(self.listening.wait(), timeout)
        except TimeoutError:
            log.warning("redis.subscribe_slow", channel=self.channel)

    async def close(self) -> None:
        """Stop listening and close the connections (the server is shutting down)."""
        listener = getattr(self, "thread", None)  # python-socketio's listening task
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        for task in list(self._tasks):
            task.cancel()
        await self._close_pubsub()
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None


def build_manager(redis_url: str | None, channel: str = "ecabinet") -> socketio.AsyncManager:
    """In-process rooms by default; with Redis, rooms are shared between the server processes
    that use the same ``channel`` (pub/sub channels ignore the Redis database number)."""
    if redis_url:
        return RedisManager(redis_url, channel=channel)
    return socketio.AsyncManager()


async def start_manager(sio: socketio.AsyncServer, timeout: float = 5.0) -> None:
    """Subscribe to Redis (when the rooms are shared) before the first connection."""
    if isinstance(sio.manager, RedisManager):
        await sio.manager.start(timeout)


async def close_manager(sio: socketio.AsyncServer) -> None:
    """Stop the Redis listener and close its connections when the server shuts down."""
    if isinstance(sio.manager, RedisManager):
        await sio.manager.close()
