"""The Redis-backed render queue: several server processes and ``ecabinet worker`` nodes share it.

Keys (``<p>`` is ``<ECABINET_REDIS_CHANNEL>:render:``, so installations sharing one Redis stay
apart):

- ``<p>queue``: sorted set of jobs ``"<sha256>:<page>"``, lowest score first: pages somebody
  asked for (newest request first, negative scores), then first pages, then the rest in
  submission order;
- ``<p>doc:<sha256>``: hash with the document's ``page_count``;
- ``<p>remaining:<sha256>``: set of its pages not finished yet; whoever removes the last one
  announces the document as done;
- ``<p>failed:<sha256>``: hash page -> JSON ``{code, message}``;
- ``<p>running``: hash job -> deadline; a job whose node died is queued again after it;
- ``<p>events``: pub/sub channel of JSON messages ``ready``, ``failed``, ``done``.

Workers read the stored PDF and write the renditions under the data folder they share with the
servers (the same ``ECABINET_DATA_DIR``, e.g. on a shared volume); nothing but names and numbers
travels through Redis. Each consumer slot renders in its own child process (``WorkerProcess``), so
a page that hangs or crashes fails alone and the process is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any, Final

from redis.asyncio import Redis

from ecabinet.core.logs import get_logger
from ecabinet.core.settings import Settings
from ecabinet.pdf.errors import PAGE_OUT_OF_RANGE, RENDER_CANCELLED, PdfError
from ecabinet.pdf.isolation import context, limited_render
from ecabinet.pdf.jobs import RenderJob, cached_outputs, document_dir
from ecabinet.rendering.queue import (
    DocumentDone,
    EventStream,
    PageFailed,
    PageReady,
    RenderEvent,
    RenderQueue,
)
from ecabinet.rendering.worker import RenderFunction, WorkerProcess
from ecabinet.storage.blobs import BlobStore

log = get_logger(__name__)

_BACKGROUND: Final = 1e12
_GRACE: Final = 30.0  # seconds past a job's time limit before another node takes it over
_POP_TIMEOUT: Final = 1.0
DONE_TTL: Final = 86400


class Keys:
    def __init__(self, channel: str) -> None:
        self.prefix = f"{channel}:render:"
        self.queue = self.prefix + "queue"
        self.running = self.prefix + "running"
        self.seq = self.prefix + "seq"
        self.events = self.prefix + "events"

    def doc(self, sha256: str) -> str:
        return f"{self.prefix}doc:{sha256}"

    def remaining(self, sha256: str) -> str:
        return f"{self.prefix}remaining:{sha256}"

    def failed(self, sha256: str) -> str:
        return f"{self.prefix}failed:{sha256}"


def _member(sha256: str, page: int) -> str:
    return f"{sha256}:{page}"


def _parse(member: str) -> tuple[str, int]:
    sha256, _, page = member.rpartition(":")
    return sha256, int(page)


def requested_score() -> float:
    """Newest request first: a later request gets a lower (more negative) score."""
    return -time.time() * 1000.0


def _job(store: BlobStore, sha256: str, page: int) -> RenderJob:
    return RenderJob(
        sha256=sha256,
        pdf_path=str(store.path(sha256)),
        page=page,
        cache_dir=str(store.renditions_dir),
    )


def _event_from(message: dict[str, Any]) -> RenderEvent | None:
    kind = message.get("t")
    if kind == "ready":
        return PageReady(message["sha"], message["page"], message["files"],
                         elapsed=message.get("elapsed", 0.0))
    if kind == "failed":
        return PageFailed(message["sha"], message["page"], message["code"], message["message"])
    if kind == "done":
        return DocumentDone(message["sha"], message["page_count"], tuple(message["failed"]))
    return None


class RedisRenderWorker:
    """Consumer slots taking jobs from the shared queue, each with its own render process."""

    def __init__(
        self,
        settings: Settings,
        processes: int,
        *,
        render: RenderFunction = limited_render,
        name: str = "worker",
    ) -> None:
        assert settings.redis_url
        self.settings = settings
        self.store = BlobStore(settings.data_dir)
        self.keys = Keys(settings.redis_channel)
        self.redis: Redis = Redis.from_url(settings.redis_url, decode_responses=True)
        self.processes = processes
        self.render = render
        self.name = name
        self._workers = [
            WorkerProcess(context(), render, f"ecabinet-{name}-{n}") for n in range(processes)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.store.renditions_dir.mkdir(parents=True, exist_ok=True)
        timeout = 60.0
        await asyncio.gather(*(worker.start(timeout) for worker in self._workers))
        self._tasks = [
            asyncio.create_task(self._slot(worker), name=f"render-{self.name}-{n}")
            for n, worker in enumerate(self._workers)
        ]
        if self._workers:
            self._tasks.append(asyncio.create_task(self._reaper(), name="render-reaper"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
        await self.redis.aclose()

    async def _slot(self, worker: WorkerProcess) -> None:
        while True:
            try:
                while not worker.alive:
                    await worker.start(60.0)
                popped = await self.redis.bzpopmin(self.keys.queue, timeout=_POP_TIMEOUT)
                if popped is None:
                    continue
                await self._run(worker, str(popped[1]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("render.worker_slot_failed")
                await asyncio.sleep(1.0)

    async def _run(self, worker: WorkerProcess, member: str) -> None:
        keys = self.keys
        sha256, page = _parse(member)
        timeout = self.settings.render_timeout
        await self.redis.hset(keys.running, member, str(time.time() + timeout + _GRACE))
        job = _job(self.store, sha256, page)
        files = await asyncio.to_thread(cached_outputs, job)
        message: dict[str, Any]
        if files is not None:
            message = {"t": "ready", "sha": sha256, "page": page, "files": files}
        else:
            result = await worker.run(job, timeout)
            if result.files is not None:
                message = {"t": "ready", "sha": sha256, "page": page, "files": result.files,
                           "elapsed": result.elapsed}
            else:
                message = {"t": "failed", "sha": sha256, "page": page, "code": result.code,
                           "message": result.message}
                failure = json.dumps({"code": result.code, "message": result.message})
                await self.redis.hset(keys.failed(sha256), str(page), failure)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.running, member)
            pipe.srem(keys.remaining(sha256), str(page))
            pipe.scard(keys.remaining(sha256))
            pipe.hget(keys.doc(sha256), "page_count")
            _, removed, left, page_count = await pipe.execute()
        await self.redis.publish(keys.events, json.dumps(message))
        if removed and not left and page_count is not None:
            failed = sorted(int(p) for p in await self.redis.hkeys(keys.failed(sha256)))
            # A finished document's entry lives on for a day; after that a request for one of
            # its pages submits it again (pages on disk are found at once).
            await self.redis.expire(keys.doc(sha256), DONE_TTL)
            await self.redis.expire(keys.failed(sha256), DONE_TTL)
            done = {"t": "done", "sha": sha256, "page_count": int(page_count), "failed": failed}
            await self.redis.publish(keys.events, json.dumps(done))

    async def _reaper(self) -> None:
        """Queue again the jobs of nodes that died mid-job (their deadline passed)."""
        while True:
            await asyncio.sleep(5.0)
            with contextlib.suppress(Exception):
                now = time.time()
                for member, deadline in (await self.redis.hgetall(self.keys.running)).items():
                    if float(deadline) < now and await self.redis.hdel(self.keys.running, member):
                        log.warning("render.job_requeued", job=member)
                        again: dict[str, float] = {str(member): requested_score()}
                        await self.redis.zadd(self.keys.queue, again)


class RedisRenderQueue(RenderQueue):
    """The server's side of the shared queue; ``consumers`` render slots run in this process
    too (0: leave rendering to ``ecabinet worker`` processes)."""

    def __init__(self, settings: Settings, *, consumers: int = 0,
                 render: RenderFunction = limited_render) -> None:
        assert settings.redis_url
        self.settings = settings
        self.store = BlobStore(settings.data_dir)
        self.keys = Keys(settings.redis_channel)
        self.redis: Redis = Redis.from_url(settings.redis_url, decode_responses=True)
        self.worker = RedisRenderWorker(settings, consumers, render=render, name="server")
        self._waiters: dict[tuple[str, int], list[asyncio.Future[PageReady]]] = {}
        self._streams: set[EventStream] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._depth = 0
        self._closed = False

    async def start(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.keys.events)
        self._tasks = [
            asyncio.create_task(self._listen(pubsub), name="render-redis-events"),
            asyncio.create_task(self._watch_depth(), name="render-redis-depth"),
        ]
        await self.worker.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.worker.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        cancelled = PdfError(RENDER_CANCELLED, "Hàng đợi kết xuất đã dừng (render queue closed).")
        for waiters in self._waiters.values():
            for future in waiters:
                if not future.done():
                    future.set_exception(cancelled)
        self._waiters.clear()
        for stream in list(self._streams):
            stream.close()
        await self.redis.aclose()

    async def _listen(self, pubsub: Any) -> None:
        try:
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except (ConnectionError, OSError) as exc:
                    log.warning("render.redis_lost", error=str(exc))
                    await asyncio.sleep(1.0)
                    continue
                if message is None or message.get("type") != "message":
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    item = _event_from(json.loads(message["data"]))
                    if item is not None:
                        self._dispatch(item)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _watch_depth(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                self._depth = int(await self.redis.zcard(self.keys.queue))
            await asyncio.sleep(1.0)

    def _dispatch(self, item: RenderEvent) -> None:
        if isinstance(item, PageReady | PageFailed):
            for future in self._waiters.pop((item.sha256, item.page), []):
                if future.done():
                    continue
                if isinstance(item, PageReady):
                    future.set_result(item)
                else:
                    future.set_exception(PdfError(item.code, item.message))
        for stream in list(self._streams):
            stream.put(item)

    async def submit_document(self, sha256: str, pdf_path: str | Path, page_count: int) -> None:
        document_dir(self.store.renditions_dir, sha256)  # validates the hash
        keys = self.keys
        if await self.redis.scard(keys.remaining(sha256)):
            return  # being rendered
        jobs = [_job(self.store, sha256, page) for page in range(page_count)]
        cached = await asyncio.to_thread(lambda: [cached_outputs(job) for job in jobs])
        todo = [job.page for job, files in zip(jobs, cached, strict=True) if files is None]
        base = float(await self.redis.incrby(keys.seq, page_count))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.doc(sha256), "page_count", str(page_count))
            pipe.delete(keys.failed(sha256), keys.remaining(sha256))
            if todo:
                pipe.sadd(keys.remaining(sha256), *[str(p) for p in todo])
                scores = {
                    _member(sha256, p): (base + p if p == 0 else _BACKGROUND + base + p)
                    for p in todo
                }
                pipe.zadd(keys.queue, scores, nx=True)
            await pipe.execute()
        for job, files in zip(jobs, cached, strict=True):
            if files is not None:
                self._dispatch(PageReady(sha256, job.page, files, cached=True))
        if not todo:
            self._dispatch(DocumentDone(sha256, page_count, ()))

    async def _page_count(self, sha256: str) -> int | None:
        value = await self.redis.hget(self.keys.doc(sha256), "page_count")
        return int(value) if value is not None else None

    async def _request(self, sha256: str, page: int) -> None:
        member = _member(sha256, page)
        if await self.redis.hexists(self.keys.running, member):
            return
        score: dict[str, float] = {member: requested_score()}
        await self.redis.zadd(self.keys.queue, score, lt=True)

    async def prioritise(self, sha256: str, page: int) -> None:
        page_count = await self._page_count(sha256)
        if page_count is None:
            return
        for target in (page + 1, page):  # the requested page, pushed last, runs first
            if 0 <= target < page_count:
                job = _job(self.store, sha256, target)
                if await asyncio.to_thread(cached_outputs, job) is None:
                    await self._request(sha256, target)

    async def wait_for_page(
        self, sha256: str, page: int, timeout: float | None = None
    ) -> PageReady:
        page_count = await self._page_count(sha256)
        if page_count is None:
            raise KeyError(sha256)
        if not 0 <= page < page_count:
            raise PdfError(PAGE_OUT_OF_RANGE, f"Không có trang {page + 1} (no such page).")
        failure = await self.redis.hget(self.keys.failed(sha256), str(page))
        if failure is not None:
            data = json.loads(failure)
            raise PdfError(data["code"], data["message"])
        key = (sha256, page)
        future: asyncio.Future[PageReady] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            job = _job(self.store, sha256, page)
            files = await asyncio.to_thread(cached_outputs, job)
            if files is not None:
                return PageReady(sha256, page, files, cached=True)
            await self._request(sha256, page)
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiters = self._waiters.get(key, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(key, None)

    async def cancel_document(self, sha256: str) -> None:
        keys = self.keys
        pages = await self.redis.smembers(keys.remaining(sha256))
        async with self.redis.pipeline(transaction=True) as pipe:
            if pages:
                pipe.zrem(keys.queue, *[_member(sha256, int(p)) for p in pages])
            pipe.delete(keys.remaining(sha256), keys.doc(sha256))
            await pipe.execute()

    def depth(self) -> int:
        return self._depth

    def events(self) -> EventStream:
        stream = EventStream(self._streams.discard)
        if self._closed:
            stream.close()
        else:
            self._streams.add(stream)
        return stream


async def run_worker(settings: Settings, processes: int, stop: asyncio.Event) -> None:
    """The body of ``ecabinet worker``: render from the shared queue until ``stop`` is set."""
    worker = RedisRenderWorker(settings, processes, name=f"node-{time.time_ns() % 100000}")
    await worker.start()
    log.info("worker.started", processes=processes, data_dir=str(settings.data_dir))
    try:
        await stop.wait()
    finally:
        await worker.close()
        log.info("worker.stopped")
