"""Bad files: each gets a clear error in the upload answer or the document's status, the worker
that choked is replaced, the server keeps serving, and nothing else changes. (SQLite only: the
database plays no part in how a file is judged.)"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pymupdf
import pytest
from PIL import Image

from ecabinet.app import build_render_service, create_app
from ecabinet.core.settings import Settings
from ecabinet.pdf.render import MAX_PIXELS
from ecabinet.rendering.pool import LocalRenderQueue
from ecabinet.storage.blobs import BlobStore
from tests.documents import render_hooks, samples
from tests.documents.conftest import Api, picture


@pytest.fixture
def database_url() -> None:
    return None


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"render_timeout": 2.0}


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """The app with a pool whose worker dies on pages saying CRASH-RENDERER (see render_hooks)."""
    application = create_app(settings)
    rt = application.runtime
    queue = LocalRenderQueue(
        BlobStore(rt.settings.data_dir).renditions_dir,
        workers=1,
        job_timeout=rt.settings.render_timeout,
        render=render_hooks.crash_on_marker,
    )
    rt.renders = build_render_service(rt, queue)
    yield application
    rt.db.close()


def many_pages(count: int) -> bytes:
    doc = pymupdf.open()
    for _ in range(count):
        doc.new_page(width=200, height=200)
    data: bytes = doc.tobytes()
    doc.close()
    return data


BAD_FILES: list[tuple[str, Callable[[], bytes], str, dict[str, str], str]] = [
    ("truncated", samples.truncated, "bao-cao.pdf", {}, "truncated_pdf"),
    ("random bytes named .pdf", samples.random_bytes, "bao-cao.pdf", {}, "not_a_pdf"),
    ("random bytes", samples.random_bytes, "bao-cao.bin", {}, "unsupported_type"),
    ("web page named .pdf", lambda: b"<html><body>%PDF</body></html>" * 50, "a.pdf", {},
     "not_a_pdf"),
    ("a PDF header and garbage", lambda: b"%PDF-1.7\n" + samples.random_bytes(), "a.pdf", {},
     "not_a_pdf"),
    ("empty", lambda: b"", "bao-cao.pdf", {}, "empty_file"),
    ("password, none given", lambda: samples.encrypted_pdf("bí-mật"), "mat.pdf", {},
     "password_required"),
    ("password, wrong one", lambda: samples.encrypted_pdf("bí-mật"), "mat.pdf",
     {"password": "sai"}, "wrong_password"),
    ("a page of absurd size", lambda: samples.pdf(1, size=(20000, 842), toc=False), "a.pdf",
     {}, "page_too_large"),
    ("too many pages", lambda: many_pages(2001), "a.pdf", {}, "too_many_pages"),
]


@pytest.mark.parametrize(("case", "make", "filename", "fields", "code"), BAD_FILES,
                         ids=[case[0] for case in BAD_FILES])
def test_a_bad_file_gets_a_clear_error_and_changes_nothing(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], case: str,
    make: Callable[[], bytes], filename: str, fields: dict[str, str], code: str,
) -> None:
    secretary = as_user("thuky")
    before = picture(app)
    response = secretary.upload(room["meeting_id"], make(), filename=filename, **fields)
    assert response.status_code in (400, 413), response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert "(" in error["message"] and len(error["message"]) > 20  # Vietnamese, English hint
    assert picture(app) == before
    assert before["blob_files"] == [] and before["tmp_files"] == []


def test_the_right_password_opens_the_file_and_the_stored_copy_is_decrypted(
    as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    response = secretary.upload(room["meeting_id"], samples.encrypted_pdf("bí-mật"),
                                password="bí-mật")
    assert response.status_code == 201, response.text
    assert response.json()["file"]["removed"]["decrypted"] is True
    doc = response.json()["document"]
    assert secretary.rendered(doc["id"])["status"] == "ready"
    served = secretary.get(f"/api/documents/{doc['id']}/file").content
    with pymupdf.open(stream=served, filetype="pdf") as copy:
        assert not copy.needs_pass and not copy.is_encrypted
    # The same bytes again still need the password: the stored result is not a way around it.
    again = secretary.upload(room["meeting_id"], samples.encrypted_pdf("bí-mật"))
    assert again.json()["error"]["code"] == "password_required"


def test_scripts_and_attached_files_never_reach_the_served_copy(
    as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    response = secretary.upload(room["meeting_id"], samples.with_javascript())
    assert response.status_code == 201, response.text
    removed = response.json()["file"]["removed"]
    assert removed["javascript"] >= 1 and removed["embedded_files"] >= 1
    served = secretary.get(f"/api/documents/{response.json()['document']['id']}/file").content
    assert b"/JavaScript" not in served and b"/EmbeddedFile" not in served
    assert b"smuggled" not in served
    with pymupdf.open(stream=served, filetype="pdf") as copy:
        assert copy.embfile_count() == 0


def _healthy_neighbour(secretary: Api, meeting_id: int) -> dict[str, Any]:
    """A normal document uploaded before the bad one, fully rendered."""
    good = secretary.uploaded(meeting_id, samples.pdf(2, marker="Tot"), title="Tài liệu tốt")
    assert secretary.rendered(good["id"])["status"] == "ready"
    return good


def _still_serving(secretary: Api, meeting_id: int, good: dict[str, Any]) -> None:
    """The server answers, the neighbour is untouched, and a new file renders (so the worker
    that choked was replaced)."""
    assert secretary.client.get("/healthz").status_code == 200
    status = secretary.get(f"/api/documents/{good['id']}").json()
    assert status["status"] == "ready" and status["error"] is None
    assert secretary.get(f"/api/documents/{good['id']}/pages/2/tablet").status_code == 200
    after = secretary.uploaded(meeting_id, samples.pdf(2, marker="Sau"), title="Tài liệu sau")
    assert secretary.rendered(after["id"])["status"] == "ready"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "bad_page"),
    [(samples.decompression_bomb, 1), (samples.slow_page, 2)],
    ids=["decompression bomb", "a page that makes the renderer hang"],
)
def test_a_page_the_renderer_chokes_on_fails_alone(
    as_user: Callable[[str], Api], room: dict[str, Any], make: Callable[[], bytes],
    bad_page: int,
) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    good = _healthy_neighbour(secretary, mid)
    response = secretary.upload(mid, make(), filename="nang.pdf")
    assert response.status_code == 201, response.text  # it parses: the trouble is in rendering
    doc = response.json()["document"]
    status = secretary.rendered(doc["id"])
    assert status["status"] == "failed"
    assert f"trang {bad_page}" in status["error"] and "(pages failed to render)" in status["error"]
    image = secretary.get(f"/api/documents/{doc['id']}/pages/{bad_page}/tablet")
    assert image.status_code == 422 and image.json()["error"]["code"] == "page_failed"
    if bad_page == 2:
        assert secretary.get(f"/api/documents/{doc['id']}/pages/1/tablet").status_code == 200
    _still_serving(secretary, mid, good)


def test_a_file_that_crashes_the_renderer_fails_alone(
    as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    good = _healthy_neighbour(secretary, mid)
    doc = pymupdf.open(stream=samples.pdf(3), filetype="pdf")
    doc[1].insert_text((40, 400), render_hooks.CRASH_MARKER, fontsize=12)
    crashing = doc.tobytes()
    doc.close()
    uploaded = secretary.uploaded(mid, crashing, title="Tệp làm hỏng trình kết xuất")
    status = secretary.rendered(uploaded["id"])
    assert status["status"] == "failed" and status["pages_ready"] == 2
    assert "trang 2" in status["error"]
    failed = secretary.get(f"/api/documents/{uploaded['id']}/pages/2/tablet")
    assert failed.status_code == 422 and failed.json()["error"]["code"] == "page_failed"
    for page in (1, 3):
        thumb = secretary.get(f"/api/documents/{uploaded['id']}/pages/{page}/thumb")
        assert thumb.status_code == 200
    _still_serving(secretary, mid, good)


@pytest.mark.parametrize("overrides", [{"render_timeout": 60.0}])
def test_a_page_whose_raster_would_be_enormous_is_rendered_smaller(
    as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    banner = samples.pdf(1, size=(200, 4900), toc=False)  # inside the page limits
    doc = secretary.uploaded(room["meeting_id"], banner)
    zoom = secretary.get(f"/api/documents/{doc['id']}/pages/1/zoom")
    assert zoom.status_code == 200
    with Image.open(io.BytesIO(zoom.content)) as image:
        width, height = image.size
    # 2560 px wide would have been 62,720 px tall (160 M pixels); rounding to whole pixels
    # may add a row or a column to the capped size.
    assert width * height <= MAX_PIXELS * 1.001
    assert height > width
