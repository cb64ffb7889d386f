"""Fixtures for the PDF pipeline tests: every input document is generated here, never shipped."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import find_font

HERE = Path(__file__).resolve().parent
VIETNAMESE = nfc("Báo cáo kết quả thực hiện nhiệm vụ phát triển kinh tế - xã hội quý IV")

PdfFactory = Callable[..., Path]


def photo(width: int = 240, height: int = 160) -> bytes:
    """A small colourful JPEG standing in for a photograph."""
    image = Image.new("RGB", (width, height), (30, 90, 160))
    draw = ImageDraw.Draw(image)
    for n in range(8):
        draw.ellipse((n * 25, n * 12, n * 25 + 80, n * 12 + 60), fill=(40 * n, 200 - 20 * n, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def write_sample(
    path: Path,
    pages: int = 3,
    *,
    size: tuple[float, float] = (595, 842),
    rotate: int = 0,
    toc: bool = True,
) -> Path:
    """Write a PDF with Vietnamese text, vector drawings, an image and (optionally) bookmarks."""
    font = find_font()
    doc = pymupdf.open()
    image = photo()
    for number in range(pages):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_font(fontname="noto", fontbuffer=font.data)
        page.insert_text(
            (50, 60), f"{VIETNAMESE} — trang {number + 1}", fontname="noto", fontsize=11
        )
        page.insert_text((50, 90), f"Marker{number}", fontname="noto", fontsize=11)
        page.draw_rect(pymupdf.Rect(50, 120, 250, 220), color=(0, 0, 0.6), fill=(0.9, 0.8, 0.1))
        page.draw_circle((400, 170), 50, color=(0.7, 0, 0), fill=(0.2, 0.6, 0.3))
        page.insert_image(pymupdf.Rect(50, 240, 290, 400), stream=image)
        if rotate:
            page.set_rotation(rotate)
    if toc:
        doc.set_toc([[1, nfc("Phần một"), 1], [2, "Chi tiết", min(2, pages)]])
    doc.save(path, garbage=3, deflate=True)
    doc.close()
    return path


@pytest.fixture(scope="session")
def write_pdf() -> Callable[..., Path]:
    """``write_sample`` itself, for fixtures wider than one test."""
    return write_sample


@pytest.fixture
def make_pdf(tmp_path: Path) -> PdfFactory:
    """Return a factory writing sample PDFs into the test's temporary folder."""
    counter = iter(range(10_000))

    def factory(
        pages: int = 3,
        *,
        size: tuple[float, float] = (595, 842),
        rotate: int = 0,
        toc: bool = True,
    ) -> Path:
        path = tmp_path / f"sample-{next(counter)}.pdf"
        return write_sample(path, pages, size=size, rotate=rotate, toc=toc)

    return factory


@pytest.fixture
def sample_pdf(make_pdf: PdfFactory) -> Path:
    """A three-page sample PDF with bookmarks."""
    return make_pdf(3)


@pytest.fixture
def fault_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The module of crashing and hanging render functions, importable by worker processes."""
    # Workers unpickle the function by module name; they inherit sys.path at process start.
    monkeypatch.syspath_prepend(str(HERE))
    import pdf_faults

    yield pdf_faults
    sys.modules.pop("pdf_faults", None)
