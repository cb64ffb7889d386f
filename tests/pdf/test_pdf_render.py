"""Page images, the pixel cap, page text and the outline."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.fonts import find_font
from ecabinet.pdf.render import (
    RENDITIONS,
    Rendition,
    encode,
    outline,
    page_text,
    render_page,
    zoom_for,
)

PdfFactory = Callable[..., Path]


def test_three_renditions_at_their_widths(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc:
        images = render_page(doc, 0)
    assert [r.name for r in RENDITIONS] == ["tablet", "zoom", "thumb"]
    expected = {"tablet": (1280, 1812), "zoom": (2560, 3623), "thumb": (200, 283)}
    for name, image in images.items():
        assert image.mime == "image/jpeg"
        assert abs(image.width - expected[name][0]) <= 1
        assert abs(image.height - expected[name][1]) <= 1
        with Image.open(io.BytesIO(image.data)) as decoded:
            assert decoded.format == "JPEG"
            assert decoded.size == (image.width, image.height)


def test_the_image_shows_the_page(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc:
        image = render_page(doc, 0, (Rendition("t", 595),))["t"]
    with Image.open(io.BytesIO(image.data)) as decoded:
        # The yellow rectangle drawn at (50..250, 120..220) pt is where it should be.
        red, green, blue = decoded.convert("RGB").getpixel((150, 170))
        assert red > 200 and green > 170 and blue < 80


def test_a_huge_page_is_scaled_down_to_the_pixel_cap(make_pdf: PdfFactory) -> None:
    with pymupdf.open(make_pdf(1, size=(200, 5000))) as doc:
        image = render_page(doc, 0, (Rendition("zoom", 2560),), max_pixels=4_000_000)["zoom"]
    assert image.width * image.height <= 4_000_000
    assert image.width < 2560


def test_zoom_for_respects_the_cap() -> None:
    assert zoom_for(595, 842, 1280, 40_000_000) == pytest.approx(1280 / 595)
    zoom = zoom_for(5000, 5000, 2560, 40_000_000)
    assert (5000 * zoom) ** 2 <= 40_000_000 * 1.0001


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_other_formats_can_be_chosen(sample_pdf: Path, fmt: str) -> None:
    with pymupdf.open(sample_pdf) as doc:
        image = render_page(doc, 1, (Rendition("small", 300, fmt),))["small"]
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.format == fmt.upper()
    assert image.mime == f"image/{fmt}"


def test_unknown_format_is_refused(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc:
        pixmap = doc[0].get_pixmap(dpi=10)
        with pytest.raises(ValueError):
            encode(pixmap, "gif")


def test_a_missing_page_is_reported(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc, pytest.raises(PdfError) as caught:
        render_page(doc, 3)
    assert caught.value.code == "page_out_of_range"


def test_page_text_has_words_with_boxes_in_points(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc:
        text = page_text(doc, 1)
    assert text["width"] == 595 and text["height"] == 842
    words = {word[4]: word[:4] for word in text["words"]}
    assert "Marker1" in words
    assert {"Báo", "cáo", "kết", "quả", "nhiệm", "vụ", "quý"} <= set(words)
    x0, y0, x1, y1 = words["Marker1"]
    assert 49 <= x0 < x1 <= 140 and 70 <= y0 < y1 <= 95


def test_page_text_follows_the_page_rotation(make_pdf: PdfFactory) -> None:
    with pymupdf.open(make_pdf(1, rotate=90)) as doc:
        text = page_text(doc, 0)
    assert (text["width"], text["height"]) == (842, 595)
    x0, y0, _, y1 = next(w[:4] for w in text["words"] if w[4] == "Marker0")
    # Rotated a quarter turn clockwise, text written near the top left runs down the right side.
    assert x0 > 842 / 2 and 0 <= y0 < y1 <= 595


def test_page_text_is_nfc(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="noto", fontbuffer=find_font().data)
    page.insert_text((72, 72), "Mu\u0323c", fontname="noto", fontsize=12)  # decomposed "Mục"
    text = page_text(doc, 0)
    doc.close()
    assert [w[4] for w in text["words"]] == ["Mục"]


def test_outline(sample_pdf: Path) -> None:
    with pymupdf.open(sample_pdf) as doc:
        assert outline(doc) == [
            {"level": 1, "title": "Phần một", "page": 0},
            {"level": 2, "title": "Chi tiết", "page": 1},
        ]


def test_outline_of_a_document_without_bookmarks(make_pdf: PdfFactory) -> None:
    with pymupdf.open(make_pdf(1, toc=False)) as doc:
        assert outline(doc) == []
