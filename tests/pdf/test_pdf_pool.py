"""LocalRenderQueue: worker processes, priorities, the cache, and recovery from bad workers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.jobs import rendition_path
from ecabinet.pdf.render import Rendition
from ecabinet.rendering.pool import DocumentDone, LocalRenderQueue, PageFailed, PageReady
from ecabinet.rendering.queue import EventStream, RenderEvent
from tests.waiting import until

pytestmark = pytest.mark.anyio

PdfFactory = Callable[..., Path]
SMALL = (Rendition("tablet", 240), Rendition("thumb", 60))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def collect(stream: EventStream, sha256: str, timeout: float = 30.0) -> list[RenderEvent]:
    """Read events of one document until its DocumentDone."""
    events: list[RenderEvent] = []

    async def read() -> None:
        async for event in stream:
            if event.sha256 == sha256:
                events.append(event)
                if isinstance(event, DocumentDone):
                    return

    await asyncio.wait_for(read(), timeout)
    return events


async def until_taken(queue: LocalRenderQueue, depth: int) -> None:
    """Wait until the workers have taken jobs off the queue down to ``depth`` waiting."""
    # Polled every millisecond: the tests look at the queue right after a worker takes a job.
    await until(lambda: queue.depth() <= depth, f"the workers take jobs down to {depth} waiting",
                timeout=5, interval=0.001)


async def test_renders_every_page_to_every_rendition(sample_pdf: Path, tmp_path: Path) -> None:
    sha = digest(sample_pdf)
    async with LocalRenderQueue(tmp_path / "cache", workers=2) as queue:
        with queue.events() as stream:
            await queue.submit_document(sha, sample_pdf, 3)
            events = await collect(stream, sha)
    ready = sorted((e for e in events if isinstance(e, PageReady)), key=lambda e: e.page)
    assert [e.page for e in ready] == [0, 1, 2]
    assert events[-1] == DocumentDone(sha, 3, ())
    for event in ready:
        assert set(event.files) == {"tablet", "zoom", "thumb", "text"} and not event.cached
        for name, width in (("tablet", 1280), ("zoom", 2560), ("thumb", 200)):
            assert event.files[name] == str(
                rendition_path(tmp_path / "cache", sha, event.page, Rendition(name, width))
            )
            with Image.open(event.files[name]) as image:
                assert image.format == "JPEG" and image.width == width
        words = json.loads(Path(event.files["text"]).read_text("utf-8"))["words"]
        assert f"Marker{event.page}" in [word[4] for word in words]


async def test_a_requested_page_jumps_the_queue(
    make_pdf: PdfFactory, tmp_path: Path, fault_hooks: ModuleType
) -> None:
    pdf = make_pdf(12, toc=False)
    sha = digest(pdf)
    queue = LocalRenderQueue(tmp_path, workers=1, renditions=SMALL, render=fault_hooks.slow)
    async with queue:
        with queue.events() as stream:
            await queue.submit_document(sha, pdf, 12)
            await until_taken(queue, 11)  # page 0 (every document's first page) is under way
            await queue.prioritise(sha, 9)
            events = await collect(stream, sha)
    order = [e.page for e in events if isinstance(e, PageReady)]
    assert order[:3] == [0, 9, 10]
    assert order[3:] == [1, 2, 3, 4, 5, 6, 7, 8, 11]


async def test_the_latest_request_goes_first(
    make_pdf: PdfFactory, tmp_path: Path, fault_hooks: ModuleType
) -> None:
    pdf = make_pdf(12, toc=False)
    sha = digest(pdf)
    queue = LocalRenderQueue(tmp_path, workers=1, renditions=SMALL, render=fault_hooks.slow)
    async with queue:
        with queue.events() as stream:
            await queue.submit_document(sha, pdf, 12)
            await until_taken(queue, 11)
            await queue.prioritise(sha, 4)
            await queue.prioritise(sha, 8)
            events = await collect(stream, sha)
    order = [e.page for e in events if isinstance(e, PageReady)]
    # Each request also brings forward the page after it, the reader's likely next page.
    assert order[:5] == [0, 8, 9, 4, 5]


async def test_wait_for_page_and_the_cache(make_pdf: PdfFactory, tmp_path: Path) -> None:
    pdf = make_pdf(4, toc=False)
    sha = digest(pdf)
    async with LocalRenderQueue(tmp_path, workers=2, renditions=SMALL) as queue:
        with pytest.raises(KeyError):
            await queue.wait_for_page(sha, 0)
        with queue.events() as stream:  # subscribed first: the document may finish any time
            await queue.submit_document(sha, pdf, 4)
            ready = await queue.wait_for_page(sha, 3, timeout=20)
            assert ready.page == 3 and Path(ready.files["tablet"]).is_file()
            with pytest.raises(PdfError) as caught:
                await queue.wait_for_page(sha, 4)
            assert caught.value.code == "page_out_of_range"
            await collect(stream, sha)
        again = await queue.wait_for_page(sha, 3)
        assert again.cached
        # A page evicted from the cache is rendered again on demand.
        Path(again.files["tablet"]).unlink()
        fresh = await queue.wait_for_page(sha, 3, timeout=20)
        assert not fresh.cached and Path(fresh.files["tablet"]).is_file()
        # Submitting a rendered document again reports every page at once, from the cache.
        with queue.events() as stream:
            await queue.submit_document(sha, pdf, 4)
            events = await collect(stream, sha, timeout=5)
        assert all(e.cached for e in events if isinstance(e, PageReady)) and len(events) == 5


@pytest.mark.parametrize(
    ("hook", "code", "detail"),
    [
        ("exits", "render_crashed", "exit code 3"),
        ("segfaults", "render_crashed", "SIGSEGV"),
        ("hangs", "render_timeout", "exceeded 1.5 s"),
        ("raises", "render_failed", "ValueError"),
    ],
)
async def test_a_bad_job_fails_alone_and_the_pool_recovers(
    make_pdf: PdfFactory,
    tmp_path: Path,
    fault_hooks: ModuleType,
    hook: str,
    code: str,
    detail: str,
) -> None:
    pdf = make_pdf(5, toc=False)
    sha = digest(pdf)
    render = getattr(fault_hooks, hook)
    queue = LocalRenderQueue(tmp_path, workers=2, renditions=SMALL, job_timeout=1.5, render=render)
    async with queue:
        with queue.events() as stream:
            started = time.perf_counter()
            await queue.submit_document(sha, pdf, 5)
            events = await collect(stream, sha)
            assert time.perf_counter() - started < 15
        failed = [e for e in events if isinstance(e, PageFailed)]
        assert [(e.page, e.code) for e in failed] == [(1, code)]
        assert detail in failed[0].message
        assert sorted(e.page for e in events if isinstance(e, PageReady)) == [0, 2, 3, 4]
        assert events[-1] == DocumentDone(sha, 5, (1,))
        with pytest.raises(PdfError) as caught:
            await queue.wait_for_page(sha, 1, timeout=20)
        assert caught.value.code == code
        # The pool still works: another document renders.
        other = make_pdf(1, toc=False)
        with queue.events() as stream:
            await queue.submit_document(digest(other), other, 1)
            done = await collect(stream, digest(other))
        assert done[-1] == DocumentDone(digest(other), 1, ())


async def test_the_event_loop_is_never_blocked(make_pdf: PdfFactory, tmp_path: Path) -> None:
    pdf = make_pdf(6, toc=False)
    sha = digest(pdf)
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)  # the tick whose lateness is measured
            lags.append(time.perf_counter() - before - 0.01)

    async with LocalRenderQueue(tmp_path, workers=2) as queue:
        task = asyncio.create_task(ticker())
        with queue.events() as stream:
            await queue.submit_document(sha, pdf, 6)
            await collect(stream, sha)
        task.cancel()
    # Rendering on the loop would delay nearly every tick by a page's render time (0.1 s or
    # more); a busy shared machine may delay a few ticks, hence a percentile and a loose maximum.
    lags.sort()
    assert len(lags) > 10
    assert lags[int(len(lags) * 0.9)] < 0.05 and lags[-1] < 0.5


async def test_callback_cancel_and_close(make_pdf: PdfFactory, tmp_path: Path) -> None:
    pdf = make_pdf(8, toc=False)
    sha = digest(pdf)
    seen: list[RenderEvent] = []
    queue = LocalRenderQueue(tmp_path, workers=1, renditions=SMALL, on_event=seen.append)
    await queue.start()
    stream = queue.events()
    await queue.submit_document(sha, pdf, 8)
    assert queue.depth() == 8
    await queue.cancel_document(sha)
    assert queue.depth() == 0
    await queue.submit_document(sha, pdf, 8)
    waiter = asyncio.create_task(queue.wait_for_page(sha, 7))
    # No public sign that the waiter is registered (it first looks in the cache on a thread).
    await until(lambda: queue._waiters, "the waiter for page 8 is registered")
    await queue.close()
    with pytest.raises(PdfError) as caught:
        await waiter
    assert caught.value.code == "render_cancelled"
    assert [event async for event in stream] == seen  # the stream ended with the queue
    with pytest.raises(RuntimeError):
        await queue.submit_document(sha, pdf, 8)


async def test_refuses_a_hash_that_is_not_hex(sample_pdf: Path, tmp_path: Path) -> None:
    async with LocalRenderQueue(tmp_path, workers=1) as queue:
        with pytest.raises(ValueError):
            await queue.submit_document("../../etc", sample_pdf, 1)


async def test_workers_are_recycled_after_their_job_quota(
    make_pdf: PdfFactory, tmp_path: Path
) -> None:
    pdf = make_pdf(5, toc=False)
    sha = digest(pdf)
    queue = LocalRenderQueue(tmp_path, workers=1, renditions=SMALL, max_jobs_per_worker=2)
    async with queue:
        with queue.events() as stream:
            await queue.submit_document(sha, pdf, 5)
            events = await collect(stream, sha)
    assert events[-1] == DocumentDone(sha, 5, ())


async def test_a_worker_that_cannot_start_is_a_clear_error(
    tmp_path: Path, fault_hooks: ModuleType
) -> None:
    queue = LocalRenderQueue(
        tmp_path, workers=1, render=fault_hooks.dies_at_start, start_timeout=20
    )
    with pytest.raises(RuntimeError, match="did not start"):
        await queue.start()
