"""A confidential page leaked by a delegate, cut, shrunk and re-saved, still names that delegate.

End to end through the server: the delegate fetches a page image over HTTP, the copy is
degraded as a leaker would (60 % crop, half size, JPEG quality 60), and ``ecabinet watermark
identify`` (a separate process, with the server's data folder, database and secret) prints the
viewer, the document, the page and the time from the audit trail.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pymupdf
import pytest
from PIL import Image, ImageChops
from sqlmodel import select

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import find_font
from ecabinet.pdf.render import TABLET
from ecabinet.rendering.cache import RenditionCache
from ecabinet.services import audit
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import AuditRecord
from tests.documents.conftest import Api

TEXT = nfc(
    "Phương án kiện toàn nhân sự lãnh đạo các sở, ban, ngành; danh sách dự kiến và ý kiến "
    "của Ban Thường vụ về từng trường hợp, kèm đánh giá quá trình công tác. "
)


def dense_pdf() -> bytes:
    """A page of text and a table: the mark has little clean paper to live in."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="noto", fontbuffer=find_font().data)
    page.insert_text((60, 70), nfc("PHƯƠNG ÁN NHÂN SỰ (MẬT)"), fontname="noto", fontsize=16)
    page.insert_textbox(pymupdf.Rect(60, 100, 535, 600), TEXT * 14, fontname="noto",
                        fontsize=11)
    for row in range(6):
        page.draw_line((60, 620 + row * 30), (535, 620 + row * 30), color=(0, 0, 0), width=0.5)
    data: bytes = doc.tobytes()
    doc.close()
    return data


def pixels(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def stamp_mask(image: Image.Image) -> Image.Image:
    """Where the red stamp is: red well above green (the page itself is black on white)."""
    red, green, _ = image.split()
    return ImageChops.subtract(red, green).point(lambda value: 255 if value > 25 else 0)


def leaked(image: Image.Image) -> bytes:
    """The bottom-right 60 % x 60 % of the page, at half size, saved at JPEG quality 60."""
    width, height = round(image.width * 0.6), round(image.height * 0.6)
    part = image.crop((image.width - width, image.height - height, image.width, image.height))
    small = part.resize((width // 2, height // 2), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=60)
    return out.getvalue()


def identify(app: Any, *images: Path) -> subprocess.CompletedProcess[str]:
    settings = app.runtime.settings
    env = {**os.environ, "ECABINET_DATA_DIR": str(settings.data_dir),
           "ECABINET_DATABASE_URL": settings.database_url,
           "ECABINET_SECRET_KEY": settings.secret_key, "ECABINET_TIMEZONE": settings.timezone}
    return subprocess.run(
        [sys.executable, "-m", "ecabinet", "watermark", "identify", *map(str, images)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.slow
def test_a_leaked_page_names_the_delegate_who_was_sent_it(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], tmp_path: Path
) -> None:
    secretary = as_user("thuky")
    doc = secretary.uploaded(room["meeting_id"], dense_pdf(), title="Phương án nhân sự",
                             confidential=True)
    assert secretary.rendered(doc["id"])["status"] == "ready"
    delegate = as_user("daibieu1")
    url = f"/api/documents/{doc['id']}/pages/1/tablet"
    first, second = delegate.get(url), delegate.get(url)
    assert first.status_code == second.status_code == 200

    # The same viewer, the same minute: two different stamps, not one template to subtract.
    masks = [stamp_mask(pixels(r.content)) for r in (first, second)]
    stamped = [m.histogram()[255] for m in masks]
    moved = ImageChops.logical_and(masks[0].convert("1"),
                                   ImageChops.invert(masks[1]).convert("1")).histogram()[255]
    assert min(stamped) > 0.02 * 1280 * 1810
    assert moved > 0.5 * stamped[0]

    def views(session: Any) -> list[AuditRecord]:
        return list(session.exec(select(AuditRecord).where(
            AuditRecord.action == audit.CONFIDENTIAL_VIEW).order_by(AuditRecord.seq)).all())

    records = app.runtime.db.run_sync(views)
    assert len(records) == 2  # one per image sent, each before it was sent

    (tmp_path / "leak-1.jpg").write_bytes(leaked(pixels(first.content)))
    (tmp_path / "leak-2.jpg").write_bytes(second.content)
    # The same page never served: the stored rendition, before any stamp or mark.
    stored = RenditionCache(BlobStore(app.runtime.settings.data_dir)).rendition_path(
        doc["sha256"], 0, TABLET)
    plain = tmp_path / "page-from-elsewhere.jpg"
    plain.write_bytes(leaked(pixels(stored.read_bytes())))
    result = identify(app, tmp_path / "leak-1.jpg", tmp_path / "leak-2.jpg", plain)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    blocks = out.split(f"{tmp_path}/")
    first_block = next(b for b in blocks if b.startswith("leak-1.jpg"))
    second_block = next(b for b in blocks if b.startswith("leak-2.jpg"))
    assert f"lượt xem #{records[0].seq} " in first_block
    assert f"lượt xem #{records[1].seq} " in second_block
    for block in (first_block, second_block):
        assert "Người xem:  Lê Hoàng Minh (daibieu1)" in block
        assert f"Tài liệu:   #{doc['id']} “Phương án nhân sự”" in block
        assert "Trang:      1 (tablet)" in block
        today = datetime.now(ZoneInfo(app.runtime.settings.timezone)).strftime("%d/%m/%Y")
        assert f"Thời điểm:  {today}" in block
    assert "ảnh bằng 0,50 lần" in first_block
    assert "page-from-elsewhere.jpg: không tìm thấy dấu ẩn" in out

    nothing = identify(app, plain)
    assert nothing.returncode == 1
    assert "không tìm thấy dấu ẩn của lượt xem nào" in nothing.stdout
    assert "Không xác định được lượt xem nào." in nothing.stderr
    # Identifying writes nothing, and the trail still verifies.
    assert len(app.runtime.db.run_sync(views)) == 2
    assert app.runtime.db.run_sync(audit.verify) == []
