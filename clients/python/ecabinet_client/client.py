"""The asyncio client: HTTP calls, one realtime connection, joined meetings, commands.

```python
async with Client("http://ecabinet.local") as client:
    await client.sign_in("daibieu1", "mật khẩu")
    room = await client.join(7)
    print(room.snapshot["agenda"]["current_item_id"])
    async for event in room:          # the snapshot first, then every event in sequence order
        print(event.seq, event.type, event.payload)
```

Every command of the server's protocol is available as ``room.commands.agenda.next()`` (or
``client.call("agenda.next", {"meeting_id": 7})``): the payload is checked against the server's
schema before sending, a refusal raises the typed error with the server's code and is never
retried, and a command whose answer was lost (timeout, dropped connection) is sent again with the
same client id once the connection is back, so the server applies it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from typing import Any

import httpx
from pydantic import ValidationError

from ecabinet_client.errors import (
    AckLost,
    ConnectionLost,
    EcabinetError,
    Forbidden,
    NotFound,
    Unauthenticated,
    from_error,
)
from ecabinet_client.events import Event
from ecabinet_client.room import Callback, CommandGroup, EventStream, Room
from ecabinet_client.schema import Protocol
from ecabinet_client.transport import Transport

__all__ = ["Client", "CommandGroup", "EventStream", "Room", "new_client_id"]
log = logging.getLogger("ecabinet_client")


def new_client_id() -> str:
    return f"py-{uuid.uuid4().hex}"


class Client:
    """An ecabinet server: HTTP API plus one Socket.IO connection shared by joined meetings.

    ``token`` (or ``username``/``password``, used again if the session ends while reconnecting)
    authenticates. ``ack_timeout`` bounds the wait for one answer; a command whose answer is lost
    is retried with the same client id until ``retry_for`` seconds have passed. With
    ``keep_snapshot=False`` rooms do not hold the snapshot (it still goes to the callbacks): a
    load generator's thousand tablets need not keep a thousand copies.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        protocol: Protocol | None = None,
        http: httpx.AsyncClient | None = None,
        ack_timeout: float = 10.0,
        retry_for: float = 60.0,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.2, 10.0),
        gap_wait: float = 0.5,
        validate_events: bool = False,
        open_timeout: float = 10.0,
        keep_snapshot: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.username = username
        self.password = password
        self.protocol = protocol or Protocol.load()
        self.ack_timeout = ack_timeout
        self.retry_for = retry_for
        self.reconnect = reconnect
        self.backoff = backoff
        self.gap_wait = gap_wait
        self.validate_events = validate_events
        self.open_timeout = open_timeout
        self.keep_snapshot = keep_snapshot
        self.commands = CommandGroup(self._send_command, sorted(self.protocol.commands))
        self.reconnects = 0
        self.event_problems: list[tuple[Event, Exception]] = []
        self._http = http
        self._own_http = http is None
        self._transport: Transport | None = None
        self._online = asyncio.Event()
        self._failure: EcabinetError | None = None
        self._rooms: dict[int, Room] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._connecting: asyncio.Lock | None = None
        self._closed = False
        self._offline_until = 0.0

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.url, timeout=30.0)
        return self._http

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def request(
        self, method: str, path: str, *, json: Any = None, content: bytes | None = None,
        headers: dict[str, str] | None = None, params: dict[str, Any] | None = None,
        files: Any = None, data: Any = None, timeout: float | None = None,
    ) -> httpx.Response:
        """Call the HTTP API; an error answer raises its typed error."""
        extra = {**self._headers(), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": extra, "params": params}
        if json is not None:
            kwargs["json"] = json
        if content is not None:
            kwargs["content"] = content
        if files is not None:
            kwargs["files"] = files
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionLost("connection_failed", f"Không gọi được máy chủ ({exc}).",
                                 {"url": self.url + path}) from exc
        if response.status_code >= 400:
            try:
                error = response.json().get("error")
            except ValueError:
                error = None
            if not isinstance(error, dict):
                error = {"code": f"http_{response.status_code}", "message": response.text[:200]}
            raise from_error(error, response.status_code)
        return response

    async def get_json(self, path: str, **params: Any) -> Any:
        return (await self.request("GET", path, params=params or None)).json()

    async def post_json(self, path: str, body: Any = None) -> Any:
        return (await self.request("POST", path, json=body if body is not None else {})).json()

    async def sign_in(self, username: str | None = None, password: str | None = None
                      ) -> dict[str, Any]:
        """Sign in with a password; keeps the token for later calls and reconnects."""
        self.username = username or self.username
        self.password = password or self.password
        if not self.username or not self.password:
            raise Unauthenticated("unauthenticated",
                                  "Cần tên đăng nhập và mật khẩu (username and password).")
        self.token = None
        answer = await self.post_json(
            "/api/auth/signin", {"username": self.username, "password": self.password}
        )
        self.token = str(answer["token"])
        user: dict[str, Any] = answer["user"]
        return user

    async def sign_out(self) -> None:
        await self.post_json("/api/auth/signout")
        self.token = None

    async def me(self) -> dict[str, Any]:
        user: dict[str, Any] = (await self.get_json("/api/me"))["user"]
        return user

    async def meetings(self) -> list[dict[str, Any]]:
        """Meetings you take part in (admins: all), soonest first."""
        meetings: list[dict[str, Any]] = (await self.get_json("/api/meetings"))["meetings"]
        return meetings

    # -- the realtime connection ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.open and self._online.is_set()

    async def connect(self) -> None:
        """Open the realtime connection (joining a meeting does this for you)."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._transport is not None and self._transport.open:
                return
            if self.token is None:
                if self.username and self.password:
                    await self.sign_in()
                else:
                    raise Unauthenticated("unauthenticated", "Chưa đăng nhập (not signed in).")
            await self._open()
            self._online.set()

    async def _open(self) -> None:
        transport = Transport(self.url, {"token": self.token}, on_event=self._on_event,
                              on_close=self._on_close, open_timeout=self.open_timeout)
        await transport.connect()
        self._transport = transport
        self._failure = None

    def _on_event(self, name: str, args: list[Any]) -> None:
        if name == "event" and args and isinstance(args[0], dict):
            room = self._rooms.get(args[0].get("meeting_id"))  # type: ignore[arg-type]
            if room is not None:
                room._live(args[0])
        elif name == "auth.session_ended":
            self.token = None

    def _on_close(self, transport: Transport, error: BaseException | None) -> None:
        if transport is not self._transport or self._closed:
            return
        self._online.clear()
        for room in self._rooms.values():
            room._state("lost", reason=getattr(error, "code", None))
        if self.reconnect and not self._closed and (
            self._supervisor is None or self._supervisor.done()
        ):
            self._supervisor = asyncio.get_running_loop().create_task(self._reconnect())
        elif not self.reconnect:
            self._fail(error if isinstance(error, EcabinetError) else
                       ConnectionLost("connection_lost", "Mất kết nối."))

    async def _reconnect(self) -> None:
        """Reconnect with backoff and jitter, then re-join every meeting from its last seq."""
        delay = self.backoff[0]
        while not self._closed:
            offline = self._offline_until - time.monotonic()
            await asyncio.sleep(max(0.0, offline) + delay * random.uniform(0.5, 1.0))
            delay = min(self.backoff[1], delay * 2)
            try:
                await self._open()
                for room in list(self._rooms.values()):
                    await self._rejoin(room)
            except Unauthenticated as exc:
                if self.username and self.password and exc.code != "bad_credentials":
                    try:
                        await self.sign_in()
                    except ConnectionLost:
                        continue
                    except EcabinetError as again:
                        self._fail(again)
                        return
                    continue
                self._fail(exc)
                return
            except (ConnectionLost, TimeoutError, EcabinetError) as exc:
                log.info("reconnect failed: %s", exc)
                if self._transport is not None and self._transport.open:
                    self._transport.abort()
                continue
            self.reconnects += 1
            self._online.set()
            for room in self._rooms.values():
                room._state("restored")
            return

    async def _rejoin(self, room: Room, *, fresh: bool = False) -> None:
        try:
            await room._join(fresh=fresh)
        except (NotFound, Forbidden) as exc:  # taken off the meeting (while away, or live)
            self._rooms.pop(room.meeting_id, None)
            room._state("failed", code=exc.code, message=exc.message)
            room._end(exc)

    def _check_event(self, event: Event) -> None:
        """Record events whose payload does not match the declared schema (a protocol drift)."""
        try:
            self.protocol.parse_event(event.type, event.payload)
        except (ValidationError, EcabinetError) as exc:
            log.warning("event %s does not match its schema: %s", event.type, exc)
            self.event_problems.append((event, exc))

    def _fail(self, error: EcabinetError) -> None:
        """The connection cannot come back (session revoked): end streams with the error."""
        self._failure = error
        self._online.set()  # wake waiting commands so that they raise
        for room in list(self._rooms.values()):
            room._state("failed", code=error.code, message=error.message)
            room._end(error)
        self._rooms.clear()

    def drop(self, outage: float = 0.0) -> None:
        """Cut the connection abruptly, as a Wi-Fi loss does, and stay offline for ``outage``
        seconds; then the client reconnects and resyncs by itself (tests, load generator)."""
        self._offline_until = time.monotonic() + outage
        if self._transport is not None:
            self._transport.abort()

    async def _wait_online(self, deadline: float) -> Transport:
        while True:
            if self._failure is not None:
                raise self._failure
            transport = self._transport
            if self._online.is_set() and transport is not None and transport.open:
                return transport
            if self._closed:
                raise ConnectionLost("closed", "Client đã đóng (closed).")
            if self._transport is None and self._supervisor is None:
                await self.connect()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectionLost("connection_lost", "Không kết nối lại được kịp thời.")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._online.wait()
            if self._online.is_set() and not (self._transport and self._transport.open):
                await asyncio.sleep(0.05)  # closed a moment ago; the supervisor is starting

    async def _ask(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One question on the current connection (join/leave during reconnect use this)."""
        transport = self._transport
        if transport is None or not transport.open:
            raise ConnectionLost("not_connected", "Chưa kết nối.")
        try:
            answer = await transport.call(name, payload, self.ack_timeout)
        except TimeoutError:
            raise ConnectionLost("ack_timeout", f"'{name}' không được trả lời kịp.") from None
        return _checked(answer)

    # -- meetings and commands ------------------------------------------------------------------

    async def join(self, meeting_id: int, *, on_event: Callback | None = None) -> Room:
        """Join a meeting: the room holds its snapshot and delivers every event in order.

        With ``on_event`` the callback gets the events (the snapshot first); without it, iterate
        ``async for event in room`` (nothing is lost between ``join`` and the loop).
        """
        await self.connect()
        if meeting_id in self._rooms:
            room = self._rooms[meeting_id]
            if on_event is not None:
                room.on_event(on_event)
            return room
        room = Room(self, meeting_id, gap_wait=self.gap_wait)
        if on_event is None:
            # The default stream starts now, so a later ``async for`` misses nothing.
            room._default = room.events()
        else:
            room.on_event(on_event)
        self._rooms[meeting_id] = room
        deadline = time.monotonic() + self.retry_for
        while True:
            await self._wait_online(deadline)
            try:
                await room._join()
                return room
            except ConnectionLost:
                if time.monotonic() > deadline:
                    raise
            except BaseException:
                self._rooms.pop(meeting_id, None)
                raise

    async def whoami(self) -> dict[str, Any]:
        user: dict[str, Any] = (await self.call("whoami", {}))["user"]
        return user

    async def _send_command(self, name: str, fields: dict[str, Any], *,
                            client_id: str | None = None) -> dict[str, Any]:
        return await self.call(name, fields, client_id=client_id)

    async def call(self, name: str, payload: dict[str, Any] | None = None, *,
                   client_id: str | None = None, retry: bool = True) -> dict[str, Any]:
        """Send any declared command and return its ack (``{"ok": True, ...}``).

        The payload is checked against the server's schema first (``InvalidInput`` without
        sending). A refusal raises its typed error and is not retried; a lost answer is retried
        with the same client id (``duplicate: True`` in the ack when the first one was applied);
        ``AckLost`` when no answer came within ``retry_for`` seconds.
        """
        info = self.protocol.command(name)
        body = dict(payload or {})
        if info.has_client_id:
            body.setdefault("client_id", client_id or new_client_id())
        body = self.protocol.validate_command(name, body)
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        while True:
            attempt += 1
            transport = await self._wait_online(deadline)
            try:
                answer = await transport.call(name, body, self.ack_timeout)
            except (ConnectionLost, TimeoutError) as exc:
                if not retry or time.monotonic() >= deadline:
                    raise AckLost(
                        "ack_lost",
                        f"Không nhận được trả lời cho '{name}' (no answer); có thể đã được áp "
                        "dụng — gửi lại với cùng client_id.",
                        {"command": name, "client_id": body.get("client_id"),
                         "attempts": attempt},
                    ) from exc
                log.info("%s: answer lost (%r), retrying with the same client id", name, exc)
                continue
            return _checked(answer)

    async def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Send a streaming command without waiting for an answer (``ink.draw`` batches): checked
        against the schema, sent once, never retried; lost if the connection is down."""
        body = self.protocol.validate_command(name, dict(payload))
        transport = self._transport
        if transport is None or not transport.open or not self._online.is_set():
            raise ConnectionLost("not_connected", "Chưa kết nối (not connected).")
        await transport.emit(name, body)

    async def close(self) -> None:
        """Leave every meeting, close the connection and the HTTP client."""
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for room in list(self._rooms.values()):
            room._end(None)
        self._rooms.clear()
        if self._transport is not None:
            await self._transport.close()
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None


def _checked(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise from_error({"code": "internal", "message": f"unexpected answer {answer!r}"})
    if not answer.get("ok"):
        raise from_error(answer.get("error"))
    return answer
