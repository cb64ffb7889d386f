"""Running PDF work on untrusted files in a throwaway process, with a time and a memory limit.

Checking, sanitising and assembling PDFs parses whatever people upload. MuPDF is robust, but a
hostile file can still make it loop, allocate without bound or crash; in the server's own process
that would stall or kill every meeting. Here the work runs in a child process (forked from the
forkserver, which already has PyMuPDF loaded, so a start costs milliseconds): a hang is killed at
the time limit, an allocation past the memory limit fails inside the child, a crash reads as
end-of-file on the pipe, and each becomes a ``PdfError`` with a stable code.

The rendering workers get the same memory limit through ``limited_render``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, TypeVar

from ecabinet.pdf.errors import STORAGE_FULL, PdfError, out_of_room
from ecabinet.pdf.inspect import PdfInfo, PdfLimits, inspect_pdf
from ecabinet.pdf.jobs import RenderJob, render_job
from ecabinet.pdf.sanitize import sanitize_pdf

T = TypeVar("T")

PROCESSING_TIMEOUT: Final = "processing_timeout"
PROCESSING_CRASHED: Final = "processing_crashed"
PROCESSING_FAILED: Final = "processing_failed"

# Address space a child may use. The largest raster (render.MAX_PIXELS, RGB) is 120 MB; a page
# that needs more than this is an attack (an image stream that inflates to gigabytes).
MEMORY_LIMIT: Final = 2 * 1024**3
_PRELOAD: Final = ["ecabinet.rendering.worker", "ecabinet.pdf.jobs", "ecabinet.pdf.isolation"]


def set_memory_limit(limit: int = MEMORY_LIMIT) -> None:
    """Cap this process's address space (Linux: RLIMIT_AS); allocations past it fail."""
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY and hard < limit:
            limit = hard
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def context() -> multiprocessing.context.BaseContext:
    """The start method for children: forkserver (PyMuPDF preloaded) where it exists."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)  # effective only before the forkserver starts
        return ctx
    return multiprocessing.get_context("spawn")


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_memory_limit(memory)
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    try:
        reply: tuple[Any, ...] = ("ok", fn(*args))
    except PdfError as exc:
        reply = ("error", exc.code, exc.message, exc.details)
    except MemoryError:
        reply = ("error", PROCESSING_FAILED, _MESSAGES["memory"], None)
    except Exception as exc:  # a bug or a MuPDF failure on a hostile file: one clear answer
        if out_of_room(exc):  # the disk, not the file: say so
            reply = ("error", STORAGE_FULL, _MESSAGES["full"], None)
        else:
            reply = ("error", PROCESSING_FAILED, f"{_MESSAGES['failed']} ({type(exc).__name__})",
                     None)
    conn.send(reply)
    conn.close()


_MESSAGES: Final = {
    "timeout": "Xử lý tệp quá thời gian cho phép; tệp có thể bị hỏng hoặc độc hại "
    "(processing the file took too long).",
    "crashed": "Tiến trình xử lý tệp dừng đột ngột; tệp có thể bị hỏng hoặc độc hại "
    "(the processing process crashed).",
    "memory": "Tệp cần quá nhiều bộ nhớ để xử lý (the file needs too much memory).",
    "failed": "Không xử lý được tệp PDF (processing the file failed)",
    "full": "Máy chủ hết dung lượng lưu trữ (the server's storage is full).",
}


def run_isolated(
    fn: Callable[..., T], *args: Any, timeout: float, memory_limit: int = MEMORY_LIMIT
) -> T:
    """Run ``fn(*args)`` in a child process and return its result (blocking; not on a loop).

    ``fn`` and its arguments must be picklable (a module-level function). Raises the child's
    ``PdfError``, or a ``PdfError`` coded ``processing_timeout`` (killed at ``timeout`` seconds),
    ``processing_crashed`` (the child died) or ``processing_failed`` (any other exception).
    """
    ctx = context()
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(  # type: ignore[attr-defined]
        target=_child, args=(child, fn, args, memory_limit), daemon=True, name="ecabinet-pdf"
    )
    try:
        process.start()
    finally:
        child.close()  # only the child may hold it, or a crash would never read as end-of-file
    try:
        if not parent.poll(timeout):
            process.kill()
            raise PdfError(PROCESSING_TIMEOUT, _MESSAGES["timeout"], details={"timeout": timeout})
        try:
            reply = parent.recv()
        except (EOFError, OSError):
            process.join(5)
            raise PdfError(
                PROCESSING_CRASHED, _MESSAGES["crashed"], details={"exitcode": process.exitcode}
            ) from None
    finally:
        parent.close()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
        process.close()
    if reply[0] == "ok":
        result: T = reply[1]
        return result
    raise PdfError(reply[1], reply[2], details=reply[3])


def check_and_sanitize(
    source: str, target: str, password: str | None, limits: PdfLimits
) -> tuple[PdfInfo, dict[str, Any], bool]:
    """Validate ``source`` and write its sanitised copy to ``target`` (run it isolated).

    Returns the description of the clean copy (as served), the sanitiser's report, and whether
    ``source`` needed a password to open.
    """
    import pymupdf

    original = inspect_pdf(source, password, limits)
    protected = False
    if original.encrypted:
        probe = pymupdf.open(source, filetype="pdf")
        protected = bool(probe.needs_pass)
        probe.close()
    report = sanitize_pdf(source, target, password)
    info = inspect_pdf(target, None, limits)
    return info, report.to_dict(), protected


def check_only(source: str, password: str | None, limits: PdfLimits) -> PdfInfo:
    """Validate ``source`` (the password check of a file seen before)."""
    return inspect_pdf(source, password, limits)


_limited = False


def limited_render(job: RenderJob) -> dict[str, str]:
    """``render_job`` under the memory limit: the render function given to the worker pool."""
    global _limited
    if not _limited:
        set_memory_limit()
        _limited = True
    return render_job(job)


def placeholder_pdf(path: str | Path, title: str, lines: list[str]) -> None:
    """Write a one-page A4 PDF saying why a document is not in a book (Vietnamese text)."""
    import pymupdf

    from ecabinet.core.text import nfc
    from ecabinet.pdf.fonts import find_font

    doc = pymupdf.open()
    try:
        page = doc.new_page(width=595, height=842)
        page.insert_font(fontname="ecab-b", fontbuffer=find_font(True).data)
        page.insert_font(fontname="ecab-r", fontbuffer=find_font(False).data)
        page.draw_rect(pymupdf.Rect(56, 300, 539, 540), color=(0.6, 0.1, 0.1), width=1.2)
        page.insert_textbox(
            pymupdf.Rect(72, 320, 523, 400), nfc(title), fontname="ecab-b", fontsize=16, align=1
        )
        page.insert_textbox(
            pymupdf.Rect(72, 410, 523, 530),
            nfc("\n".join(lines)),
            fontname="ecab-r",
            fontsize=12,
            align=1,
        )
        doc.subset_fonts()
        doc.save(str(path), garbage=3, deflate=True)
    finally:
        doc.close()


def build_book_isolated(
    meeting: dict[str, Any],
    items: list[tuple[str, str, list[tuple[str, str | None]]]],
    out_path: str,
    placeholder_lines: list[str],
) -> int:
    """Build a pack book (see ``book.build_pack_book``); a document without a path is shown
    as a placeholder page naming it. Returns the book's page count (run it isolated)."""
    import tempfile

    from ecabinet.pdf.book import BookDocument, ItemDocs, build_pack_book

    with tempfile.TemporaryDirectory(prefix=".book-", dir=Path(out_path).parent) as tmp:
        contents = []
        for number, title, documents in items:
            entries = []
            for index, (doc_title, path) in enumerate(documents):
                if path is None:
                    path = str(Path(tmp) / f"placeholder-{number}-{index}.pdf")
                    placeholder_pdf(path, f"TÀI LIỆU MẬT\n{doc_title}", placeholder_lines)
                entries.append(BookDocument(doc_title, path))
            contents.append(ItemDocs(number, title, tuple(entries)))
        report = build_pack_book(meeting, contents, out_path)
    return report.page_count


def outline_isolated(path: str) -> list[dict[str, Any]]:
    """The bookmarks of a stored PDF with pages counted from 1 (run it isolated)."""
    from ecabinet.pdf.inspect import open_pdf
    from ecabinet.pdf.render import outline

    doc = open_pdf(path)
    try:
        entries = outline(doc)
    finally:
        doc.close()
    return [{**e, "page": None if e["page"] is None else e["page"] + 1} for e in entries]
