"""A replaced document: annotations follow their text to the new version; the rest are kept."""

from __future__ import annotations

from typing import Any

import httpx
import pymupdf
import pytest

from tests.annotations.helpers import (
    create,
    find_words,
    highlight_of,
    ink,
    joined,
    make_pdf,
    note,
    visible,
)
from tests.conftest import LiveServer
from tests.realtime.client import Tablet, sign_in
from tests.realtime.liveroom import user_ids

pytestmark = pytest.mark.anyio

UNCHANGED = [(72, 100, "Biểu mẫu đính kèm không thay đổi"), (72, 130, "Mẫu số một tờ khai")]
V1 = [
    [(72, 100, "Điều một phạm vi điều chỉnh của quy định"),
     (72, 140, "Điều hai đối tượng áp dụng gồm các sở ngành")],
    [(72, 100, "Điều ba giải thích từ ngữ dùng trong văn bản"),
     (72, 140, "Điều bốn hiệu lực thi hành kể từ ngày ký")],
    UNCHANGED,
]
V2 = [
    [(72, 100, "Căn cứ luật tổ chức chính quyền địa phương"),
     (72, 160, "Điều một phạm vi điều chỉnh của quy định")],
    [(72, 300, "Điều bốn hiệu lực thi hành kể từ ngày ký")],
    UNCHANGED,
    [(72, 100, "Điều ba giải thích từ ngữ dùng trong văn bản")],
]


async def upload(http: httpx.AsyncClient, url: str, pdf: bytes, name: str) -> dict[str, Any]:
    answer = await http.post(url, files={"file": (name, pdf, "application/pdf")})
    assert answer.status_code == 201, answer.text
    document: dict[str, Any] = answer.json()["document"]
    return document


def saved_on(document_id: int, uid: str) -> Any:
    def match(envelope: dict[str, Any]) -> bool:
        return envelope["type"].startswith("annotation.saved") and any(
            a["uid"] == uid and a["document_id"] == document_id
            for a in envelope["payload"]["annotations"])
    return match


async def test_replaced_document_carries_annotations_by_their_text(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    v1_pdf, v2_pdf = make_pdf(V1), make_pdf(V2)
    secretary = await sign_in(live_server.url, "thuky")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60,
                                 headers={"Authorization": f"Bearer {secretary}"}) as http:
        v1 = (await upload(http, f"/api/meetings/{mid}/documents", v1_pdf, "quy-dinh.pdf"))["id"]
        d1, _ = await joined(live_server, "daibieu1", mid)
        d2, _ = await joined(live_server, "daibieu2", mid)
        # On the old version: highlights, a note beside article four, ink in a blank area of
        # the unchanged page and in an empty corner of a page whose text changed.
        await create(d1, mid, v1, 0, highlight_of(v1_pdf, 0, "phạm vi điều chỉnh"), "shared",
                     uid="scope")
        await create(d1, mid, v1, 0, highlight_of(v1_pdf, 0, "đối tượng áp dụng"), uid="gone")
        await create(d1, mid, v1, 1, highlight_of(v1_pdf, 1, "giải thích từ ngữ"), "staff",
                     uid="terms")
        await create(d1, mid, v1, 1, note(450, 120, "Hiệu lực sớm quá?"), uid="effect")
        await create(d1, mid, v1, 2, ink((300, 600), (320, 620), (340, 600)), uid="blank")
        await create(d1, mid, v1, 0, ink((300, 700), (350, 720)), uid="lost-ink")
        # The secretary uploads the new version: the old one is replaced.
        v2 = (await upload(http, f"/api/documents/{v1}/versions", v2_pdf, "quy-dinh-2.pdf"))["id"]
        told = await d1.wait_for(lambda e: e["type"] == "annotation.carried", timeout=30)
        await d2.wait_for(saved_on(v2, "scope"), timeout=10)

        assert told["seq"] is None and told["payload"]["document_id"] == v2
        carried = {c["uid"]: c for c in told["payload"]["carried"]}
        kept = {k["uid"]: k for k in told["payload"]["kept"]}
        assert set(carried) == {"scope", "terms", "effect", "blank"}
        assert set(kept) == {"gone", "lost-ink"}
        assert carried["scope"]["how"] == "text" and carried["effect"]["how"] == "context"
        assert carried["blank"]["how"] == "same"
        assert kept["gone"] == {**kept["gone"], "page": 0, "from_document_id": v1}

        d1_id = user_ids(app)["daibieu1"]
        mine = {k.split(":", 1)[1]: a for k, a in (await visible(live_server, "daibieu1", mid))
                .items() if k.startswith(f"{d1_id}:")}
        assert {a["document_id"] for a in mine.values()} == {v2}
        # Found where the text now is: same page lower down, another page, moved with its line.
        scope = find_words(v2_pdf, 0, "phạm vi điều chỉnh")
        assert mine["scope"]["page"] == 0
        assert mine["scope"]["data"]["rects"][0][1] == pytest.approx(scope[0][1], abs=0.5)
        assert mine["terms"]["page"] == 3
        assert mine["effect"]["page"] == 1
        assert mine["effect"]["data"]["at"] == pytest.approx([450, 120 + 160], abs=0.5)
        assert mine["blank"]["page"] == 2
        assert mine["blank"]["data"]["strokes"] == [[[300, 600], [320, 620], [340, 600]]]
        # Kept, not dropped: still on their old page and geometry, marked as from version 1.
        assert mine["gone"]["orphaned_from_document_id"] == v1
        assert mine["gone"]["data"]["text"] == "đối tượng áp dụng"
        assert all(mine[u]["orphaned_from_document_id"] is None for u in carried)
        assert all(a["carry_pending"] is False for a in mine.values())
        # Everyone else sees the shared one on the new version; the private ones stay private.
        d2_view = await visible(live_server, "daibieu2", mid)
        assert {a["uid"] for a in d2_view.values()} == {"scope"}

        # The export of the new version lists the annotations that found no place.
        delegate = await sign_in(live_server.url, "daibieu1")
        exported = await http.get(f"/api/documents/{v2}/annotated.pdf",
                                  headers={"Authorization": f"Bearer {delegate}"})
        assert exported.status_code == 200
        with pymupdf.open(stream=exported.content, filetype="pdf") as pdf:
            assert pdf.page_count == 5
            listing = " ".join(pdf[4].get_text().split())
            assert "đối tượng áp dụng" in listing and "phiên bản 1" in listing
            assert sum(1 for page in pdf for _ in page.annots()) == 4
        # Its author places it again on the new version: no longer marked.
        placed = await d1.call("annotation.update", {
            "meeting_id": mid, "uid": "gone", "base_version": mine["gone"]["version"],
            "page": 0, "data": highlight_of(v2_pdf, 0, "địa phương")})
        assert placed["ok"] and placed["annotation"]["orphaned_from_document_id"] is None

        # A device replaying offline work made on the old version: accepted, then carried.
        late = await d1.call("annotation.create", {
            "meeting_id": mid, "uid": "late", "document_id": v1, "page": 1,
            "data": highlight_of(v1_pdf, 1, "hiệu lực thi hành")})
        assert late["ok"] and late["annotation"]["carry_pending"] is True
        await d1.wait_for(saved_on(v2, "late"), timeout=30)
        after = await visible(live_server, "daibieu1", mid)
        assert after[f"{d1_id}:late"]["page"] == 1
        assert after[f"{d1_id}:late"]["orphaned_from_document_id"] is None
    await close(d1, d2)


async def close(*tablets: Tablet) -> None:
    for tablet in tablets:
        await tablet.close()
