"""Page images, page text with word boxes, and the outline.

Format choice, measured on this project's benchmark page (A4: text in an embedded Noto font, a
table, a bar chart, a photo) on one core, PyMuPDF 1.28 + Pillow 13; encode time per page and the
mean file size:

=================  ======================  ======================  ================
encoder            tablet 1280 x 1812      zoom 2560 x 3623        thumb 200 x 284
=================  ======================  ======================  ================
JPEG q80 (Pillow)  6.8 ms, 218 KiB         31 ms, 585 KiB          0.2 ms, 10 KiB
JPEG q80 4:4:4     9.4 ms, 250 KiB         46 ms, 704 KiB          0.3 ms, 11 KiB
JPEG q80 optimize  16 ms, 197 KiB          54 ms, 508 KiB          0.5 ms, 9 KiB
JPEG progressive   27 ms, 182 KiB          95 ms, 465 KiB          1.1 ms, 9 KiB
WebP q80 method 0  49 ms, 132 KiB          167 ms, 290 KiB         1.8 ms, 8 KiB
WebP q80 method 4  147 ms, 101 KiB         --                      5.2 ms, 6 KiB
PNG level 1        53 ms, 337 KiB          176 ms, 918 KiB         1.9 ms, 20 KiB
PNG (MuPDF)        72 ms, 319 KiB          213 ms, 916 KiB         2.0 ms, 17 KiB
JPEG q80 (MuPDF)   92 ms, 203 KiB          367 ms, 535 KiB         3.3 ms, 10 KiB
=================  ======================  ======================  ================

Rasterising the same page took 17 ms (tablet), 38 ms (zoom) and 3.6 ms (thumb), so encoding is
the larger half and decides throughput. Pillow's baseline JPEG at quality 80 with 4:2:0 chroma
subsampling is 7 times faster than WebP method 0 and 8 times faster than PNG; WebP's smaller
files (-40 %) would matter only on a network slower than the tablets' Wi-Fi, and text at 1280 px
stays sharp.
The page is interpreted once into a display list and rasterised from it for every size, which
measured 20 ms instead of 28 ms per page for the three sizes together.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Final

import pymupdf
from PIL import Image

from ecabinet.core.text import nfc
from ecabinet.pdf.errors import PAGE_OUT_OF_RANGE, PdfError

# A page whose raster would exceed this is rendered smaller: a 200 x 5000 pt banner at 2560 px
# wide would otherwise need 64,000 px of height (500 MB of RGB).
MAX_PIXELS: Final = 40_000_000

_MIME: Final = {"jpeg": "image/jpeg", "webp": "image/webp", "png": "image/png"}
_EXTENSION: Final = {"jpeg": "jpg", "webp": "webp", "png": "png"}


@dataclass(frozen=True)
class Rendition:
    """A named image size of a page: target width in pixels, format and quality."""

    name: str
    width: int
    fmt: str = "jpeg"
    quality: int = 80

    @property
    def extension(self) -> str:
        """File extension for this rendition's format, without the dot."""
        return _EXTENSION[self.fmt]

    @property
    def mime(self) -> str:
        """Media type for this rendition's format."""
        return _MIME[self.fmt]


TABLET: Final = Rendition("tablet", 1280)
ZOOM: Final = Rendition("zoom", 2560)
THUMB: Final = Rendition("thumb", 200)
RENDITIONS: Final[tuple[Rendition, ...]] = (TABLET, ZOOM, THUMB)


@dataclass(frozen=True)
class PageImage:
    """An encoded page image."""

    data: bytes
    width: int
    height: int
    mime: str


def zoom_for(width_pt: float, height_pt: float, target_px: int, max_pixels: int) -> float:
    """Return the scale that makes the page ``target_px`` wide, capped at ``max_pixels`` pixels."""
    zoom = target_px / width_pt
    if (width_pt * zoom) * (height_pt * zoom) > max_pixels:
        zoom = math.sqrt(max_pixels / (width_pt * height_pt))
    return zoom


def encode(pixmap: pymupdf.Pixmap, fmt: str = "jpeg", quality: int = 80) -> bytes:
    """Encode an RGB pixmap with Pillow (see the module docstring for why Pillow)."""
    image = Image.frombuffer(
        "RGB", (pixmap.width, pixmap.height), pixmap.samples_mv, "raw", "RGB", pixmap.stride, 1
    )
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=quality)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=quality, method=0)
    elif fmt == "png":
        image.save(buffer, "PNG", compress_level=1)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buffer.getvalue()


def load_page(doc: pymupdf.Document, page: int) -> pymupdf.Page:
    """Return page ``page`` (0-based) or raise ``PdfError`` with code ``page_out_of_range``."""
    if not 0 <= page < doc.page_count:
        raise PdfError(
            PAGE_OUT_OF_RANGE,
            f"Không có trang {page + 1} (no such page; the document has {doc.page_count}).",
        )
    return doc[page]


class PageRenderer:
    """One page interpreted once, then rasterised at several sizes and read for text."""

    def __init__(self, doc: pymupdf.Document, page: int, max_pixels: int = MAX_PIXELS) -> None:
        self.page = load_page(doc, page)
        self.rect = self.page.rect
        self.max_pixels = max_pixels
        self._display_list = self.page.get_displaylist()

    def image(self, rendition: Rendition) -> PageImage:
        """Rasterise and encode the page for ``rendition``."""
        zoom = zoom_for(self.rect.width, self.rect.height, rendition.width, self.max_pixels)
        pixmap = self._display_list.get_pixmap(
            matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csRGB, alpha=False
        )
        data = encode(pixmap, rendition.fmt, rendition.quality)
        return PageImage(data, pixmap.width, pixmap.height, rendition.mime)

    def text(self) -> dict[str, Any]:
        """Return the words with their boxes in points, in the orientation the image shows."""
        # The display list's text page is in displayed (rotated) coordinates like the images;
        # Page.get_text would answer in unrotated coordinates on a rotated page.
        textpage = pymupdf.TextPage(self._display_list.get_textpage(pymupdf.TEXTFLAGS_WORDS))
        words = [
            [round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2), nfc(word)]
            for x0, y0, x1, y1, word, *_ in textpage.extractWORDS()
        ]
        return {
            "width": round(float(self.rect.width), 2),
            "height": round(float(self.rect.height), 2),
            "words": words,
        }


def render_page(
    doc: pymupdf.Document,
    page: int,
    renditions: tuple[Rendition, ...] = RENDITIONS,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, PageImage]:
    """Render page ``page`` (0-based) to each rendition; returns images keyed by rendition name."""
    renderer = PageRenderer(doc, page, max_pixels)
    return {rendition.name: renderer.image(rendition) for rendition in renditions}


def page_text(doc: pymupdf.Document, page: int) -> dict[str, Any]:
    """Return ``{"width", "height", "words": [[x0, y0, x1, y1, "word"], ...]}`` in PDF points.

    Coordinates have their origin at the top left of the page as displayed (rotation applied),
    so they scale to any rendition by ``image_width / width``. Words are NFC-normalised.
    """
    return PageRenderer(doc, page).text()


def outline(doc: pymupdf.Document) -> list[dict[str, Any]]:
    """Return the bookmarks as ``[{"level", "title", "page"}]``; ``page`` is 0-based or None.

    Bookmarks that point outside the document (another file, a web address) get ``None``.
    """
    entries: list[dict[str, Any]] = []
    for level, title, page, *_ in doc.get_toc(simple=True):
        target = page - 1 if 1 <= page <= doc.page_count else None
        entries.append({"level": int(level), "title": nfc(str(title)), "page": target})
    return entries
