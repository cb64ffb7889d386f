"""Uploading documents over HTTP and reading them back: on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pymupdf
import pytest
from PIL import Image
from sqlmodel import select

from ecabinet.storage.models import AgendaItem, AgendaItemDocument, Document
from tests.documents import samples
from tests.documents.conftest import Api, picture


def item_id(app: Any, title: str) -> int:
    def find(session: Any) -> int:
        item = session.exec(select(AgendaItem).where(AgendaItem.title == title)).one()
        return int(item.id)

    return int(app.runtime.db.run_sync(find))


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def test_upload_answers_at_once_then_serves_every_rendition(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    item = item_id(app, "Thu ngân sách")
    response = secretary.upload(mid, samples.pdf(3), filename="Báo_cáo thu.pdf",
                                title="Báo cáo thu ngân sách", item_id=item)
    assert response.status_code == 201, response.text
    body = response.json()
    doc = body["document"]
    assert doc["title"] == "Báo cáo thu ngân sách" and doc["page_count"] == 3
    assert doc["item_ids"] == [item] and doc["version"] == 1 and not doc["confidential"]
    assert doc["status"] in ("pending", "rendering", "ready")
    assert body["file"]["source_type"] == "pdf" and body["file"]["reused"] is False
    delegate = as_user("daibieu1")
    status = delegate.rendered(doc["id"])
    assert status["status"] == "ready" and status["pages_ready"] == 3 and status["error"] is None
    assert status["page_sizes"] == [[595.0, 842.0]] * 3
    # The URLs carry the access version; content is kept privately (issue #14, finding 10).
    assert status["urls"]["page"] == f"/api/documents/{doc['id']}/pages/{{page}}/{{size}}?v=1"
    for size, width in (("tablet", 1280), ("zoom", 2560), ("thumb", 200)):
        image = delegate.get(f"/api/documents/{doc['id']}/pages/2/{size}?v=1")
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert image_size(image.content)[0] == width
        assert image.headers["cache-control"] == "private, max-age=31536000, immutable"
        again = delegate.get(f"/api/documents/{doc['id']}/pages/2/{size}",
                             **{"If-None-Match": image.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == image.headers["etag"]
    text = delegate.get(f"/api/documents/{doc['id']}/pages/2/text").json()
    words = [w[4] for w in text["words"]]
    assert "Marker2" in words and "Nghị" in words and text["width"] == 595.0
    outline = delegate.get(f"/api/documents/{doc['id']}/outline").json()["outline"]
    assert outline == [{"level": 1, "title": "Phần một", "page": 1},
                       {"level": 2, "title": "Chi tiết", "page": 2}]
    pdf = delegate.get(f"/api/documents/{doc['id']}/file")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert "B%C3%A1o_c%C3%A1o%20thu.pdf" in pdf.headers["content-disposition"]
    with pymupdf.open(stream=pdf.content, filetype="pdf") as served:
        assert served.page_count == 3
    listed = delegate.get(f"/api/meetings/{mid}/documents").json()["documents"]
    assert [d["id"] for d in listed] == [doc["id"]] and listed[0]["status"] == "ready"
    missing = delegate.get(f"/api/documents/{doc['id']}/pages/4/tablet")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "page_not_found"
    odd = delegate.get(f"/api/documents/{doc['id']}/pages/1/huge")
    assert odd.status_code == 404 and odd.json()["error"]["code"] == "unknown_size"


def test_the_same_file_is_stored_once(app: Any, as_user: Callable[[str], Api],
                                      room: dict[str, Any]) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    data = samples.pdf(2)
    first = secretary.upload(mid, data, title="Lần một").json()
    second = secretary.upload(mid, data, filename="ban-sao.pdf", title="Lần hai").json()
    assert first["document"]["id"] != second["document"]["id"]
    assert first["file"]["sha256"] == second["file"]["sha256"]
    assert second["file"]["reused"] is True
    stored = [f for f in picture(app)["blob_files"] if not f.startswith("sources/")]
    assert len(stored) == 1
    assert picture(app)["blobs"] == 1
    secretary.rendered(second["document"]["id"])


def test_a_new_version_replaces_the_old_one_in_the_agenda(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    item = item_id(app, "Chi ngân sách")
    old = secretary.uploaded(mid, samples.pdf(2), title="Dự toán chi", item_id=item)
    response = secretary.client.post(
        f"/api/documents/{old['id']}/versions",
        files={"file": ("du-toan-v2.pdf", samples.pdf(4, marker="Moi"), "application/pdf")},
        headers=secretary.headers,
    )
    assert response.status_code == 201, response.text
    new = response.json()["document"]
    assert new["version"] == 2 and new["replaces_id"] == old["id"]
    assert new["title"] == "Dự toán chi" and new["item_ids"] == [item] and new["page_count"] == 4

    def links(session: Any) -> tuple[list[int], int | None]:
        rows = session.exec(select(AgendaItemDocument).where(
            AgendaItemDocument.agenda_item_id == item)).all()
        return [r.document_id for r in rows], session.get(Document, old["id"]).replaced_by_id

    assert app.runtime.db.run_sync(links) == ([new["id"]], new["id"])
    listed = secretary.get(f"/api/meetings/{mid}/documents").json()["documents"]
    assert [d["id"] for d in listed] == [new["id"]]
    twice = secretary.client.post(
        f"/api/documents/{old['id']}/versions",
        files={"file": ("x.pdf", samples.pdf(1), "application/pdf")}, headers=secretary.headers,
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "document_already_replaced"
    secretary.rendered(new["id"])


@pytest.mark.parametrize(
    ("username", "status", "code"),
    [("daibieu1", 403, "forbidden_role"), ("chutich", 403, "forbidden_role"),
     ("quansat", 403, "forbidden_role"), ("nguoingoai", 404, "meeting_not_found")],
)
def test_only_secretaries_upload_and_a_refusal_changes_nothing(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], username: str, status: int,
    code: str,
) -> None:
    before = picture(app)
    response = as_user(username).upload(room["meeting_id"], samples.pdf(1))
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert picture(app) == before


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"item_id": "abc"}, "invalid_payload"), ({"confidential": "maybe"}, "invalid_payload"),
     ({"title": "x" * 301}, "invalid_payload"), ({"colour": "red"}, "invalid_payload"),
     ({"item_id": "999"}, "agenda_item_not_found")],
)
def test_bad_fields_are_refused_and_change_nothing(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], fields: dict[str, str],
    code: str,
) -> None:
    secretary = as_user("thuky")
    before = picture(app)
    response = secretary.upload(room["meeting_id"], samples.pdf(1), **fields)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code
    after = picture(app)
    if code == "invalid_payload":  # refused before the file is even checked
        assert after == before
    else:  # the checked file stays in the store (by content, harmless); nothing else moves
        assert {**after, "blob_files": []} == {**before, "blob_files": []}


def test_requests_that_are_not_uploads(as_user: Callable[[str], Api],
                                       room: dict[str, Any]) -> None:
    secretary = as_user("thuky")
    url = f"/api/meetings/{room['meeting_id']}/documents"
    as_json = secretary.client.post(url, json={"title": "x"}, headers=secretary.headers)
    assert as_json.json()["error"]["code"] == "multipart_required"
    no_file = secretary.client.post(url, data={"title": "x"}, files={"other": ("", b"")},
                                    headers=secretary.headers)
    assert no_file.status_code == 400
    assert no_file.json()["error"]["code"] in ("file_required", "malformed_upload")
    broken = secretary.client.post(
        url, content=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\""
        b"\r\n\r\nabc", headers={**secretary.headers,
                                 "Content-Type": "multipart/form-data; boundary=xyz"})
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] in ("malformed_upload", "file_required")
    anonymous = secretary.client.post(url, files={"file": ("a.pdf", samples.pdf(1))},
                                      headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 401


@pytest.mark.parametrize("overrides", [{"max_upload_mb": 1}])
def test_the_size_limit_holds_while_the_file_streams_in(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    url = f"/api/meetings/{room['meeting_id']}/documents"
    before = picture(app)
    big = secretary.upload(room["meeting_id"], b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 10))
    assert big.status_code == 413 and big.json()["error"]["code"] == "upload_too_large"
    sent = 0

    def body() -> Any:
        # No Content-Length: the server can only count the bytes as they arrive.
        nonlocal sent
        yield (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
               b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n")
        for _ in range(64):
            sent += 1
            yield b"1" * 65536
        yield b"\r\n--b--\r\n"

    chunked = secretary.client.post(url, content=body(), headers={
        **secretary.headers, "Content-Type": "multipart/form-data; boundary=b"})
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "upload_too_large"
    assert picture(app) == before


def test_observers_and_outsiders_never_see_confidential_documents(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    secret = secretary.uploaded(mid, samples.pdf(1, marker="Mat"), title="Nhân sự",
                                confidential=True)
    open_doc = secretary.uploaded(mid, samples.pdf(1, marker="Mo"), title="Công khai")
    under_secret_item = secretary.uploaded(mid, samples.pdf(1, marker="Muc"),
                                           item_id=item_id(app, "Nhân sự lãnh đạo"))
    assert under_secret_item["confidential"] is True
    moved = secretary.uploaded(mid, samples.pdf(1, marker="Sau"), title="Chuyển vào mục mật")
    # Agenda editing may later attach an open document to a confidential item.
    linked = secretary.client.post(
        f"/api/meetings/{mid}/agenda/{item_id(app, 'Nhân sự lãnh đạo')}/documents",
        json={"document_id": moved["id"]}, headers=secretary.headers)
    assert linked.status_code in (200, 201), linked.text
    observer, outsider = as_user("quansat"), as_user("nguoingoai")
    listed = observer.get(f"/api/meetings/{mid}/documents").json()["documents"]
    assert [d["id"] for d in listed] == [open_doc["id"]]
    mine = secretary.get(f"/api/meetings/{mid}/documents").json()["documents"]
    assert {d["id"]: d["confidential"] for d in mine}[moved["id"]] is True
    for doc in (secret, under_secret_item, moved):
        for path in ("", "/pages/1/tablet", "/pages/1/text", "/outline", "/file"):
            answer = observer.get(f"/api/documents/{doc['id']}{path}")
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "document_not_found"
    for path in ("", "/pages/1/thumb", "/file"):
        assert outsider.get(f"/api/documents/{open_doc['id']}{path}").status_code == 404
    assert outsider.get(f"/api/meetings/{mid}/documents").status_code == 404
    assert observer.get(f"/api/documents/{open_doc['id']}/pages/1/thumb").status_code == 200
    secretary.rendered(secret["id"])
    text = json.loads(secretary.get(f"/api/documents/{open_doc['id']}/pages/1/text").content)
    assert "Mo1" in [w[4] for w in text["words"]]


def test_the_render_queue_depth_is_a_metric(client: Any) -> None:
    metrics = client.get("/metrics").text
    assert "ecabinet_render_queue_depth 0.0" in metrics
