"""The local rendering pool: worker processes on this machine behind a priority queue.

Scheduling, in order: pages a reader asked for (newest request first), then the first page of
every submitted document (so each gets a thumbnail early), then the remaining pages in document
submission order and page order. One job runs per worker at a time; a job that hangs past the
time limit or kills its worker fails alone, and the worker is replaced.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import multiprocessing
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ecabinet.pdf.errors import PAGE_OUT_OF_RANGE, RENDER_CANCELLED, RENDER_FAILED, PdfError
from ecabinet.pdf.jobs import RenderJob, cached_outputs, document_dir, render_job
from ecabinet.pdf.render import MAX_PIXELS, RENDITIONS, Rendition
from ecabinet.rendering.queue import (
    DocumentDone,
    EventCallback,
    EventStream,
    PageFailed,
    PageReady,
    RenderEvent,
    RenderQueue,
)
from ecabinet.rendering.worker import JobResult, RenderFunction, WorkerProcess

__all__ = ["DocumentDone", "LocalRenderQueue", "PageFailed", "PageReady", "RenderQueue"]

log = logging.getLogger(__name__)

_REQUESTED: Final = 0
_FIRST_PAGE: Final = 1
_BACKGROUND: Final = 2
# Pause before retrying a worker that would not start, so a broken install does not spin.
_RESTART_BACKOFF: Final = 1.0

JobKey = tuple[str, int]


@dataclass
class _Document:
    pdf_path: str
    page_count: int
    remaining: set[int] = field(default_factory=set)
    failed: list[int] = field(default_factory=list)


def _default_start_method() -> str:
    # forkserver forks workers from a small clean process: fast restarts, and no copy of the
    # server's threads, sockets or event loop; spawn where it does not exist (Windows, macOS).
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalRenderQueue(RenderQueue):
    """A ``RenderQueue`` running ``workers`` processes (default: one per CPU)."""

    def __init__(
        self,
        cache_dir: str | Path,
        *,
        workers: int | None = None,
        job_timeout: float = 60.0,
        renditions: tuple[Rendition, ...] = RENDITIONS,
        with_text: bool = True,
        max_pixels: int = MAX_PIXELS,
        start_method: str | None = None,
        start_timeout: float = 60.0,
        max_jobs_per_worker: int = 2000,
        on_event: EventCallback | None = None,
        render: RenderFunction = render_job,
    ) -> None:
        """``render`` runs in the workers and must be a module-level function (it is pickled);
        tests pass one that crashes or hangs. ``max_jobs_per_worker`` recycles workers so that
        memory fragmented by MuPDF's caches is given back."""
        self.cache_dir = Path(cache_dir)
        self.worker_count = workers or os.cpu_count() or 1
        self.job_timeout = job_timeout
        self.renditions = renditions
        self.with_text = with_text
        self.max_pixels = max_pixels
        self.start_timeout = start_timeout
        self.max_jobs_per_worker = max_jobs_per_worker
        self._on_event = on_event
        self._render = render
        method = start_method or _default_start_method()
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            # Effective only if no forkserver runs yet; then every worker forks with PyMuPDF
            # and Pillow already imported instead of importing them itself.
            self._context.set_forkserver_preload(["ecabinet.rendering.worker", "ecabinet.pdf.jobs"])
        self._heap: list[tuple[int, int, int, JobKey]] = []
        self._pending: dict[JobKey, tuple[int, RenderJob]] = {}
        self._running: set[JobKey] = set()
        self._documents: dict[str, _Document] = {}
        self._known: dict[str, tuple[str, int]] = {}
        # A page that crashed or hung a worker would do it again; it fails fast until the
        # document is submitted anew.
        self._failed: dict[JobKey, PageFailed] = {}
        self._waiters: dict[JobKey, list[asyncio.Future[PageReady]]] = {}
        self._streams: set[EventStream] = set()
        self._workers: list[WorkerProcess] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeup = asyncio.Event()
        self._order = itertools.count()
        self._closed = False

    async def start(self) -> None:
        """Start every worker and wait until all are ready (so the first page is not late)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._workers = [
            WorkerProcess(self._context, self._render, f"ecabinet-render-{n}")
            for n in range(self.worker_count)
        ]
        try:
            await asyncio.gather(*(worker.start(self.start_timeout) for worker in self._workers))
        except BaseException:
            await asyncio.gather(*(worker.kill() for worker in self._workers))
            raise
        self._tasks = [
            asyncio.create_task(self._serve(worker), name=f"render-slot-{n}")
            for n, worker in enumerate(self._workers)
        ]

    async def close(self) -> None:
        """Stop the workers (a job in progress is abandoned) and end every stream and waiter."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        cancelled = PdfError(RENDER_CANCELLED, "Hàng đợi kết xuất đã dừng (render queue closed).")
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(cancelled)
        self._waiters.clear()
        self._pending.clear()
        self._heap.clear()
        for stream in list(self._streams):
            stream.close()

    def _job(self, sha256: str, pdf_path: str, page: int) -> RenderJob:
        return RenderJob(
            sha256=sha256,
            pdf_path=pdf_path,
            page=page,
            cache_dir=str(self.cache_dir),
            renditions=self.renditions,
            with_text=self.with_text,
            max_pixels=self.max_pixels,
        )

    def _push(self, job: RenderJob, rank: int) -> None:
        order = next(self._order)
        # Requested pages run newest first; everything else first come, first served.
        heapq.heappush(self._heap, (rank, -order if rank == _REQUESTED else order, order, job.key))
        self._pending[job.key] = (order, job)
        self._wakeup.set()

    async def submit_document(self, sha256: str, pdf_path: str | Path, page_count: int) -> None:
        """See ``RenderQueue.submit_document``."""
        self._check_open()
        document_dir(self.cache_dir, sha256)  # validates the hash before anything is queued
        if sha256 in self._documents:
            return
        path = str(pdf_path)
        self._known[sha256] = (path, page_count)
        for key in [key for key in self._failed if key[0] == sha256]:
            del self._failed[key]
        document = _Document(path, page_count)
        self._documents[sha256] = document  # claimed before awaiting: a second submit is a no-op
        jobs = [self._job(sha256, path, page) for page in range(page_count)]
        cached = await asyncio.to_thread(lambda: [cached_outputs(job) for job in jobs])
        if self._closed or self._documents.get(sha256) is not document:
            return  # closed or cancelled meanwhile
        for job, files in zip(jobs, cached, strict=True):
            if files is not None:
                self._emit(PageReady(sha256, job.page, files, cached=True))
            elif job.key not in self._pending and job.key not in self._running:
                document.remaining.add(job.page)
                self._push(job, _FIRST_PAGE if job.page == 0 else _BACKGROUND)
            else:
                document.remaining.add(job.page)
        self._maybe_done(sha256)

    async def prioritise(self, sha256: str, page: int) -> None:
        """See ``RenderQueue.prioritise``."""
        self._check_open()
        known = self._known.get(sha256)
        if known is None:
            return
        path, page_count = known
        # Push the next page first so that the requested one, pushed last, runs first.
        for target in (page + 1, page):
            key = (sha256, target)
            if not 0 <= target < page_count or key in self._running:
                continue
            entry = self._pending.get(key)
            if entry is not None:
                self._push(entry[1], _REQUESTED)
            elif target == page and sha256 not in self._documents and key not in self._failed:
                # Outside a submission (evicted from the cache, or failed before): render anew.
                job = self._job(sha256, path, target)
                if cached_outputs(job) is None:
                    self._push(job, _REQUESTED)

    async def wait_for_page(
        self, sha256: str, page: int, timeout: float | None = None
    ) -> PageReady:
        """See ``RenderQueue.wait_for_page``."""
        self._check_open()
        known = self._known.get(sha256)
        if known is None:
            raise KeyError(sha256)
        if not 0 <= page < known[1]:
            raise PdfError(PAGE_OUT_OF_RANGE, f"Không có trang {page + 1} (no such page).")
        failure = self._failed.get((sha256, page))
        if failure is not None:
            raise PdfError(failure.code, failure.message)
        job = self._job(sha256, known[0], page)
        files = await asyncio.to_thread(cached_outputs, job)
        if files is not None:
            return PageReady(sha256, page, files, cached=True)
        future: asyncio.Future[PageReady] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job.key, []).append(future)
        if job.key not in self._pending and job.key not in self._running:
            self._push(job, _REQUESTED)
        else:
            await self.prioritise(sha256, page)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiters = self._waiters.get(job.key, [])
            if future in waiters:
                waiters.remove(future)

    async def cancel_document(self, sha256: str) -> None:
        """See ``RenderQueue.cancel_document``."""
        for key in [key for key in self._pending if key[0] == sha256]:
            del self._pending[key]
        self._documents.pop(sha256, None)
        cancelled = PdfError(RENDER_CANCELLED, "Đã huỷ kết xuất tài liệu (rendering cancelled).")
        for key in [key for key in self._waiters if key[0] == sha256 and key not in self._running]:
            for future in self._waiters.pop(key):
                if not future.done():
                    future.set_exception(cancelled)

    def depth(self) -> int:
        """See ``RenderQueue.depth``."""
        return len(self._pending)

    def events(self) -> EventStream:
        """See ``RenderQueue.events``."""
        stream = EventStream(self._streams.discard)
        if self._closed:
            stream.close()
        else:
            self._streams.add(stream)
        return stream

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the render queue is closed")

    async def _next_job(self) -> RenderJob:
        while True:
            while self._heap:
                _, _, order, key = heapq.heappop(self._heap)
                entry = self._pending.get(key)
                if entry is not None and entry[0] == order:  # else superseded or cancelled
                    del self._pending[key]
                    return entry[1]
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _serve(self, worker: WorkerProcess) -> None:
        while True:
            # Replace a dead or retired worker before taking work, so a job never waits for it.
            while not worker.alive:
                await self._restart(worker)
            job = await self._next_job()
            self._running.add(job.key)
            try:
                result = await worker.run(job, self.job_timeout)
            except Exception as exc:
                # A bug here must not silently take one worker's share of capacity away.
                log.exception("render slot failed")
                await worker.kill()
                message = f"Lỗi hàng đợi kết xuất (render queue error: {exc!r})."
                result = JobResult(None, 0.0, RENDER_FAILED, message)
            finally:
                self._running.discard(job.key)
            self._finish(job, result)
            if worker.alive and worker.jobs_done >= self.max_jobs_per_worker:
                await worker.stop()

    async def _restart(self, worker: WorkerProcess) -> None:
        try:
            await worker.start(self.start_timeout)
        except (OSError, RuntimeError) as exc:
            log.warning("render worker failed to start: %r", exc)
            await asyncio.sleep(_RESTART_BACKOFF)

    def _finish(self, job: RenderJob, result: JobResult) -> None:
        event: RenderEvent
        if result.files is not None:
            event = PageReady(job.sha256, job.page, result.files, elapsed=result.elapsed)
        else:
            event = PageFailed(job.sha256, job.page, result.code, result.message)
            self._failed[job.key] = event
            log.warning("page %s/%d failed: %s", job.sha256[:12], job.page, result.message)
        for future in self._waiters.pop(job.key, []):
            if future.done():
                continue
            if isinstance(event, PageReady):
                future.set_result(event)
            else:
                future.set_exception(PdfError(event.code, event.message))
        self._emit(event)
        document = self._documents.get(job.sha256)
        if document is not None and job.page in document.remaining:
            document.remaining.discard(job.page)
            if isinstance(event, PageFailed):
                document.failed.append(job.page)
            self._maybe_done(job.sha256)

    def _maybe_done(self, sha256: str) -> None:
        document = self._documents.get(sha256)
        if document is not None and not document.remaining:
            del self._documents[sha256]
            failed = tuple(sorted(document.failed))
            self._emit(DocumentDone(sha256, document.page_count, failed))

    def _emit(self, event: RenderEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("render event callback failed")
        for stream in list(self._streams):
            stream.put(event)
