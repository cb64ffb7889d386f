"""A TCP proxy standing in for the room's Wi-Fi: it can lose the network and get it back.

``cut("blackhole")`` is what a tablet sees when the access point goes away: its connection stays
open but nothing arrives any more and nothing it sends gets through, so it only learns the link is
dead when the server's pings stop coming. ``cut("reset")`` drops the connections at once (a
router reboot). While the network is down, new connections are refused; ``restore()`` lets them
through again, but links cut earlier never carry another byte (the NAT state is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal


class _Link:
    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.dead = False

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class FlakyNetwork:
    """Forwards ``127.0.0.1:<port>`` to ``target``; cut and restore it from the test."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.down = False
        self.links: list[_Link] = []
        self.refused = 0  # connection attempts turned away while down
        self._refusal = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> FlakyNetwork:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self, how: Literal["blackhole", "reset"] = "blackhole") -> None:
        self.down = True
        for link in self.links:
            link.dead = True
            if how == "reset":
                link.abort()

    def restore(self) -> None:
        for link in self.links:
            if link.dead:
                link.abort()
        self.links = [link for link in self.links if not link.dead]
        self.down = False

    async def wait_refused(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` connection attempts have been turned away while down."""

        async def watch() -> None:
            while self.refused < count:
                self._refusal.clear()
                await self._refusal.wait()

        await asyncio.wait_for(watch(), timeout)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for link in self.links:
            link.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.refused += 1
            self._refusal.set()
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self.links.append(link)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pump(link, source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                if link.dead:
                    continue  # the bytes vanish, like radio packets with no one listening
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        if not link.dead:
            link.abort()  # one side hung up: so does the other, as a real TCP path would
