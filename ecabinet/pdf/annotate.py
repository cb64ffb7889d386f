"""Annotations as real PDF annotations, and page words for re-anchoring them.

Exported files carry standard annotation types that every PDF reader shows and lets people edit:
ink strokes become ``Ink`` annotations, highlights ``Highlight`` annotations with one quad per
line, sticky notes ``Text`` annotations (an icon with a pop-up) and free text ``FreeText``
annotations. Each one names its author (the ``T`` entry readers show) and keeps its text in
``Contents``. MuPDF draws the appearance streams with embedded fonts, so Vietnamese text shows in
readers that do not regenerate appearances.

Coordinates arrive as the clients use them: points from the top left of the page as displayed.
PDF annotations live in the unrotated page, so every position goes through the page's
derotation matrix (a page rotated by 90 degrees gets its marks where the reader saw them).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pymupdf

from ecabinet.core.text import nfc
from ecabinet.domain.anchoring import Anchoring, Placement
from ecabinet.pdf.fonts import find_font
from ecabinet.pdf.inspect import open_pdf
from ecabinet.pdf.jobs import text_path
from ecabinet.pdf.render import page_text

A4: Final = (595.0, 842.0)
MARGIN: Final = 56.0
_FONT: Final = "ecab-r"
_BOLD: Final = "ecab-b"
KIND_LABELS: Final = {
    "ink": "Nét vẽ",
    "highlight": "Đánh dấu",
    "note": "Ghi chú",
    "text": "Chữ trên trang",
}


@dataclass(frozen=True)
class Mark:
    """One annotation to write: ``page`` 0-based, geometry in displayed-page points."""

    kind: str
    page: int
    data: Mapping[str, Any]
    author: str
    created: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True)
class Unplaced:
    """An annotation kept from an earlier version that the new one had no place for."""

    kind: str
    page: int  # 0-based, in the version it was made on
    text: str
    author: str
    version: int | None = None


@dataclass(frozen=True)
class PackEntry:
    """One document of a pack export; ``path`` None: listed but not exported (confidential)."""

    title: str
    path: str | Path | None
    marks: Sequence[Mark] = ()
    unplaced: Sequence[Unplaced] = ()
    reason: str = ""  # why it is not exported


@dataclass
class Report:
    """What an export wrote: annotations by PDF subtype, and pages."""

    written: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # marks whose page is not in the file
    pages: int = 0


def rgb(colour: str) -> tuple[float, float, float]:
    """``#RRGGBB`` as PDF colour components."""
    value = colour.lstrip("#")
    return int(value[0:2], 16) / 255, int(value[2:4], 16) / 255, int(value[4:6], 16) / 255


def _pdf_date(moment: datetime | None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("D:%Y%m%d%H%M%S+00'00'")


def _describe(annot: pymupdf.Annot, mark: Mark, content: str, subject: str) -> None:
    annot.set_info(
        title=nfc(mark.author),
        content=nfc(content),
        subject=subject,
        creationDate=_pdf_date(mark.created),
        modDate=_pdf_date(mark.modified or mark.created),
    )


def write_mark(page: pymupdf.Page, mark: Mark) -> str:
    """Add one annotation to ``page``; return its PDF subtype."""
    derotate = page.derotation_matrix
    data = mark.data
    colour = rgb(str(data.get("colour", "#D32F2F")))
    if mark.kind == "ink":
        strokes = [
            [tuple(pymupdf.Point(x, y) * derotate) for x, y in stroke]
            for stroke in data["strokes"]
            if stroke
        ]
        annot = page.add_ink_annot(strokes)
        annot.set_colors(stroke=colour)
        annot.set_border(width=float(data.get("width", 2.0)))
        annot.set_opacity(float(data.get("opacity", 1.0)))
        _describe(annot, mark, "", KIND_LABELS["ink"])
    elif mark.kind == "highlight":
        quads = [pymupdf.Rect(r).quad * derotate for r in data["rects"]]
        annot = page.add_highlight_annot(quads=quads)
        annot.set_colors(stroke=colour)
        text = str(data.get("comment") or data.get("text") or "")
        _describe(annot, mark, text, KIND_LABELS["highlight"])
    elif mark.kind == "note":
        at = pymupdf.Point(*data["at"]) * derotate
        annot = page.add_text_annot(at, nfc(str(data.get("text", ""))), icon="Note")
        annot.set_colors(stroke=colour)
        _describe(annot, mark, str(data.get("text", "")), KIND_LABELS["note"])
    elif mark.kind == "text":
        rect = pymupdf.Rect(data["rect"]) * derotate
        annot = page.add_freetext_annot(
            rect,
            nfc(str(data.get("text", ""))),
            fontsize=float(data.get("font_size", 12)),
            text_color=colour,
            rotate=page.rotation,
        )
        _describe(annot, mark, str(data.get("text", "")), KIND_LABELS["text"])
    else:
        raise ValueError(f"unknown annotation kind {mark.kind!r}")
    annot.update()
    return str(annot.type[1])


def write_marks(doc: pymupdf.Document, marks: Sequence[Mark], first_page: int = 0,
                report: Report | None = None) -> Report:
    """Write ``marks`` into ``doc``, whose page ``first_page`` is the marks' page 0."""
    report = report if report is not None else Report()
    count = doc.page_count
    for mark in marks:
        target = first_page + mark.page
        if not first_page <= target < count:
            report.skipped += 1
            continue
        report.written[write_mark(doc[target], mark)] += 1
    return report


class _Writer:
    """Vietnamese text on generated pages (listings), appended page after page."""

    def __init__(self, doc: pymupdf.Document) -> None:
        self.doc = doc
        self.regular = find_font(False).data
        self.bold = find_font(True).data
        self.page: pymupdf.Page | None = None
        self.y = 0.0

    def new_page(self) -> pymupdf.Page:
        self.page = self.doc.new_page(width=A4[0], height=A4[1])
        self.page.insert_font(fontname=_FONT, fontbuffer=self.regular)
        self.page.insert_font(fontname=_BOLD, fontbuffer=self.bold)
        self.y = MARGIN
        return self.page

    def line(self, text: str, size: float = 10.5, *, bold: bool = False, indent: float = 0,
             gap: float = 4) -> None:
        """Write wrapped text below the previous line, on a new page when it does not fit."""
        text = nfc(text)
        for _attempt in range(3):
            if self.page is None:
                self.new_page()
            assert self.page is not None
            rect = pymupdf.Rect(MARGIN + indent, self.y, A4[0] - MARGIN, A4[1] - MARGIN)
            spare = self.page.insert_textbox(
                rect, text, fontname=_BOLD if bold else _FONT, fontsize=size
            )
            if spare >= 0:
                self.y = rect.y1 - spare + gap
                return
            if self.y > MARGIN:
                self.new_page()
            else:  # longer than a whole page on its own: shorten it (a listing line)
                text = text[: max(1, len(text) // 2)] + "…"


def _unplaced_lines(writer: _Writer, unplaced: Sequence[Unplaced], title: str = "") -> None:
    writer.new_page()
    heading = "Ghi chú chưa đặt lại được vào phiên bản mới"
    writer.line(heading + (f": {title}" if title else ""), 13, bold=True, gap=6)
    writer.line(
        "Tài liệu đã được thay bằng phiên bản mới và không tìm thấy đoạn văn mà các ghi chú "
        "dưới đây gắn vào; chúng được giữ nguyên cùng với phiên bản trước "
        "(annotations kept from the previous version).",
        9.5,
        gap=10,
    )
    for item in unplaced:
        label = KIND_LABELS.get(item.kind, item.kind)
        version = f", phiên bản {item.version}" if item.version else ""
        text = f" — “{item.text[:500]}”" if item.text else ""
        writer.line(f"• {label}, trang {item.page + 1}{version}{text} ({item.author})",
                    indent=8)


def annotated_document(
    path: str | Path, marks: Sequence[Mark], unplaced: Sequence[Unplaced] = ()
) -> tuple[bytes, Report]:
    """A copy of the PDF at ``path`` with ``marks`` written in, and a last page listing the
    annotations kept from an earlier version that have no place in this one."""
    doc = open_pdf(path)
    try:
        report = write_marks(doc, marks)
        if unplaced:
            _unplaced_lines(_Writer(doc), unplaced)
        report.pages = doc.page_count
        return _finish(doc), report
    finally:
        doc.close()


def _finish(doc: pymupdf.Document) -> bytes:
    with contextlib.suppress(Exception):  # subsetting is a size optimisation only
        doc.subset_fonts()
    data: bytes = doc.tobytes(garbage=1, deflate=True)
    return data


def _cover(heading: Sequence[str], rows: Sequence[tuple[str, int | None]],
           cover_pages: int) -> pymupdf.Document:
    doc = pymupdf.open()
    writer = _Writer(doc)
    for number, text in enumerate(heading):
        writer.line(text, 15 if number == 0 else 11, bold=number == 0, gap=10 if number == 0 else 4)
    writer.y += 12
    writer.line("Danh sách tài liệu", 12, bold=True, gap=6)
    for text, start in rows:
        where = "" if start is None else f" — trang {start + cover_pages + 1}"
        writer.line(text + where, 10.5, indent=8)
    return doc


def annotated_pack(entries: Sequence[PackEntry], heading: Sequence[str]) -> tuple[bytes, Report]:
    """Every exportable document with its marks, after first pages that list the documents
    (with the page each starts on) and those left out, with a bookmark per document."""
    report = Report()
    out = pymupdf.open()
    try:
        starts: list[int | None] = []
        for entry in entries:
            if entry.path is None:
                starts.append(None)
                continue
            source = open_pdf(entry.path)
            try:
                first = out.page_count
                out.insert_pdf(source, annots=True, links=True)
            finally:
                source.close()
            starts.append(first)
            write_marks(out, entry.marks, first, report)
            if entry.unplaced:
                _unplaced_lines(_Writer(out), entry.unplaced, entry.title)
        rows = [
            (f"{n}. {entry.title}" + ("" if start is not None else
                                      f" — {entry.reason or 'không xuất'}"), start)
            for n, (entry, start) in enumerate(zip(entries, starts, strict=True), 1)
        ]
        # The listing may take more than a page, which moves every document's first page.
        cover_pages = 1
        cover = _cover(heading, rows, cover_pages)
        while cover.page_count != cover_pages:
            cover_pages = cover.page_count
            cover.close()
            cover = _cover(heading, rows, cover_pages)
        try:
            out.insert_pdf(cover, start_at=0)
        finally:
            cover.close()
        toc = [
            [1, nfc(entry.title), start + cover_pages + 1]
            for entry, start in zip(entries, starts, strict=True)
            if start is not None
        ]
        if toc:
            out.set_toc(toc)
        report.pages = out.page_count
        return _finish(out), report
    finally:
        out.close()


# --- page words for re-anchoring ---------------------------------------------------------------


@dataclass(frozen=True)
class VersionFile:
    """A stored version of a document: its PDF, pages, and the render cache of its words."""

    path: str
    sha256: str
    page_count: int
    page_sizes: list[Any] | None
    cache_dir: str  # the renditions folder (``ecabinet.pdf.jobs.text_path``)


@dataclass(frozen=True)
class ToPlace:
    key: int
    kind: str
    page: int
    data: dict[str, Any]


class PdfWords:
    """A stored PDF's pages for ``ecabinet.domain.anchoring``: words from the render cache when
    there, else read from the file; sizes as recorded. Use as a context manager."""

    def __init__(self, version: VersionFile) -> None:
        self.version = version
        self.page_count = version.page_count
        self._doc: pymupdf.Document | None = None
        self._failed = False

    def __enter__(self) -> PdfWords:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._doc is not None:
            self._doc.close()
            self._doc = None

    def _open(self) -> pymupdf.Document | None:
        if self._doc is None and not self._failed:
            try:
                self._doc = open_pdf(self.version.path)
            except Exception:  # a missing or unreadable file: no words, nothing carried by text
                self._failed = True
        return self._doc

    def words(self, page: int) -> list[Any]:
        if not 0 <= page < self.page_count:
            return []
        cached = text_path(self.version.cache_dir, self.version.sha256, page)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            found: list[Any] = json.loads(cached.read_bytes())["words"]
            return found
        doc = self._open()
        if doc is None or page >= doc.page_count:
            return []
        words: list[Any] = page_text(doc, page)["words"]
        return words

    def size(self, page: int) -> tuple[float, float] | None:
        sizes = self.version.page_sizes or []
        if 0 <= page < len(sizes):
            width, height = sizes[page][:2]
            return float(width), float(height)
        doc = self._open()
        if doc is None or not 0 <= page < doc.page_count:
            return None
        rect = doc[page].rect
        return float(rect.width), float(rect.height)


def place_all(old: VersionFile, new: VersionFile,
              items: Sequence[ToPlace]) -> list[tuple[int, Placement | None]]:
    """Where each annotation of version ``old`` goes in version ``new`` (``None``: nowhere).

    Reads both files with MuPDF: run it in a child process (``run_isolated``), as MuPDF must
    not run on two threads of the server at once.
    """
    out: list[tuple[int, Placement | None]] = []
    with PdfWords(old) as before, PdfWords(new) as after:
        anchoring = Anchoring(before, after)
        for item in items:
            try:
                placement = anchoring.place(item.kind, item.page, item.data)
            except (ValueError, KeyError, TypeError, IndexError):
                placement = None  # odd geometry: kept, not carried
            out.append((item.key, placement))
    return out
