"""Exports: real PDF annotations that a PDF library reads back, never a confidential document."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pymupdf
import pytest

from tests.annotations.helpers import (
    create,
    highlight_of,
    ink,
    joined,
    make_pdf,
    note,
    store_document,
)
from tests.conftest import LiveServer
from tests.realtime.client import sign_in

pytestmark = pytest.mark.anyio

REPORT = [[(72, 100, "Báo cáo kết quả thực hiện nhiệm vụ năm"),
           (72, 140, "Các chỉ tiêu chủ yếu đều đạt và vượt")],
          [(72, 100, "Phần hai kiến nghị và đề xuất")]]
ANNEX = [[(72, 100, "Phụ lục bảng số liệu")]]


def opened(data: bytes) -> pymupdf.Document:
    return pymupdf.open(stream=data, filetype="pdf")


def kinds(doc: pymupdf.Document) -> Counter[str]:
    return Counter(a.type[1] for page in doc for a in page.annots())


async def test_exports_write_real_pdf_annotations(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    report_pdf = make_pdf(REPORT, rotations=(0, 90))
    report = store_document(app, mid, report_pdf, title="Báo cáo năm")
    annex = store_document(app, mid, make_pdf(ANNEX), title="Phụ lục")
    secret = store_document(app, mid, make_pdf(ANNEX), title="Phương án nhân sự",
                            confidential=True)
    d1, _ = await joined(live_server, "daibieu1", mid)
    d2, _ = await joined(live_server, "daibieu2", mid)
    await create(d1, mid, report, 0, ink((300, 400), (350, 420), (400, 400)))
    await create(d1, mid, report, 0, {**highlight_of(report_pdf, 0, "chỉ tiêu chủ yếu"),
                                      "comment": "Cần số liệu so sánh"}, "shared")
    await create(d1, mid, report, 0, {"kind": "text", "rect": [72, 600, 400, 640],
                                      "text": "Đề nghị bổ sung", "font_size": 14}, "staff")
    # Page 2 is shown rotated: 842 wide, 595 high; the note is near its top right corner.
    await create(d1, mid, report, 1, note(780, 40, "Xem lại kiến nghị"))
    await create(d1, mid, annex, 0, note(100, 300, "Số liệu cũ"))
    await create(d1, mid, secret, 0, note(100, 300, "Mật"))
    await create(d2, mid, report, 0, note(500, 100, "Tôi đồng ý"), "shared")
    await create(d2, mid, report, 0, note(500, 200, "Chỉ tôi đọc"))
    await create(d2, mid, report, 0, note(500, 300, "Gửi chủ tọa"), "staff")

    token = await sign_in(live_server.url, "daibieu1")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as http:
        answer = await http.get(f"/api/documents/{report}/annotated.pdf")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        assert "attachment" in answer.headers["content-disposition"]
        with opened(answer.content) as pdf:
            assert pdf.page_count == 2
            assert kinds(pdf) == {"Ink": 1, "Highlight": 1, "FreeText": 1, "Text": 2}
            by_author = Counter(a.info["title"] for page in pdf for a in page.annots())
            assert by_author == {"Lê Hoàng Minh": 4, "Phạm Thị Thu Hà": 1}
            first = pdf[0]  # annotations live only as long as their page object
            highlight = next(a for a in first.annots() if a.type[1] == "Highlight")
            assert highlight.info["content"] == "Cần số liệu so sánh"
            covered = first.get_textbox(highlight.rect + pymupdf.Rect(-1, -1, 1, 1))
            assert "chỉ tiêu chủ yếu" in " ".join(covered.split())
            # The note on the rotated page is where the reader saw it.
            page = pdf[1]
            sticky = next(page.annots())
            shown = sticky.rect * page.rotation_matrix
            assert page.rotation == 90 and abs(shown.x0 - 780) < 20 and abs(shown.y0 - 40) < 20
            assert sticky.info["content"] == "Xem lại kiến nghị"
        own_only = await http.get(f"/api/documents/{report}/annotated.pdf?shared=0")
        with opened(own_only.content) as pdf:
            assert kinds(pdf) == {"Ink": 1, "Highlight": 1, "FreeText": 1, "Text": 1}
        # A confidential document is never exported.
        refused = await http.get(f"/api/documents/{secret}/annotated.pdf")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "confidential_no_export"
        # The pack: a listing page, then the two public documents with their annotations.
        pack = await http.get(f"/api/meetings/{mid}/annotated.pdf")
        assert pack.status_code == 200
        with opened(pack.content) as pdf:
            assert pdf.page_count == 1 + 2 + 1
            assert [title for _level, title, _page in pdf.get_toc()] == ["Báo cáo năm", "Phụ lục"]
            assert [page for _level, _title, page in pdf.get_toc()] == [2, 4]
            assert kinds(pdf) == {"Ink": 1, "Highlight": 1, "FreeText": 1, "Text": 3}
            cover = " ".join(pdf[0].get_text().split())
            assert "Phương án nhân sự" in cover and "không có trong bản tải về" in cover
            assert "Mật" not in {a.info["content"] for page in pdf for a in page.annots()}
        assert (await http.get("/api/meetings/999999/annotated.pdf")).status_code == 404
        listed = await http.get(f"/api/documents/{report}/annotations")
        assert len(listed.json()["annotations"]) == 5  # 4 own, 1 shared, no staff ones
    async with httpx.AsyncClient(base_url=live_server.url) as anonymous:
        assert (await anonymous.get(f"/api/documents/{report}/annotated.pdf")).status_code == 401
    # Observers: a confidential document does not exist for them, not even in the listing.
    observer = await sign_in(live_server.url, "quansat")
    outsider = await sign_in(live_server.url, "nguoingoai")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        seen = {"Authorization": f"Bearer {observer}"}
        hidden = await http.get(f"/api/documents/{secret}/annotated.pdf", headers=seen)
        assert hidden.status_code == 404
        pack = await http.get(f"/api/meetings/{mid}/annotated.pdf", headers=seen)
        with opened(pack.content) as pdf:
            assert "Phương án nhân sự" not in pdf[0].get_text()
            assert kinds(pdf) == {"Highlight": 1, "Text": 1}  # what d1 and d2 shared
        stranger = {"Authorization": f"Bearer {outsider}"}
        assert (await http.get(f"/api/documents/{report}/annotated.pdf",
                               headers=stranger)).status_code == 404
        assert (await http.get(f"/api/meetings/{mid}/annotated.pdf",
                               headers=stranger)).status_code == 404
    # Staff annotations by others stay out of a staff member's export too.
    chair = await sign_in(live_server.url, "chutich")
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        exported = await http.get(f"/api/documents/{report}/annotated.pdf",
                                  headers={"Authorization": f"Bearer {chair}"})
        with opened(exported.content) as pdf:
            assert kinds(pdf) == {"Highlight": 1, "Text": 1}
    for tablet in (d1, d2):
        await tablet.close()
