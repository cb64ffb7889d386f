"""The rendering queue's interface and the events it reports.

The server depends on ``RenderQueue`` only. ``LocalRenderQueue`` (pool.py) renders in worker
processes on this machine; a Redis-backed queue shared by several nodes can implement the same
methods: jobs in a sorted set scored by priority, events through publish/subscribe, the cache on
shared storage.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self


@dataclass(frozen=True)
class PageReady:
    """Every rendition of a page is on disk; ``files`` maps rendition name to path."""

    sha256: str
    page: int
    files: dict[str, str]
    cached: bool = False  # found on disk, not rendered now
    elapsed: float = 0.0  # seconds the worker spent on it


@dataclass(frozen=True)
class PageFailed:
    """A page could not be rendered; ``code`` is a ``PdfError`` code such as render_timeout."""

    sha256: str
    page: int
    code: str
    message: str


@dataclass(frozen=True)
class DocumentDone:
    """Every page of a submitted document has been rendered or has failed."""

    sha256: str
    page_count: int
    failed_pages: tuple[int, ...] = field(default_factory=tuple)


RenderEvent = PageReady | PageFailed | DocumentDone
EventCallback = Callable[[RenderEvent], None]

_CLOSED: Final = object()


class EventStream:
    """An async iterator over render events, ended by ``close()`` or by the queue closing.

    Each stream has its own unbounded buffer, so a slow consumer delays nobody else; close the
    streams you no longer read (``with queue.events() as stream: ...``).
    """

    def __init__(self, on_close: Callable[[EventStream], None]) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._on_close = on_close
        self._closed = False

    def put(self, event: RenderEvent) -> None:
        """Deliver an event (called by the queue, on the event loop's thread)."""
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        """Stop the stream; an ``async for`` over it ends after the events already buffered."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_CLOSED)
            self._on_close(self)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> RenderEvent:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # later calls end too
            raise StopAsyncIteration
        assert isinstance(item, PageReady | PageFailed | DocumentDone)
        return item

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RenderQueue(abc.ABC):
    """Renders the pages of stored PDFs in the background, requested pages first.

    Pages are 0-based. All methods are called from the event loop and never block it.
    """

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the workers (or connect); rendering begins with the first submission."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop rendering, fail the waiters with ``render_cancelled`` and end the event streams."""

    @abc.abstractmethod
    async def submit_document(self, sha256: str, pdf_path: str | Path, page_count: int) -> None:
        """Queue every page of a stored PDF, in page order, behind what is already queued.

        Pages already in the cache are reported ready at once. Submitting a document that is
        still being rendered changes nothing.
        """

    @abc.abstractmethod
    async def prioritise(self, sha256: str, page: int) -> None:
        """Move ``page`` (and the page after it) ahead of all background work.

        The most recent request goes first: a reader flipping pages wants the page they are on,
        not the one they left. Pages already rendered or being rendered are left alone.
        """

    @abc.abstractmethod
    async def wait_for_page(
        self, sha256: str, page: int, timeout: float | None = None
    ) -> PageReady:
        """Return when ``page`` is in the cache, rendering it first in line if needed.

        Raises ``PdfError`` when the page fails, ``KeyError`` for a document never submitted, and
        ``TimeoutError`` after ``timeout`` seconds.
        """

    @abc.abstractmethod
    async def cancel_document(self, sha256: str) -> None:
        """Drop the queued pages of a document (pages being rendered finish)."""

    @abc.abstractmethod
    def depth(self) -> int:
        """Number of page jobs waiting (not counting those being rendered)."""

    @abc.abstractmethod
    def events(self) -> EventStream:
        """Subscribe to every event from now on (see ``EventStream``)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
