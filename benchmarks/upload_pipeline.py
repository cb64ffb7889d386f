"""The document pipeline measured through the server: upload over HTTP to the pages being served.

``benchmarks/pdf_pipeline.py`` measures the rendering core (``LocalRenderQueue``) against PyMuPDF
called directly. This one adds everything a secretary's upload goes through on a real server
(``python -m ecabinet serve`` on a free port): the streamed multipart upload, the isolated check
and sanitising, the blob store, the commit and the event, the render service feeding the queue,
the status updates, and the HTTP answers that serve the pages. It reports:

- the upload answer time (the file is checked and stored before the answer);
- the time from the upload answer to page 1's tablet image arriving over HTTP (target 1 s);
- pages per second from the upload answer to the document's ``ready`` status, against the same
  pages rendered by PyMuPDF directly in as many processes (``pdf_pipeline.run_direct``);
- the pack book over HTTP for ``--book-docs`` documents of 25 pages (target: 1,000 pages in 10 s).

Run with ``python -m benchmarks.upload_pipeline`` from the repository root; the last line printed
is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import Scratch, ServerProcess, ecabinet_server, print_result
from benchmarks.pdf_pipeline import BOOK_DOC_PAGES, make_document, run_direct

TARGET_FIRST_PAGE_S = 1.0
TARGET_RATIO = 0.85
TARGET_BOOK_S = 10.0


def prepare(data_dir: Path) -> tuple[int, str]:
    """A draft meeting and a secretary's API token, written before the server starts."""
    from ecabinet.app import open_database
    from ecabinet.core.settings import Settings
    from ecabinet.services import accounts, packs

    settings = Settings(data_dir=data_dir, secret_key="benchmark-secret-key-0123456789").prepare()
    db = open_database(settings)

    def build(session: Any) -> tuple[int, str]:
        user = accounts.create_user(session, "thuky", uuid.uuid4().hex, "Thư ký đo hiệu năng")
        spec = packs.PackSpec.model_validate({
            "meeting": {"title": "Phiên họp đo hiệu năng tài liệu", "body": "Ủy ban nhân dân"},
            "participants": [{"user": "thuky", "role": "secretary"}],
            "agenda": [{"title": f"Nội dung số {i + 1}"} for i in range(20)],
        })
        meeting = packs.import_pack(session, spec)
        session.flush()
        token = accounts.open_session(session, user, days=1, kind="token")
        assert meeting.id is not None
        return meeting.id, token

    try:
        built: tuple[int, str] = db.run_sync(build)
        return built
    finally:
        db.close()


def upload(http: httpx.Client, meeting_id: int, path: Path, title: str) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = http.post(f"/api/meetings/{meeting_id}/documents",
                             files={"file": (path.name, handle, "application/pdf")},
                             data={"title": title})
    response.raise_for_status()
    document: dict[str, Any] = response.json()["document"]
    return document


def wait_ready(http: httpx.Client, document_id: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/api/documents/{document_id}").json()
        if status["status"] == "ready":
            return time.perf_counter()
        if status["status"] == "failed":
            raise RuntimeError(status["error"])
        time.sleep(0.05)
    raise TimeoutError(f"document {document_id} not ready")


def through_server(server: ServerProcess, meeting_id: int, token: str, pdf: Path, pages: int,
                   book_docs: int, folder: Path) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=600) as http:
        started = time.perf_counter()
        doc = upload(http, meeting_id, pdf, "Báo cáo 300 trang")
        answered = time.perf_counter()
        first = http.get(f"/api/documents/{doc['id']}/pages/1/tablet")
        first.raise_for_status()
        first_page = time.perf_counter() - answered
        done = wait_ready(http, doc["id"])
        result = {
            "upload_answer_s": answered - started,
            "first_page_after_answer_s": first_page,
            "server_seconds": done - answered,
            "server_pages_per_s": pages / (done - answered),
        }
        if book_docs:
            part = make_document(folder / "part.pdf", BOOK_DOC_PAGES, seed=5)
            ids = [upload(http, meeting_id, part, f"Tờ trình số {n + 1}")["id"]
                   for n in range(book_docs)]
            wait_ready(http, ids[-1])
            started = time.perf_counter()
            book = http.get(f"/api/meetings/{meeting_id}/book.pdf")
            book.raise_for_status()
            result["book_http_s"] = time.perf_counter() - started
            import pymupdf

            with pymupdf.open(stream=book.content, filetype="pdf") as built:
                result["book_pages"] = built.page_count
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--book-docs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    scratch = Scratch()
    try:
        folder = scratch.path
        pdf = make_document(folder / "report.pdf", args.pages)
        direct = run_direct(pdf, args.pages, args.workers, folder / "direct")
        shutil.rmtree(folder / "direct", ignore_errors=True)
        data_dir = folder / "data"
        meeting_id, token = prepare(data_dir)
        server = ecabinet_server("server", folder, {
            "ECABINET_DATA_DIR": str(data_dir),
            "ECABINET_SECRET_KEY": "benchmark-secret-key-0123456789",
            "ECABINET_RENDER_WORKERS": str(args.workers),
        })
        server.start()
        try:
            server.wait_ready()
            measured = through_server(server, meeting_id, token, pdf, args.pages,
                                      args.book_docs, folder)
        finally:
            server.stop()
    finally:
        scratch.cleanup()
    ratio = measured["server_pages_per_s"] / direct["pages_per_s"]
    result: dict[str, Any] = {
        "benchmark": "upload_pipeline",
        "pages": args.pages,
        "workers": args.workers,
        "upload_answer_s": round(measured["upload_answer_s"], 3),
        "first_page_after_answer_s": round(measured["first_page_after_answer_s"], 3),
        "server_pages_per_s": round(measured["server_pages_per_s"], 2),
        "direct_pages_per_s": round(direct["pages_per_s"], 2),
        "ratio": round(ratio, 3),
        "book_docs": args.book_docs,
        "book_pages": measured.get("book_pages", 0),
        "book_http_s": round(measured.get("book_http_s", 0.0), 2),
        "targets": {
            "first_page_le_1s": measured["first_page_after_answer_s"] <= TARGET_FIRST_PAGE_S,
            "ratio_ge_0.85": ratio >= TARGET_RATIO,
            "book_le_10s": measured.get("book_http_s", 0.0) <= TARGET_BOOK_S,
        },
    }
    print_result([
        f"upload answered in {result['upload_answer_s']} s; page 1 over HTTP "
        f"{result['first_page_after_answer_s'] * 1000:.0f} ms after the answer",
        f"through the server {result['server_pages_per_s']} pages/s, direct PyMuPDF "
        f"{result['direct_pages_per_s']} pages/s, ratio {result['ratio']}",
        f"pack book of {result['book_pages']} pages over HTTP in {result['book_http_s']} s",
    ], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
