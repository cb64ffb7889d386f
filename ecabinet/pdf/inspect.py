"""Opening a PDF and deciding whether it can be accepted.

MuPDF is lenient: it repairs broken cross-reference tables and opens files that other readers
refuse. Repair is often right (a file missing its last few bytes usually loses nothing), so a
repaired file is judged by what matters to a reader: every page must load and its content must be
interpretable without MuPDF reporting lost data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pymupdf

from ecabinet.pdf.errors import (
    DAMAGED,
    EMPTY,
    NOT_A_PDF,
    PAGE_TOO_LARGE,
    PASSWORD_REQUIRED,
    TOO_MANY_PAGES,
    TRUNCATED,
    WRONG_PASSWORD,
    PdfError,
)

# Acrobat accepts a header anywhere in the first 1024 bytes (some generators prepend junk).
_HEADER_WINDOW: Final = 1024
# A complete file ends with %%EOF followed at most by some whitespace or a little garbage.
_TRAILER_WINDOW: Final = 2048
_SNIFF_WINDOW: Final = 65536

# MuPDF warnings that mean content was lost, as opposed to merely re-indexed by the repair.
_LOSS_MARKERS: Final = re.compile(
    r"cannot load content stream|premature end of data|object is not a stream|"
    r"non-page object in page tree|ignoring broken object|syntax error in object|"
    r"object missing 'endobj'|stream Length incorrect|cannot load object|unexpected end of|"
    r"read error|truncated",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PdfLimits:
    """What an accepted document may not exceed; a page side of 5000 pt is about 1.76 m."""

    max_pages: int = 2000
    max_page_side_pt: float = 5000.0


@dataclass(frozen=True)
class PdfInfo:
    """What the rest of the system needs to know about an accepted PDF."""

    page_count: int
    page_sizes: list[tuple[float, float]]  # (width, height) in points, as displayed (rotation on)
    encrypted: bool  # had any encryption, even owner-only
    repaired: bool  # MuPDF had to rebuild the cross-reference table
    title: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


_MESSAGES: Final[dict[str, tuple[str, str]]] = {
    NOT_A_PDF: ("Tệp không phải PDF hợp lệ", "not a valid PDF"),
    EMPTY: ("Tệp PDF không có trang nào", "the PDF has no pages"),
    TRUNCATED: ("Tệp PDF bị cắt cụt, có thể tải lên chưa hết", "the PDF is truncated"),
    DAMAGED: ("Tệp PDF bị hỏng, không đọc được nội dung", "the PDF is damaged"),
    PASSWORD_REQUIRED: ("Tệp PDF được bảo vệ bằng mật khẩu", "a password is required"),
    WRONG_PASSWORD: ("Mật khẩu PDF không đúng", "wrong password"),
    TOO_MANY_PAGES: ("Tệp PDF có quá nhiều trang", "too many pages"),
    PAGE_TOO_LARGE: ("Trang PDF quá lớn", "a page is too large"),
}


def _text(code: str, detail: str = "") -> str:
    """Vietnamese, then the detail, then the English hint: "Trang PDF quá lớn: … (a page …)."."""
    vietnamese, english = _MESSAGES[code]
    return f"{vietnamese}{': ' + detail if detail else ''} ({english})."


def _fail(code: str, detail: str = "", **details: object) -> PdfError:
    return PdfError(code, _text(code, detail), details=details or None)


def _sniff(path: Path) -> tuple[bool, bool, bool]:
    """Return (has a %PDF- header, has %%EOF near the end, has PDF objects near the start).

    Reads at most a few dozen kilobytes, whatever the file's size.
    """
    with path.open("rb") as file:
        head = file.read(_SNIFF_WINDOW)
        size = file.seek(0, 2)
        file.seek(max(0, size - _TRAILER_WINDOW))
        tail = file.read()
    has_header = b"%PDF-" in head[:_HEADER_WINDOW]
    return has_header, b"%%EOF" in tail, re.search(rb"\d+\s+\d+\s+obj\b", head) is not None


def open_pdf(path: str | Path, password: str | None = None) -> pymupdf.Document:
    """Open a PDF and unlock it, or raise ``PdfError``.

    The caller owns the returned document and must close it. Only the user password blocks
    opening; an owner-password-only file (restrictions on printing or copying) opens as is.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise PdfError(EMPTY, "Tệp rỗng (the file is empty).")
    has_header, has_eof, has_objects = _sniff(path)
    if not has_header:
        raise _fail(NOT_A_PDF)
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError) as exc:
        # A real PDF cut short has objects but no end marker; random bytes after a header do not.
        raise _fail(TRUNCATED if has_objects and not has_eof else NOT_A_PDF) from exc
    if doc.needs_pass:
        if password is None:
            doc.close()
            raise _fail(PASSWORD_REQUIRED)
        if not doc.authenticate(password):
            doc.close()
            raise _fail(WRONG_PASSWORD)
    return doc


def _check_content(doc: pymupdf.Document, truncated: bool) -> None:
    """Interpret every page of a repaired file and fail if MuPDF reports lost data."""
    pymupdf.TOOLS.reset_mupdf_warnings()
    for index in range(doc.page_count):
        try:
            doc[index].get_displaylist()
        except (RuntimeError, ValueError) as exc:
            raise _fail(TRUNCATED if truncated else DAMAGED, page=index) from exc
        warnings = pymupdf.TOOLS.mupdf_warnings(reset=True)
        if _LOSS_MARKERS.search(warnings):
            raise _fail(TRUNCATED if truncated else DAMAGED, page=index, mupdf=warnings[:500])


def inspect_pdf(
    path: str | Path, password: str | None = None, limits: PdfLimits | None = None
) -> PdfInfo:
    """Validate a PDF against ``limits`` and describe it.

    Raises ``PdfError`` with code ``not_a_pdf``, ``empty``, ``truncated``, ``damaged``,
    ``password_required``, ``wrong_password``, ``too_many_pages`` or ``page_too_large``.
    MuPDF's warning log is process-wide, so call this from one thread at a time per process
    (a worker process, not the server's event loop).
    """
    limits = limits or PdfLimits()
    path = Path(path)
    display = pymupdf.TOOLS.mupdf_display_errors()
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.reset_mupdf_warnings()
    try:
        doc = open_pdf(path, password)
        try:
            return _describe(doc, path, limits)
        finally:
            doc.close()
    finally:
        pymupdf.TOOLS.mupdf_display_errors(display)


def _describe(doc: pymupdf.Document, path: Path, limits: PdfLimits) -> PdfInfo:
    _, has_eof, _ = _sniff(path)
    try:
        count = doc.page_count
    except RuntimeError as exc:
        raise _fail(DAMAGED if has_eof else TRUNCATED) from exc
    if count == 0:
        # A cut-off file often loses its page tree first; say so rather than "no pages".
        raise _fail(EMPTY if has_eof else TRUNCATED)
    if count > limits.max_pages:
        detail = f"{count} trang, tối đa {limits.max_pages}"
        raise _fail(TOO_MANY_PAGES, detail, pages=count)
    sizes: list[tuple[float, float]] = []
    for index in range(count):
        try:
            rect = doc[index].rect
        except (RuntimeError, ValueError) as exc:
            raise _fail(DAMAGED if has_eof else TRUNCATED, page=index) from exc
        width, height = float(rect.width), float(rect.height)
        if width <= 0 or height <= 0:
            raise _fail(DAMAGED, page=index)
        if max(width, height) > limits.max_page_side_pt:
            detail = f"trang {index + 1} là {width:.0f} × {height:.0f} pt"
            raise _fail(PAGE_TOO_LARGE, detail, page=index, width=width, height=height)
        sizes.append((round(width, 2), round(height, 2)))
    if doc.is_repaired:
        _check_content(doc, truncated=not has_eof)
    metadata = {key: str(value) for key, value in (doc.metadata or {}).items() if value}
    return PdfInfo(
        page_count=count,
        page_sizes=sizes,
        encrypted=bool(doc.is_encrypted or doc.needs_pass or metadata.get("encryption")),
        repaired=bool(doc.is_repaired),
        title=metadata.get("title", ""),
        metadata=metadata,
    )
