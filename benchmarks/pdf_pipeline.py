"""Benchmark of the PDF pipeline against PyMuPDF called directly.

Run with ``python -m benchmarks.pdf_pipeline`` from the repository root. It generates a document
(Vietnamese text in an embedded font, tables and charts drawn as vectors, photographs), then:

- renders every page through ``LocalRenderQueue`` (tablet, zoom and thumb JPEGs plus the text
  with word boxes) and, alternately, the same pages to the same sizes and formats with PyMuPDF and
  Pillow called directly in a plain ``multiprocessing`` pool of the same size (the bare baseline);
- measures pages per second for both, their ratio, and the time from ``submit_document`` to the
  first page ready;
- builds a meeting pack book from ``--book-docs`` documents of 25 pages.

Both pools are started and warm before their clock starts; each run writes to a fresh folder.
The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image, ImageDraw, ImageFilter

from ecabinet.core.text import nfc
from ecabinet.pdf.book import BookDocument, ItemDocs, build_pack_book
from ecabinet.pdf.fonts import find_font
from ecabinet.pdf.inspect import inspect_pdf
from ecabinet.pdf.render import RENDITIONS
from ecabinet.pdf.sanitize import sanitize_pdf
from ecabinet.rendering.pool import DocumentDone, LocalRenderQueue, PageFailed, PageReady

TARGET_RATIO = 0.85
TARGET_FIRST_PAGE_S = 1.0
TARGET_BOOK_S = 10.0
BOOK_DOC_PAGES = 25

PARAGRAPH = nfc(
    "Ủy ban nhân dân tỉnh báo cáo tình hình thực hiện kế hoạch phát triển kinh tế - xã hội năm "
    "2025, các nhiệm vụ trọng tâm và giải pháp điều hành trong quý tới. Đề nghị các sở, ngành rà "
    "soát tiến độ giải ngân vốn đầu tư công, bảo đảm chất lượng công trình và an toàn lao động. "
)


# --- the sample document ----------------------------------------------------------------------


def _photos(count: int, rnd: random.Random) -> list[bytes]:
    photos = []
    for n in range(count):
        image = Image.new("RGB", (900, 600))
        draw = ImageDraw.Draw(image)
        for y in range(600):
            draw.line([(0, y), (900, y)], fill=(40 + y // 5, 80 + n * 40 % 150, 200 - y // 4))
        for _ in range(60):
            x, y, r = rnd.randrange(900), rnd.randrange(600), rnd.randrange(10, 80)
            colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        image = image.filter(ImageFilter.GaussianBlur(2))
        image = Image.blend(image, Image.effect_noise((900, 600), 30).convert("RGB"), 0.15)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        photos.append(out.getvalue())
    return photos


def _page(doc: pymupdf.Document, number: int, rnd: random.Random) -> pymupdf.Page:
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="noto", fontbuffer=find_font().data)
    page.insert_font(fontname="notob", fontbuffer=find_font(bold=True).data)
    shape = page.new_shape()  # one content stream per page keeps generation fast
    title = nfc(f"Báo cáo số {number + 1}/BC-UBND — Phụ lục {number % 7 + 1}")
    shape.insert_text((56, 70), title, fontname="notob", fontsize=14)
    body = pymupdf.Rect(56, 90, 539, 310)
    shape.insert_textbox(body, PARAGRAPH * 3, fontname="noto", fontsize=10)
    top = 330
    for row in range(7):
        shape.draw_line((56, top + row * 18), (539, top + row * 18))
    for column in range(6):
        shape.draw_line((56 + column * 96.6, top), (56 + column * 96.6, top + 108))
    shape.finish(color=(0.2, 0.2, 0.2), width=0.6)
    for column in range(5):
        for row in range(6):
            value = f"{rnd.randrange(1000, 99999):,}".replace(",", ".")
            origin = (60 + column * 96.6, top + 13 + row * 18)
            shape.insert_text(origin, value, fontname="noto", fontsize=8)
    base = 640 if number % 2 else 800
    for bar in range(12):
        height = rnd.uniform(20, 180)
        shape.draw_rect(pymupdf.Rect(300 + bar * 19, base - height, 314 + bar * 19, base))
        shape.finish(color=None, fill=(0.1 + bar / 20, 0.4, 0.7 - bar / 30))
    shape.draw_sector((150, 560), (150, 500), 100, fullSector=True)
    shape.finish(color=(0, 0, 0), fill=(0.2, 0.5, 0.2))
    note = pymupdf.Rect(56, 460, 290, 640)
    shape.insert_textbox(note, PARAGRAPH, fontname="noto", fontsize=9)
    shape.commit()
    return page


def make_document(path: Path, pages: int, seed: int = 1) -> Path:
    """Write a ``pages``-page report with text, vector drawings and photographs."""
    rnd = random.Random(seed)
    photos = _photos(4, rnd)
    xrefs: dict[int, int] = {}
    doc = pymupdf.open()
    for number in range(pages):
        page = _page(doc, number, rnd)
        if number % 2 == 0:  # a photograph on every other page, four distinct ones
            which = number // 2 % len(photos)
            where = pymupdf.Rect(56, 650, 296, 810)
            if which in xrefs:
                page.insert_image(where, xref=xrefs[which])
            else:
                xrefs[which] = page.insert_image(where, stream=photos[which])
    doc.subset_fonts()
    doc.save(path, garbage=2, deflate=True)
    doc.close()
    return path


def children_cpu() -> float:
    """CPU milliseconds used so far by this process's live worker processes (Linux; else 0).

    CPU time barely moves when other programs compete for the cores, unlike wall time, so it
    tells whether the pipeline itself does more work than the baseline.
    """
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for child in multiprocessing.active_children():
        try:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) * 1000 / ticks  # utime + stime
    return total


# --- the bare baseline: PyMuPDF and Pillow in a plain process pool --------------------------

_direct_doc: pymupdf.Document | None = None
_direct_out = ""
_direct_display_list = False


def _direct_init(pdf: str, out: str, display_list: bool) -> None:
    global _direct_doc, _direct_out, _direct_display_list
    _direct_doc = pymupdf.open(pdf)
    _direct_out = out
    _direct_display_list = display_list


def _direct_page(number: int) -> int:
    assert _direct_doc is not None
    page = _direct_doc[number]
    # The obvious use rasterises the page once per size; the variant interprets it once into a
    # display list, as the pipeline does, to show the pipeline's own overhead.
    source: Any = page.get_displaylist() if _direct_display_list else page
    for rendition in RENDITIONS:
        zoom = rendition.width / page.rect.width
        pixmap = source.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        image = Image.frombuffer(
            "RGB", (pixmap.width, pixmap.height), pixmap.samples_mv, "raw", "RGB", pixmap.stride, 1
        )
        image.save(f"{_direct_out}/p{number:05d}-{rendition.name}.jpg", "JPEG", quality=80)
    words = [list(word[:5]) for word in page.get_text("words")]
    text = {"width": page.rect.width, "height": page.rect.height, "words": words}
    Path(f"{_direct_out}/p{number:05d}-text.json").write_text(json.dumps(text, ensure_ascii=False))
    return number


def run_direct(
    pdf: Path, pages: int, workers: int, out: Path, display_list: bool = False
) -> dict[str, float]:
    """Render every page with PyMuPDF + Pillow in ``workers`` processes; return the timing."""
    out.mkdir(parents=True)
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers, _direct_init, (str(pdf), str(out), display_list)) as pool:
        pool.map(abs, range(workers * 4))  # every process started and the document open
        cpu = children_cpu()
        started = time.perf_counter()
        done = sum(1 for _ in pool.imap_unordered(_direct_page, range(pages)))
        elapsed = time.perf_counter() - started
        cpu = children_cpu() - cpu
    assert done == pages
    return {"seconds": elapsed, "pages_per_s": pages / elapsed, "cpu_ms_per_page": cpu / pages}


# --- the pipeline -----------------------------------------------------------------------------


async def _pipeline(pdf: Path, pages: int, workers: int, cache: Path) -> dict[str, float]:
    sha = f"{random.getrandbits(256):064x}"  # a fresh key: nothing may come from the cache
    async with LocalRenderQueue(cache, workers=workers) as queue:
        with queue.events() as stream:
            cpu = children_cpu()
            started = time.perf_counter()
            await queue.submit_document(sha, pdf, pages)
            first = 0.0
            failed = 0
            async for event in stream:
                if isinstance(event, PageReady) and not first:
                    first = time.perf_counter() - started
                elif isinstance(event, PageFailed):
                    failed += 1
                elif isinstance(event, DocumentDone):
                    break
            elapsed = time.perf_counter() - started
            cpu = children_cpu() - cpu
    if failed:
        raise RuntimeError(f"{failed} pages failed")
    return {
        "seconds": elapsed,
        "pages_per_s": pages / elapsed,
        "first_page_s": first,
        "cpu_ms_per_page": cpu / pages,
    }


def run_pipeline(pdf: Path, pages: int, workers: int, cache: Path) -> dict[str, float]:
    """Render every page through ``LocalRenderQueue``; return the timing."""
    return asyncio.run(_pipeline(pdf, pages, workers, cache))


# --- the pack book ----------------------------------------------------------------------------


def run_book(folder: Path, documents: int) -> dict[str, float]:
    """Build a book of ``documents`` documents of 25 pages (four distinct ones, copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [
        make_document(folder / f"source-{n}.pdf", BOOK_DOC_PAGES, seed=n)
        for n in range(min(4, documents))
    ]
    items: list[ItemDocs] = []
    for number in range(0, documents, 2):
        docs = []
        for n in range(number, min(number + 2, documents)):
            copy = folder / f"doc-{n}.pdf"
            shutil.copy(sources[n % len(sources)], copy)
            docs.append(BookDocument(f"Tờ trình số {n + 1}/TTr-UBND", copy))
        items.append(ItemDocs(str(len(items) + 1), f"Nội dung thứ {len(items) + 1}", docs))
    meeting = {
        "title": "Phiên họp thường kỳ",
        "body": "Ủy ban nhân dân tỉnh",
        "date": "21/11/2025",
        "place": "Phòng họp số 1",
    }
    started = time.perf_counter()
    report = build_pack_book(meeting, items, folder / "book.pdf")
    elapsed = time.perf_counter() - started
    # Checking and sanitising a file of this size is what an upload of the book would cost.
    started = time.perf_counter()
    inspect_pdf(folder / "book.pdf")
    sanitize_pdf(folder / "book.pdf", folder / "book-clean.pdf")
    checked = time.perf_counter() - started
    return {"seconds": elapsed, "pages": report.page_count, "check_and_sanitize_s": checked}


# --- main -------------------------------------------------------------------------------------


def _measure(
    args: argparse.Namespace, pdf: Path, folder: Path
) -> dict[str, list[dict[str, float]]]:
    """Run the three variants ``--repeat`` times, reversing their order every other round so
    that a slow patch on a shared machine does not always hit the same one."""
    variants = {
        "pipeline": lambda out: run_pipeline(pdf, args.pages, args.workers, out),
        "direct": lambda out: run_direct(pdf, args.pages, args.workers, out),
        "direct_display_list": lambda out: run_direct(pdf, args.pages, args.workers, out, True),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for round_ in range(args.repeat):
        names = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in names:
            run = variants[name](folder / f"{name}-{round_}")
            runs[name].append(run)
            first = (
                f", first page {run['first_page_s'] * 1000:.0f} ms" if "first_page_s" in run else ""
            )
            print(
                f"round {round_ + 1} {name:20s} {run['pages_per_s']:6.2f} pages/s, "
                f"{run['cpu_ms_per_page']:5.0f} ms CPU per page{first}",
                flush=True,
            )
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print a summary and, last, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=300, help="pages in the rendered document")
    parser.add_argument("--book-docs", type=int, default=40, help="25-page documents in the book")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each variant; best kept")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ecabinet-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        pdf = make_document(folder / "report.pdf", args.pages)
        print(f"generated {args.pages} pages in {time.perf_counter() - started:.1f} s", flush=True)
        runs = _measure(args, pdf, folder)
        book = run_book(folder / "book", args.book_docs) if args.book_docs else {}

    def best(name: str) -> float:
        return max(run["pages_per_s"] for run in runs[name])

    def cpu(name: str) -> float:
        return min(run["cpu_ms_per_page"] for run in runs[name])

    ratio = best("pipeline") / best("direct")
    first_page = max(run["first_page_s"] for run in runs["pipeline"])
    round_ratios = [
        p["pages_per_s"] / d["pages_per_s"]
        for p, d in zip(runs["pipeline"], runs["direct"], strict=True)
    ]
    book_s = book.get("seconds", 0.0)
    result: dict[str, Any] = {
        "benchmark": "pdf_pipeline",
        "pages": args.pages,
        "workers": args.workers,
        "renditions": [f"{r.name}:{r.width}px:{r.fmt}q{r.quality}" for r in RENDITIONS] + ["text"],
        "pipeline_pages_per_s": round(best("pipeline"), 2),
        "direct_pages_per_s": round(best("direct"), 2),
        "ratio": round(ratio, 3),
        "ratio_per_round": [round(r, 3) for r in round_ratios],
        "direct_display_list_pages_per_s": round(best("direct_display_list"), 2),
        "ratio_vs_direct_display_list": round(best("pipeline") / best("direct_display_list"), 3),
        "cpu_ms_per_page": {name: round(cpu(name), 1) for name in runs},
        "runs_pages_per_s": {
            name: [round(r["pages_per_s"], 2) for r in runs[name]] for name in runs
        },
        "first_page_s": round(first_page, 3),
        "first_page_median_s": round(
            statistics.median(r["first_page_s"] for r in runs["pipeline"]), 3
        ),
        "book_docs": args.book_docs,
        "book_pages": book.get("pages", 0),
        "book_s": round(book_s, 2),
        "book_check_and_sanitize_s": round(book.get("check_and_sanitize_s", 0.0), 2),
        "targets": {
            "ratio_ge_0.85": ratio >= TARGET_RATIO,
            "first_page_le_1s": first_page <= TARGET_FIRST_PAGE_S,
            "book_le_10s": book_s <= TARGET_BOOK_S,
        },
    }
    print()
    print(
        f"pipeline             {best('pipeline'):7.2f} pages/s  {cpu('pipeline'):5.0f} ms CPU/page"
    )
    print(f"direct               {best('direct'):7.2f} pages/s  {cpu('direct'):5.0f} ms CPU/page")
    print(
        f"direct, display list {best('direct_display_list'):7.2f} pages/s  "
        f"{cpu('direct_display_list'):5.0f} ms CPU/page"
    )
    print(
        f"ratio pipeline/direct {ratio:.3f} (target >= {TARGET_RATIO}; best of {args.repeat} each)"
    )
    print(f"first page {first_page * 1000:.0f} ms after submit (target <= 1000 ms)")
    if book:
        print(f"book of {book['pages']} pages in {book_s:.2f} s (target <= {TARGET_BOOK_S:.0f} s)")
        print(f"checking and sanitising that book: {book['check_and_sanitize_s']:.2f} s")
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
