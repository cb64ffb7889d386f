"""A lean Socket.IO v5 client over one Engine.IO v4 websocket (no polling, no binary packets).

The server only speaks JSON text frames, so the client needs just this: open the websocket, read
the Engine.IO open packet, connect the default namespace with ``40{auth}``, answer each ping
``2`` with ``3``, send events as ``42[name, data]`` and calls as ``42<id>[name, data]``, and
match acks ``43<id>[answer]``. It is small enough that a thousand of them fit in one process,
which ``socketio.AsyncClient`` does not (see the load generator).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ecabinet_client.errors import ConnectionLost, EcabinetError, Unauthenticated, from_error

log = logging.getLogger("ecabinet_client")
EventHandler = Callable[[str, list[Any]], None]
CloseHandler = Callable[["Transport", BaseException | None], None]
MAX_MESSAGE = 16 * 1024 * 1024


def socket_url(base_url: str) -> str:
    """``http://host:port/prefix`` → ``ws://host:port/prefix/socket.io/?EIO=4&transport=websocket``."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"not an http(s) URL: {base_url}")
    path = parts.path.rstrip("/") + "/socket.io/"
    return urlunsplit((scheme, parts.netloc, path, "EIO=4&transport=websocket", ""))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Transport:
    """One authenticated Socket.IO connection. ``on_event(name, args)`` gets the server's events;
    ``on_close(transport, error)`` runs once when the connection ends other than by ``close()``."""

    def __init__(self, base_url: str, auth: dict[str, Any], *, on_event: EventHandler,
                 on_close: CloseHandler | None = None, open_timeout: float = 10.0,
                 proxy: str | Literal[True] | None = True) -> None:
        self.url = socket_url(base_url)
        self.auth = auth
        self.on_event = on_event
        self.on_close = on_close
        self.open_timeout = open_timeout
        self.proxy = proxy
        self.ws: ClientConnection | None = None
        self.sid: str | None = None
        self.ping_deadline = 45.0
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._last_seen = 0.0
        self._closed = False
        self._close_error: BaseException | None = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self._closed

    async def connect(self) -> None:
        """Open the websocket and connect the namespace; refusals raise the typed error."""
        try:
            self.ws = await connect(
                self.url,
                compression=None,  # costs more than it saves on small events (PERFORMANCE.md)
                ping_interval=None,  # Engine.IO has its own heartbeat
                max_size=MAX_MESSAGE,
                open_timeout=self.open_timeout,
                user_agent_header="ecabinet-client",
                proxy=self.proxy,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionLost(
                "connection_failed", f"Không kết nối được tới máy chủ ({exc}).",
                {"url": self.url},
            ) from exc
        try:
            async with asyncio.timeout(self.open_timeout):
                await self._handshake(self.ws)
        except BaseException as exc:
            self._closed = True
            self.ws.transport.abort()
            if isinstance(exc, EcabinetError):
                raise
            if isinstance(exc, (ConnectionClosed, TimeoutError, OSError, ValueError)):
                raise ConnectionLost(
                    "connection_failed", f"Bắt tay Socket.IO thất bại ({exc!r}).",
                    {"url": self.url},
                ) from exc
            raise
        self._last_seen = time.monotonic()
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def _handshake(self, ws: ClientConnection) -> None:
        opened = await ws.recv()
        if not isinstance(opened, str) or not opened.startswith("0"):
            raise ValueError(f"unexpected Engine.IO open packet {opened!r}")
        info = json.loads(opened[1:])
        interval, timeout = info.get("pingInterval", 25000), info.get("pingTimeout", 20000)
        self.ping_deadline = (interval + timeout) / 1000
        await ws.send("40" + _dumps(self.auth))
        while True:
            msg = await ws.recv()
            if not isinstance(msg, str):
                continue
            if msg == "2":
                await ws.send("3")
            elif msg.startswith("40"):
                self.sid = json.loads(msg[2:] or "{}").get("sid")
                return
            elif msg.startswith("44"):
                body = json.loads(msg[2:] or "{}")
                data = body.get("data") if isinstance(body, dict) else None
                if not isinstance(data, dict):
                    data = {"code": "unauthenticated", "message": body.get("message", "refused")}
                error = from_error(data)
                if not isinstance(error, Unauthenticated):
                    error = Unauthenticated(error.code, error.message, error.details)
                raise error
            elif msg.startswith("1") or msg.startswith("41"):
                raise ConnectionLost("connection_closed", "Máy chủ đóng kết nối khi bắt tay.")

    async def _read(self, ws: ClientConnection) -> None:
        error: BaseException | None = None
        watchdog = asyncio.get_running_loop().create_task(self._watch(ws))
        try:
            async for msg in ws:
                self._last_seen = time.monotonic()
                if not isinstance(msg, str) or not msg:
                    continue
                kind = msg[0]
                if kind == "4":
                    if self._packet(msg) is False:
                        break
                elif kind == "2":
                    await ws.send("3" + msg[1:])
                elif kind == "1":
                    break
            error = ConnectionLost("connection_closed", "Máy chủ đã đóng kết nối.")
        except ConnectionClosed as exc:
            error = ConnectionLost("connection_lost", f"Mất kết nối ({exc}).")
        except OSError as exc:
            error = ConnectionLost("connection_lost", f"Mất kết nối ({exc}).")
        finally:
            watchdog.cancel()
            ws.transport.abort()  # after the server's goodbye too: nothing more will be read
            self._finish(error)

    def _packet(self, msg: str) -> bool:
        """Handle one Socket.IO packet; False when the server disconnected the namespace."""
        kind = msg[1:2]
        if kind == "2":  # event
            body = msg[2:]
            start = 0
            while start < len(body) and body[start].isdigit():
                start += 1  # an ack id: the server never asks clients for acks
            args = json.loads(body[start:])
            if isinstance(args, list) and args and isinstance(args[0], str):
                try:
                    self.on_event(args[0], args[1:])
                except Exception:  # a consumer's bug must not take the connection down
                    log.exception("event handler failed")
        elif kind == "3":  # ack
            body = msg[2:]
            start = 0
            while start < len(body) and body[start].isdigit():
                start += 1
            ack_id = int(body[:start] or -1)
            future = self._pending.pop(ack_id, None)
            if future is not None and not future.done():
                args = json.loads(body[start:])
                future.set_result(args[0] if len(args) == 1 else args)
        elif kind in ("1", "4"):
            return False
        return True

    async def _watch(self, ws: ClientConnection) -> None:
        """Declare the connection dead when the server's pings stop (a sleeping access point)."""
        while True:
            await asyncio.sleep(max(0.5, self._last_seen + self.ping_deadline - time.monotonic()))
            if time.monotonic() - self._last_seen >= self.ping_deadline:
                ws.transport.abort()
                return

    def _finish(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_error = error
        lost = error or ConnectionLost("connection_closed", "Kết nối đã đóng.")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(lost)
        self._pending.clear()
        if self.on_close is not None:
            self.on_close(self, error)

    async def emit(self, name: str, data: Any) -> None:
        """Send an event without waiting for an answer."""
        await self._send("42" + _dumps([name, data]))

    async def call(self, name: str, data: Any, timeout: float) -> Any:
        """Send an event and wait for its ack (``TimeoutError`` after ``timeout`` seconds)."""
        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ack_id] = future
        try:
            await self._send(f"42{ack_id}" + _dumps([name, data]))
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._pending.pop(ack_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed by the close while sending: already raised

    async def _send(self, text: str) -> None:
        if self.ws is None or self._closed:
            raise ConnectionLost("not_connected", "Chưa kết nối (not connected).")
        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise ConnectionLost("connection_lost", f"Mất kết nối ({exc}).") from exc

    def abort(self) -> None:
        """Drop the connection at once, without a goodbye (what a Wi-Fi loss looks like)."""
        if self.ws is not None and not self._closed:
            self.ws.transport.abort()

    async def close(self) -> None:
        """Disconnect politely and wait for the reader to finish."""
        if self.ws is None:
            return
        if not self._closed:
            self._closed = True
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost("closed", "Kết nối đã đóng."))
            self._pending.clear()
            with contextlib.suppress(ConnectionClosed, OSError):
                await self.ws.send("41")
            with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
                async with asyncio.timeout(2):
                    await self.ws.close()
            self.ws.transport.abort()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
