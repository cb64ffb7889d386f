"""The render service: one per server process, between the render queue and the meetings.

It submits stored PDFs to the queue (``RenderQueue``: the local worker pool, or the Redis-backed
queue shared with ``ecabinet worker`` processes), turns the queue's events into blob status and
meeting events, and moves the pages people ask for to the front.

- ``document.progress`` (not logged) goes to every meeting with a document on the blob, at once
  for the first page, then at most every ``PROGRESS_INTERVAL`` seconds;
- ``document.ready`` (logged) when every page is done, with ``status`` failed and the reason when
  some page could not be rendered (the other pages are served);
- blobs still pending when the server starts (a restart, a pack imported from the command line)
  are picked up by a poll of the database, which also catches blobs attached by code paths that
  did not call ``submit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlmodel import Session, col, select

from ecabinet.core.logs import get_logger
from ecabinet.core.metrics import Metrics
from ecabinet.core.settings import Settings
from ecabinet.domain.roles import MeetingRole
from ecabinet.pdf.isolation import limited_render
from ecabinet.protocol import REGISTRY, Schema
from ecabinet.rendering.pool import LocalRenderQueue
from ecabinet.rendering.queue import DocumentDone, PageFailed, PageReady, RenderEvent, RenderQueue
from ecabinet.services.documents import DocumentProgress, DocumentRendered
from ecabinet.services.documents.access import Form, may_have
from ecabinet.services.kernel.context import (
    WITHHELD,
    WITHHELD_TYPE,
    Actor,
    OutEvent,
    make_event,
)
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.database import Database
from ecabinet.storage.models import Blob, Document, Meeting, utcnow

log = get_logger(__name__)

PROGRESS_INTERVAL: Final = 0.5
STATUS_WRITE_INTERVAL: Final = 2.0
POLL_INTERVAL: Final = 2.0
PRESENTED: Final = "present.changed"  # services/presenting.py: document_id and page (0-based)
Publish = Callable[[list[OutEvent]], Awaitable[None]]


def build_queue(settings: Settings, store: BlobStore) -> RenderQueue:
    """The queue the settings ask for: Redis-backed when Redis is configured, else local."""
    workers = settings.render_workers
    if settings.redis_url:
        from ecabinet.rendering.redis_queue import RedisRenderQueue

        consumers = (os.cpu_count() or 1) if workers is None else workers
        return RedisRenderQueue(settings, consumers=consumers)
    return LocalRenderQueue(
        store.renditions_dir,
        workers=workers or None,
        job_timeout=settings.render_timeout,
        render=limited_render,
    )


@dataclass
class _Progress:
    """What this process knows about one blob being rendered."""

    page_count: int
    ready: set[int] = field(default_factory=set)
    unsent: set[int] = field(default_factory=set)
    sent_once: bool = False
    flush: asyncio.TimerHandle | None = None
    written_at: float = 0.0


def _stream_event(meeting_id: int, type_: str, payload: Any, hidden: Any = None) -> OutEvent:
    """A meeting event outside the log (no sequence number), checked against its schema;
    ``hidden`` as ``make_event``'s ``observer_payload``."""
    spec = REGISTRY.events[type_]
    assert not spec.logged
    body = spec.schema.model_validate(payload).model_dump(mode="json")
    if hidden is WITHHELD:
        return OutEvent(meeting_id, None, type_, body, "meeting", utcnow(), {}, WITHHELD_TYPE)
    other = spec.schema.model_validate(hidden).model_dump(mode="json") if hidden else None
    return OutEvent(meeting_id, None, type_, body, "meeting", utcnow(), other)


# Observers: the policy's answer for a reader in that role, whoever they are.
_OBSERVER = Actor(0, "", "", False, None, MeetingRole.OBSERVER)


def _for_observers(payload: Schema, every: list[int], public: list[int]) -> Any:
    """What observers get of an event naming documents: the same, only those they may know of,
    or nothing (``WITHHELD``) when none."""
    if public == every:
        return None
    if not public:
        return WITHHELD
    return payload.model_copy(update={"document_ids": public})


@dataclass(frozen=True)
class _Audience:
    meeting_id: int
    document_id: int
    hidden: bool  # from observers


def _audience(session: Session, sha256: str) -> list[_Audience]:
    docs = list(session.exec(
        select(Document).where(
            Document.blob_sha256 == sha256, col(Document.replaced_by_id).is_(None)
        )
    ).all())
    return [_Audience(d.meeting_id, d.id or 0, not may_have(_OBSERVER, d, Form.EVENT).known)
            for d in docs]


def _by_meeting(audience: list[_Audience]) -> dict[int, tuple[list[int], list[int]]]:
    """meeting id -> (every document id, the ids observers may know about)."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    for entry in audience:
        every, public = out.setdefault(entry.meeting_id, ([], []))
        every.append(entry.document_id)
        if not entry.hidden:
            public.append(entry.document_id)
    return out


class RenderService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        metrics: Metrics,
        publish: Publish,
        queue: RenderQueue | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = BlobStore(settings.data_dir)
        self.queue = queue if queue is not None else build_queue(settings, self.store)
        self.publish = publish
        metrics.track_render_queue(self.queue.depth)
        self._progress: dict[str, _Progress] = {}
        self._missing: set[str] = set()  # rows whose file is not in the store (said once)
        self._started: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the queue in the background (the server answers meanwhile)."""
        self._started = asyncio.create_task(self._start(), name="render-service-start")

    async def _start(self) -> None:
        removed = await asyncio.to_thread(self.store.clean_tmp)
        if removed:
            log.info("render.tmp_cleaned", removed=removed)
        await self.queue.start()
        stream = self.queue.events()
        self._spawn(self._consume(stream), "render-events")
        self._spawn(self._poll(), "render-poll")

    async def ready(self) -> None:
        """Wait until the queue runs; raise if it could not start."""
        if self._started is None:
            raise RuntimeError("the render service was not started")
        await asyncio.shield(self._started)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started is not None:
            with contextlib.suppress(Exception):
                await self._started
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for progress in self._progress.values():
            if progress.flush is not None:
                progress.flush.cancel()
        await self.queue.close()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- submitting and asking -------------------------------------------------------------

    async def submit(self, sha256: str) -> None:
        """Render a stored blob's pages unless they are done (call after the commit).

        Never raises: the upload is committed whatever happens here, and the database poll
        submits the blob later if this attempt failed.
        """
        try:
            await self.ready()
            claimed = await self.db.write(_claim, sha256)
            if claimed is not None:
                await self._submit(sha256, claimed)
        except Exception:
            log.exception("render.submit_failed", sha256=sha256)

    async def _submit(self, sha256: str, page_count: int) -> None:
        if not await asyncio.to_thread(self.store.exists, sha256):
            if sha256 not in self._missing:
                self._missing.add(sha256)
                log.warning("render.blob_missing", sha256=sha256)
            return
        progress = self._progress.get(sha256)
        if progress is None:
            self._progress[sha256] = _Progress(page_count)
        await self.queue.submit_document(sha256, self.store.path(sha256), page_count)

    async def prioritise(self, sha256: str, page: int) -> None:
        """Move ``page`` (0-based) of a blob to the front of the queue."""
        await self.ready()
        await self.queue.prioritise(sha256, page)

    async def prioritise_document(self, document_id: int, page: int) -> None:
        """Move ``page`` (0-based, as ``present.changed`` counts) of a document to the front."""
        doc = await self.db.read(lambda s: s.get(Document, document_id))
        if doc is not None and page >= 0:
            await self.prioritise(doc.blob_sha256, page)

    def notice(self, events: list[OutEvent]) -> None:
        """Look at committed events on their way out: the page the presenter shows (and the
        one after it) goes to the front of the queue before any tablet asks for it."""
        if self._started is None or self._closed:
            return
        for ev in events:
            if ev.type == PRESENTED and ev.payload.get("document_id") is not None:
                page = ev.payload.get("page")
                if isinstance(page, int):
                    self._spawn(
                        self._quietly(self.prioritise_document(ev.payload["document_id"], page)),
                        "render-presented",
                    )

    async def _quietly(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("render.prioritise_failed")

    async def wait_for_page(self, sha256: str, page: int, page_count: int, timeout: float) -> None:
        """Return when ``page`` (0-based) is on disk, rendering it first in line if needed.

        Raises ``PdfError`` when the page failed and ``TimeoutError`` after ``timeout``.
        """
        await self.ready()
        try:
            await self.queue.wait_for_page(sha256, page, timeout)
        except KeyError:
            # Not known to this process's queue (rendered before a restart, then evicted):
            # submit the document again; pages still on disk are reported at once.
            await self._submit(sha256, page_count)
            await self.queue.wait_for_page(sha256, page, timeout)

    # --- events from the queue -------------------------------------------------------------

    async def _consume(self, stream: Any) -> None:
        async for item in stream:
            try:
                await self._handle(item)
            except Exception:
                log.exception("render.event_failed", event=type(item).__name__)

    async def _handle(self, item: RenderEvent) -> None:
        if isinstance(item, PageReady):
            progress = self._progress.get(item.sha256)
            if progress is None:
                return  # a page asked for outside a submission (prioritised after a restart)
            if item.page not in progress.ready:
                progress.ready.add(item.page)
                progress.unsent.add(item.page)
                self._schedule(item.sha256, progress)
        elif isinstance(item, PageFailed):
            log.warning("render.page_failed", sha256=item.sha256[:12], page=item.page + 1,
                        code=item.code, message=item.message)
        elif isinstance(item, DocumentDone):
            await self._done(item)

    def _schedule(self, sha256: str, progress: _Progress) -> None:
        if progress.flush is not None:
            return
        delay = PROGRESS_INTERVAL if progress.sent_once else 0.0
        loop = asyncio.get_running_loop()
        progress.flush = loop.call_later(
            delay, lambda: self._spawn(self._flush(sha256), "render-progress")
        )

    async def _flush(self, sha256: str) -> None:
        progress = self._progress.get(sha256)
        if progress is None:
            return
        progress.flush = None
        if not progress.unsent:
            return
        pages = sorted(progress.unsent)
        progress.unsent.clear()
        progress.sent_once = True
        ready = len(progress.ready)
        now = time.monotonic()
        if now - progress.written_at >= STATUS_WRITE_INTERVAL:
            progress.written_at = now
            audience = await self.db.write(_note_progress, sha256, ready)
        else:
            audience = await self.db.read(_audience, sha256)
        events = []
        for meeting_id, (every, public) in _by_meeting(audience).items():
            payload = DocumentProgress(
                document_ids=every,
                pages_ready=ready,
                page_count=progress.page_count,
                pages=[p + 1 for p in pages],
            )
            hidden = _for_observers(payload, every, public)
            events.append(_stream_event(meeting_id, "document.progress", payload, hidden))
        if events:
            await self.publish(events)

    async def _done(self, done: DocumentDone) -> None:
        progress = self._progress.get(done.sha256)
        if progress is not None:
            # The last pages are announced now, before the document is said to be ready.
            if progress.flush is not None:
                progress.flush.cancel()
                progress.flush = None
            await self._flush(done.sha256)
            self._progress.pop(done.sha256, None)
        ready = done.page_count - len(done.failed_pages)
        events = await self.db.write(_finish, done.sha256, ready, list(done.failed_pages))
        if events:
            await self.publish(events)

    async def _poll(self) -> None:
        """Pick up blobs nobody submitted: after a restart, or attached by other code paths."""
        first = True
        while True:
            try:
                found = await self.db.read(_unsubmitted, first)
                for sha256, page_count in found:
                    if sha256 not in self._progress:
                        await self.db.write(_claim, sha256)
                        await self._submit(sha256, page_count)
                first = False
            except Exception:
                log.exception("render.poll_failed")
            await asyncio.sleep(POLL_INTERVAL)


def _claim(session: Session, sha256: str) -> int | None:
    """Mark a blob as rendering; return its page count, or None when there is nothing to do."""
    blob = session.get(Blob, sha256, with_for_update=True)
    if blob is None or blob.page_count is None or blob.status in ("ready", "failed"):
        return None
    if blob.status == "pending":
        blob.status = "rendering"
        session.add(blob)
    return blob.page_count


def _unsubmitted(session: Session, include_rendering: bool) -> list[tuple[str, int]]:
    states = ["pending", "rendering"] if include_rendering else ["pending"]
    rows = session.exec(
        select(Blob.sha256, Blob.page_count).where(col(Blob.status).in_(states))
    ).all()
    return [(sha, count) for sha, count in rows if count is not None]


def _note_progress(session: Session, sha256: str, ready: int) -> list[_Audience]:
    blob = session.get(Blob, sha256)
    if blob is not None and blob.status in ("pending", "rendering") and blob.pages_ready < ready:
        blob.pages_ready = ready
        blob.status = "rendering"
        session.add(blob)
    return _audience(session, sha256)


def _failure_text(failed: list[int], page_count: int) -> str:
    shown = ", ".join(str(p + 1) for p in failed[:10]) + ("…" if len(failed) > 10 else "")
    return (
        f"Không kết xuất được {len(failed)}/{page_count} trang (trang {shown}); tệp có thể bị "
        f"hỏng hoặc quá phức tạp (pages failed to render)."
    )


def _finish(session: Session, sha256: str, ready: int, failed: list[int]) -> list[OutEvent]:
    """Record the outcome once and tell every meeting with a document on this blob."""
    blob = session.get(Blob, sha256, with_for_update=True)
    if blob is None or blob.page_count is None:
        return []
    status = "failed" if failed else "ready"
    error = _failure_text(failed, blob.page_count) if failed else None
    if blob.status == status and blob.pages_ready == ready and blob.error == error:
        return []  # another process (or an earlier run) already said so
    blob.status, blob.error, blob.pages_ready = status, error, ready
    session.add(blob)
    events = []
    by_meeting = _by_meeting(_audience(session, sha256))
    for meeting_id in sorted(by_meeting):
        every, public = by_meeting[meeting_id]
        if session.get(Meeting, meeting_id) is None:
            continue
        payload = DocumentRendered(
            document_ids=every,
            page_count=blob.page_count,
            status=status,
            error=error,
            failed_pages=[p + 1 for p in failed],
        )
        hidden = _for_observers(payload, every, public)
        events.append(
            make_event(session, meeting_id, "document.ready", payload, actor_id=None,
                       observer_payload=hidden)
        )
    return events
