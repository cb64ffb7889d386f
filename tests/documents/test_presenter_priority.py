"""The page the presenter shows renders before the pages nobody is looking at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ecabinet.app import build_render_service, create_app
from ecabinet.core.settings import Settings
from ecabinet.rendering.cache import RenditionCache
from ecabinet.rendering.pool import LocalRenderQueue
from ecabinet.storage.blobs import BlobStore
from tests.conftest import LiveServer
from tests.documents import render_hooks, samples
from tests.documents.test_live_documents import is_, upload
from tests.realtime.client import Tablet, sign_in
from tests.waiting import until

pytestmark = pytest.mark.anyio


@pytest.fixture
def database_url() -> None:
    return None


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """The app with a single render process that takes a moment per page (render_hooks.slow),
    so that the order in which pages render can be observed."""
    application = create_app(settings)
    rt = application.runtime
    queue = LocalRenderQueue(BlobStore(rt.settings.data_dir).renditions_dir, workers=1,
                             render=render_hooks.slow)
    rt.renders = build_render_service(rt, queue)
    yield application
    rt.db.close()


async def test_the_page_the_presenter_shows_jumps_the_queue(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    chair = await Tablet.open(live_server.url, "chutich")
    assert (await chair.call("meeting.join", {"meeting_id": mid}))["ok"]
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    doc = await upload(live_server.url, mid, samples.pdf(14), title="Hồ sơ dài")
    presented = 11  # 0-based, as present.page counts
    ack = await chair.call("present.page", {"meeting_id": mid, "document_id": doc["id"],
                                            "page": presented})
    assert ack["ok"], ack
    await chair.wait_for(is_("document.ready", doc["id"]), timeout=30)
    store = BlobStore(app.runtime.settings.data_dir)

    def done_at(page: int) -> int:
        return RenditionCache(store).text_path(doc["sha256"], page).stat().st_mtime_ns

    order = sorted(range(14), key=done_at)
    # Page 1 goes first for every document; the presented page and the one after it come
    # right after the page that was being rendered when the chair turned to it.
    assert order.index(presented) <= 4 and order.index(presented + 1) <= 5
    assert order.index(presented) < order.index(5)
    await chair.close()


async def test_a_page_that_takes_long_answers_503_with_retry_after(
    live_server: LiveServer, room: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecabinet.web import documents as web_documents

    # A tablet's request waits for its page (seconds at most); here, less than one render.
    monkeypatch.setattr(web_documents, "PAGE_WAIT", 0.05)
    mid = room["meeting_id"]
    doc = await upload(live_server.url, mid, samples.pdf(6), title="Chưa xong")
    token = await sign_in(live_server.url, "daibieu1")
    async with httpx.AsyncClient(base_url=live_server.url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        busy = await http.get(f"/api/documents/{doc['id']}/pages/6/tablet")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "page_not_ready"
        assert busy.headers["cache-control"] == "no-store"
        # Asking moved it to the front: it is there soon after, long before the pages between.

        async def page_six() -> httpx.Response | None:
            answer = await http.get(f"/api/documents/{doc['id']}/pages/6/tablet")
            assert answer.status_code in (200, 503), answer.text
            return answer if answer.status_code == 200 else None

        answer = await until(page_six, "page 6, asked for, is rendered", timeout=10, interval=0.1)
        assert answer.headers["content-type"] == "image/jpeg"
