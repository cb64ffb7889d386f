"""Confidential documents: only watermarked images leave the server, and viewing is audited."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageChops
from sqlmodel import select

from ecabinet.pdf.render import TABLET, THUMB
from ecabinet.rendering.cache import RenditionCache
from ecabinet.services import audit
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import AuditRecord
from tests.documents import samples
from tests.documents.conftest import Api


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def stamped(shown: Image.Image, plain: Image.Image) -> float:
    """Share of the pixels the watermark turned redder than the plain rendition."""
    r1, g1, _ = shown.split()
    r0, g0, _ = plain.split()
    redder = ImageChops.subtract(ImageChops.subtract(r1, g1), ImageChops.subtract(r0, g0))
    count = redder.point(lambda value: 255 if value > 20 else 0).histogram()[255]
    return count / (shown.size[0] * shown.size[1])


def test_confidential_pages_carry_the_viewers_name_and_never_leave_as_a_file(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    secretary = as_user("thuky")
    doc = secretary.uploaded(room["meeting_id"], samples.pdf(2, marker="Mat"),
                             title="Phương án nhân sự", confidential=True)
    assert doc["confidential"] is True
    secretary.rendered(doc["id"])
    store = BlobStore(app.runtime.settings.data_dir)
    plain = pixels(RenditionCache(store).rendition_path(doc["sha256"], 0, TABLET).read_bytes())
    delegate = as_user("daibieu1")
    sent = 0  # page images that left the server (each must be one audit record)
    for size, rendition in (("tablet", TABLET), ("thumb", THUMB)):
        response = delegate.get(f"/api/documents/{doc['id']}/pages/1/{size}")
        assert response.status_code == 200
        sent += 1
        assert response.headers["cache-control"] == "private, max-age=60"
        assert response.headers["etag"].startswith('"w-')
        shown = pixels(response.content)
        assert shown.size[0] == rendition.width
        if size == "tablet":
            assert shown.size == plain.size
            assert stamped(shown, plain) > 0.03
        same_minute = delegate.get(f"/api/documents/{doc['id']}/pages/1/{size}",
                                   **{"If-None-Match": response.headers["etag"]})
        assert same_minute.status_code in (200, 304)  # 200 only if the minute turned
        sent += same_minute.status_code == 200
    other = as_user("daibieu2").get(f"/api/documents/{doc['id']}/pages/1/tablet")
    # Another viewer gets another stamp (a different ETag, different pixels).
    first = delegate.get(f"/api/documents/{doc['id']}/pages/1/tablet")
    sent += 2
    assert other.headers["etag"] != first.headers["etag"]
    diff = ImageChops.difference(pixels(other.content), pixels(first.content)).getbbox()
    assert diff is not None
    download = delegate.get(f"/api/documents/{doc['id']}/file")
    assert download.status_code == 403
    assert download.json()["error"]["code"] == "confidential_no_download"
    assert "Tài liệu mật" in download.json()["error"]["message"]
    staff_download = secretary.get(f"/api/documents/{doc['id']}/file")
    assert staff_download.status_code == 403
    text = delegate.get(f"/api/documents/{doc['id']}/pages/1/text")
    assert text.status_code == 403 and text.json()["error"]["code"] == "confidential_images_only"
    status = delegate.get(f"/api/documents/{doc['id']}").json()
    assert status["downloadable"] is False and status["urls"]["file"] is None

    def views(session: Any) -> list[AuditRecord]:
        return list(session.exec(select(AuditRecord).where(
            AuditRecord.action == audit.CONFIDENTIAL_VIEW)).all())

    records = app.runtime.db.run_sync(views)
    viewers = {(r.actor_id, r.subject, r.details["page"]) for r in records}
    daibieu = {r.actor_id for r in records}
    assert len(daibieu) == 2 and all(s == f"document:{doc['id']}" for _, s, _ in viewers)
    # Every image sent is one record, whose number the image carries (tests/documents/
    # test_tracing.py); a revalidated one (304) sends nothing and records nothing.
    assert len(records) == sent
    assert app.runtime.db.run_sync(audit.verify) == []
