"""build_pack_book: cover, linked agenda, bookmarks and the running stamp."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from ecabinet.pdf.book import BookDocument, ItemDocs, build_pack_book
from ecabinet.pdf.errors import PdfError

PdfFactory = Callable[..., Path]

MEETING = {
    "title": "Phiên họp thường kỳ tháng 11 năm 2025",
    "body": "Ủy ban nhân dân tỉnh Quảng Ninh",
    "date": dt.datetime(2025, 11, 21, 8, 30),
    "place": "Phòng họp số 1, trụ sở Ủy ban",
}


@pytest.fixture(scope="module")
def book(
    write_pdf: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[ItemDocs]]:
    """One book shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("book")
    counter = iter(range(100))

    def make_pdf(pages: int, **options: object) -> Path:
        return write_pdf(folder / f"doc-{next(counter)}.pdf", pages, **options)

    items = [
        ItemDocs("1", "Khai mạc", [BookDocument("Chương trình", make_pdf(1))]),
        ItemDocs(
            "2",
            "Báo cáo kinh tế - xã hội",
            [BookDocument("Báo cáo số 12", make_pdf(3)), BookDocument("Phụ lục", make_pdf(2))],
        ),
        ItemDocs("3", "Các vấn đề khác", []),
        ItemDocs(
            "4", "Tờ trình về đầu tư công", [BookDocument("Tờ trình", make_pdf(2, rotate=90))]
        ),
    ]
    out = folder / "book.pdf"
    report = build_pack_book(MEETING, items, out)
    assert report.page_count == 1 + 1 + 8 and report.toc_pages == 1
    assert report.item_pages == {"1": 2, "2": 3, "3": None, "4": 8}
    assert [page for _, page in report.document_pages] == [2, 3, 6, 8]
    return out, items


def test_cover_page(book: tuple[Path, list[ItemDocs]]) -> None:
    with pymupdf.open(book[0]) as doc:
        text = doc[0].get_text()
    for expected in (
        "ỦY BAN NHÂN DÂN TỈNH QUẢNG NINH",
        "Phiên họp thường kỳ tháng 11 năm 2025",
        "08 giờ 30, ngày 21/11/2025",
        "Phòng họp số 1, trụ sở Ủy ban",
        "Gồm 4 mục, 4 tài liệu, 10 trang",
    ):
        assert expected in text.replace("\n", " ")


def test_agenda_links_to_items_and_documents(book: tuple[Path, list[ItemDocs]]) -> None:
    with pymupdf.open(book[0]) as doc:
        toc_page = doc[1]
        text = toc_page.get_text()
        links = toc_page.get_links()
        assert "CHƯƠNG TRÌNH HỌP" in text and "Mục 2. Báo cáo kinh tế - xã hội" in text
        targets = sorted(link["page"] for link in links if link["kind"] == pymupdf.LINK_GOTO)
        # Items 1, 2 and 4 and the four documents; item 3 has no document and no link.
        assert targets == [2, 2, 3, 3, 6, 8, 8]
        for link in links:
            row = toc_page.get_textbox(link["from"])
            assert row.strip().endswith(str(link["page"] + 1))


def test_bookmarks_per_item_and_document(book: tuple[Path, list[ItemDocs]]) -> None:
    with pymupdf.open(book[0]) as doc:
        toc = doc.get_toc(simple=True)
    assert toc[:6] == [
        [1, "Bìa", 1],
        [1, "Chương trình họp", 2],
        [1, "Mục 1. Khai mạc", 3],
        [2, "Chương trình", 3],
        [3, "Phần một", 3],
        [4, "Chi tiết", 3],  # the documents' own bookmarks, two levels down
    ]
    titles = [(level, title, page) for level, title, page in toc if level <= 2]
    assert titles[2:] == [
        (1, "Mục 1. Khai mạc", 3),
        (2, "Chương trình", 3),
        (1, "Mục 2. Báo cáo kinh tế - xã hội", 4),
        (2, "Báo cáo số 12", 4),
        (2, "Phụ lục", 7),
        (1, "Mục 3. Các vấn đề khác", -1),
        (1, "Mục 4. Tờ trình về đầu tư công", 9),
        (2, "Tờ trình", 9),
    ]


def test_every_document_page_is_stamped(book: tuple[Path, list[ItemDocs]]) -> None:
    expected = {2: "1", 3: "2", 4: "2", 5: "2", 6: "2", 7: "2", 8: "4", 9: "4"}
    with pymupdf.open(book[0]) as doc:
        for index, item in expected.items():
            stamp = f"Mục {item} · trang {index + 1}/10"
            assert stamp in doc[index].get_text(), index
            # The stamp sits in the bottom right corner of the page as displayed, rotated or not.
            (hit,) = doc[index].search_for(f"trang {index + 1}/10")
            hit = hit * doc[index].rotation_matrix  # search answers in unrotated coordinates
            rect = doc[index].rect
            assert hit.x1 > rect.width * 0.7 and hit.y1 > rect.height * 0.9
        assert "Mục" not in doc[0].get_text().split("tài liệu")[0]  # the cover is not stamped


def test_original_content_is_kept(book: tuple[Path, list[ItemDocs]]) -> None:
    with pymupdf.open(book[0]) as doc:
        assert "Marker2" in doc[5].get_text()  # third page of "Báo cáo số 12"
        assert doc[8].rotation == 90


def test_the_font_is_embedded_once_and_subset(book: tuple[Path, list[ItemDocs]]) -> None:
    with pymupdf.open(book[0]) as doc:
        stamp_fonts = {font[0] for page in doc for font in page.get_fonts() if font[4] == "ecab-r"}
        assert len(stamp_fonts) == 1
        (xref,) = stamp_fonts
        assert "+" in doc.xref_get_key(xref, "BaseFont")[1]  # a subset tag, like ABCDEF+Noto


def test_long_titles_are_shortened_to_fit(make_pdf: PdfFactory, tmp_path: Path) -> None:
    title = "Tờ trình về việc phê duyệt chủ trương đầu tư dự án " * 4
    items = [ItemDocs("1", title, [BookDocument(title, make_pdf(1))])]
    build_pack_book(MEETING, items, tmp_path / "long.pdf")
    with pymupdf.open(tmp_path / "long.pdf") as doc:
        lines = [line for line in doc[1].get_text().splitlines() if line.startswith("Mục 1")]
    assert lines and lines[0].endswith("…")


def test_many_items_spill_over_several_agenda_pages(make_pdf: PdfFactory, tmp_path: Path) -> None:
    pdf = make_pdf(1, toc=False)
    items = [
        ItemDocs(str(n), f"Nội dung {n}", [BookDocument(f"Tài liệu {n}", pdf)])
        for n in range(1, 31)
    ]
    report = build_pack_book(MEETING, items, tmp_path / "many.pdf")
    assert report.toc_pages == 2 and report.page_count == 1 + 2 + 30
    with pymupdf.open(tmp_path / "many.pdf") as doc:
        assert "(tiếp theo)" in doc[2].get_text()
        last = doc[2].get_links()[-1]
        assert last["page"] == 32


def test_a_broken_document_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    items = [ItemDocs("1", "Mục", [BookDocument("Hỏng", bad)])]
    with pytest.raises(PdfError) as caught:
        build_pack_book(MEETING, items, tmp_path / "out.pdf")
    assert caught.value.code == "not_a_pdf"
    assert not (tmp_path / "out.pdf").exists()
