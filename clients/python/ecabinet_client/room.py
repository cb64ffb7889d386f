"""A joined meeting (``Room``), its event streams, and the command namespaces.

The room keeps the meeting's sequence across reconnects (``ecabinet_client.events.Sequencer``
holds the rules), re-joins with ``since`` when an event is missing, joins afresh when the server
says the user's place in the meeting changed (``membership.changed``), and hands events to
callbacks and async iterators in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ecabinet_client.errors import ConnectionLost, EcabinetError, InvalidInput
from ecabinet_client.events import CONNECTION, Event, Sequencer

if TYPE_CHECKING:
    from ecabinet_client.client import Client

log = logging.getLogger("ecabinet_client")
Callback = Callable[[Event], Awaitable[None] | None]
JOIN, LEAVE = "meeting.join", "meeting.leave"
MEMBERSHIP_CHANGED = "membership.changed"


class CommandGroup:
    """``commands.agenda.goto(item_id=3)`` for every declared command (names with dots)."""

    def __init__(self, send: Callable[..., Awaitable[dict[str, Any]]], names: list[str],
                 prefix: str = "") -> None:
        self._send = send
        self._names = names
        self._prefix = prefix

    def __getattr__(self, attr: str) -> Any:
        name = self._prefix + attr
        if name in self._names:

            async def command(client_id: str | None = None, **fields: Any) -> dict[str, Any]:
                return await self._send(name, fields, client_id=client_id)

            command.__name__ = attr
            command.__doc__ = f"Send the `{name}` command."
            return command
        if any(n.startswith(name + ".") for n in self._names):
            return CommandGroup(self._send, self._names, name + ".")
        raise AttributeError(f"no command {name!r} in the protocol")

    def __dir__(self) -> list[str]:
        return sorted({n[len(self._prefix):].split(".")[0] for n in self._names
                       if n.startswith(self._prefix)})


class EventStream:
    """An async iterator over a room's events from the moment it was created."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        item = await self.queue.get()
        if item is None:
            self.room._streams.discard(self)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            self.room._streams.discard(self)
            raise item
        return item

    def close(self) -> None:
        self.room._streams.discard(self)
        self.queue.put_nowait(None)


class Room:
    """A joined meeting: its snapshot, its sequence number and its events, kept across reconnects.

    ``snapshot`` is the latest snapshot received (events are not applied to it); ``seq`` the last
    sequence number delivered. Events go to the callbacks (in order; coroutine callbacks are
    awaited one after another) and to every open ``events()`` stream.
    """

    def __init__(self, client: Client, meeting_id: int, *, gap_wait: float) -> None:
        self.client = client
        self.meeting_id = meeting_id
        self.snapshot: dict[str, Any] = {}
        self.private: dict[str, Any] = {}
        self.gap_wait = gap_wait
        self.resyncs = 0
        self.sequencer = Sequencer(meeting_id)
        self._callbacks: list[Callback] = []
        self._streams: set[EventStream] = set()
        self._serial: asyncio.Queue[tuple[Callback, Event]] | None = None
        self._serial_task: asyncio.Task[None] | None = None
        self._gap_task: asyncio.Task[None] | None = None
        self._afresh_task: asyncio.Task[None] | None = None
        self._left = False
        self._default: EventStream | None = None
        self.commands = CommandGroup(self.send, sorted(client.protocol.commands))

    @property
    def seq(self) -> int | None:
        return self.sequencer.seq

    def on_event(self, callback: Callback) -> None:
        """Call ``callback(event)`` for each event from now on."""
        self._callbacks.append(callback)

    def events(self) -> EventStream:
        """A new async iterator receiving every event from now on."""
        stream = EventStream(self)
        self._streams.add(stream)
        return stream

    def __aiter__(self) -> AsyncIterator[Event]:
        """``async for event in room``: one stream that later loops continue where it stopped."""
        if self._default is None:
            self._default = self.events()
        return self._default

    async def send(self, name: str, fields: dict[str, Any] | None = None, *,
                   client_id: str | None = None, **more: Any) -> dict[str, Any]:
        """Send a command of this meeting: ``await room.send("agenda.goto", item_id=3)``."""
        payload = {"meeting_id": self.meeting_id, **(fields or {}), **more}
        return await self.client.call(name, payload, client_id=client_id)

    async def emit(self, name: str, fields: dict[str, Any] | None = None, **more: Any) -> None:
        """Send a streaming command of this meeting without an answer (see ``Client.emit``)."""
        await self.client.emit(name, {"meeting_id": self.meeting_id, **(fields or {}), **more})

    async def leave(self) -> None:
        """Stop receiving this meeting's events; open streams end."""
        if self._left:
            return
        self._left = True
        self.client._rooms.pop(self.meeting_id, None)
        with contextlib.suppress(EcabinetError):
            await self.client.call(LEAVE, {"meeting_id": self.meeting_id}, retry=False)
        self._end(None)

    # -- joining and resync -------------------------------------------------------------------

    async def _join(self, *, fresh: bool = False) -> None:
        """Join, or re-join with ``since`` when a sequence number is known (``fresh``: ask for
        a snapshot all the same)."""
        self.sequencer.begin_join()
        payload: dict[str, Any] = {"meeting_id": self.meeting_id}
        if self.sequencer.seq is not None and not fresh:
            payload["since"] = self.sequencer.seq
        try:
            answer = await self.client._ask(JOIN, payload)
        except InvalidInput as exc:
            if exc.code != "unknown_seq":
                self.sequencer.failed_join()
                raise
            # The server's log is behind what we saw (restored from a backup): start afresh.
            self.sequencer.seq = None
            answer = await self.client._ask(JOIN, {"meeting_id": self.meeting_id})
        except BaseException:
            self.sequencer.failed_join()
            raise
        self._deliver(self.sequencer.joined(answer))
        self._check_gap()

    def _live(self, envelope: dict[str, Any]) -> None:
        event = Event.from_envelope(envelope)
        if self.client.validate_events:
            self.client._check_event(event)
        self._deliver(self.sequencer.live(event))
        self._check_gap()

    def _check_gap(self) -> None:
        if self.sequencer.gap and (self._gap_task is None or self._gap_task.done()):
            self._gap_task = asyncio.get_running_loop().create_task(self._fill_gap())

    async def _fill_gap(self) -> None:
        """Wait briefly for the missing event (server processes may cross); then re-join."""
        await asyncio.sleep(self.gap_wait)
        if not self.sequencer.gap or not self.client.connected:
            return
        self.resyncs += 1
        log.info("meeting %s: gap after seq %s, resyncing", self.meeting_id, self.seq)
        try:
            await self._join()
        except ConnectionLost:
            return  # the reconnect re-joins
        except EcabinetError as exc:
            log.warning("meeting %s: resync failed: %s", self.meeting_id, exc)
            self._gap_task = None
            await asyncio.sleep(self.gap_wait)
            self._check_gap()

    async def _start_afresh(self) -> None:
        """The server has moved this connection to the rooms of the user's new role, or out of
        the meeting: a fresh snapshot as the meeting is now seen (a refusal ends the room)."""
        if not self.client.connected:
            return  # the reconnect re-joins
        self.resyncs += 1
        try:
            await self.client._rejoin(self, fresh=True)
        except ConnectionLost:
            return
        except EcabinetError as exc:
            log.warning("meeting %s: joining afresh failed: %s", self.meeting_id, exc)

    # -- delivery -----------------------------------------------------------------------------

    def _deliver(self, events: list[Event]) -> None:
        keep = self.client.keep_snapshot
        for event in events:
            if event.type == MEMBERSHIP_CHANGED and not self._left:
                self._afresh_task = asyncio.get_running_loop().create_task(self._start_afresh())
            if event.type == "client.snapshot" and keep:
                self.snapshot = event.payload
            elif event.type == "client.private" and keep:
                self.private = event.payload
            for callback in self._callbacks:
                self._call(callback, event)
            for stream in self._streams:
                stream.queue.put_nowait(event)

    def _call(self, callback: Callback, event: Event) -> None:
        if inspect.iscoroutinefunction(callback) or self._serial is not None:
            self._queue_serial(callback, event)
            return
        try:
            result = callback(event)
        except Exception:
            log.exception("event callback failed")
            return
        if inspect.isawaitable(result):  # a callable object returning a coroutine
            self._queue_serial(lambda _e, r=result: r, event)  # type: ignore[misc]

    def _queue_serial(self, callback: Callback, event: Event) -> None:
        if self._serial is None:
            self._serial = asyncio.Queue()
            self._serial_task = asyncio.get_running_loop().create_task(self._run_serial())
        self._serial.put_nowait((callback, event))

    async def _run_serial(self) -> None:
        assert self._serial is not None
        while True:
            callback, event = await self._serial.get()
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("event callback failed")

    def _state(self, state: str, **extra: Any) -> None:
        self._deliver([Event(self.meeting_id, None, CONNECTION, {"state": state, **extra})])

    def _end(self, error: BaseException | None) -> None:
        for stream in list(self._streams):
            stream.queue.put_nowait(error)
        self._streams.clear()
        for task in (self._gap_task, self._serial_task, self._afresh_task):
            if task is not None:
                task.cancel()
