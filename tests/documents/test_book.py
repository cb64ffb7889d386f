"""The meeting pack book over HTTP: what each participant's book holds, built once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymupdf
import pytest
from sqlmodel import select

from ecabinet.services import audit
from ecabinet.storage.models import AgendaItem, AuditRecord
from tests.documents import samples
from tests.documents.conftest import Api


def items(app: Any) -> dict[str, int]:
    def load(session: Any) -> dict[str, int]:
        return {i.title: int(i.id) for i in session.exec(select(AgendaItem)).all()}

    return dict(app.runtime.db.run_sync(load))


def book_text(data: bytes) -> tuple[int, str, list[list[Any]]]:
    with pymupdf.open(stream=data, filetype="pdf") as book:
        return book.page_count, "\n".join(p.get_text() for p in book), book.get_toc()


@pytest.fixture
def database_url() -> None:
    return None  # the book reads a few rows; SQLite alone keeps this slow test single


@pytest.mark.slow
def test_each_participant_gets_the_book_they_may_read(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    ids = items(app)
    secretary = as_user("thuky")
    mid = room["meeting_id"]
    secretary.uploaded(mid, samples.pdf(3, marker="Thu"), title="Báo cáo thu",
                       item_id=ids["Thu ngân sách"])
    secretary.uploaded(mid, samples.pdf(2, marker="Chi"), title="Báo cáo chi",
                       item_id=ids["Chi ngân sách"])
    secretary.uploaded(mid, samples.pdf(2, marker="Nhansu"), title="Đề án nhân sự",
                       item_id=ids["Nhân sự lãnh đạo"])
    secretary.uploaded(mid, samples.pdf(1, marker="Mat"), title="Danh sách mật",
                       confidential=True)
    secretary.uploaded(mid, samples.pdf(1, marker="Phuluc"), title="Phụ lục chung")

    delegate = as_user("daibieu1")
    response = delegate.get(f"/api/meetings/{mid}/book.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pages, text, toc = book_text(response.content)
    # Cover, one agenda page, 3 + 2 pages, a placeholder for each confidential document, 1.
    assert pages == 1 + 1 + 3 + 2 + 1 + 1 + 1
    for marker in ("Thu1", "Thu3", "Chi2", "Phuluc1"):
        assert marker in text
    assert "Nhansu" not in text and "Mat1" not in text
    assert text.count("TÀI LIỆU MẬT") == 2 and "Đề án nhân sự" in text
    assert "Mục 2.1 · trang 3/10" in text
    assert "Phiên họp thử nghiệm trực tuyến" in text
    titles = [entry[1] for entry in toc]
    assert "Mục 2.1. Thu ngân sách" in titles and "Mục PL. Tài liệu khác" in titles

    observer = as_user("quansat")
    seen = observer.get(f"/api/meetings/{mid}/book.pdf")
    pages, text, toc = book_text(seen.content)
    assert pages == 1 + 1 + 3 + 2 + 1
    assert "TÀI LIỆU MẬT" not in text and "Đề án nhân sự" not in text
    assert "Danh sách mật" not in text and "Nhân sự lãnh đạo" not in text
    assert "Nội dung mật" in text  # the confidential item keeps its place, not its title
    assert seen.headers["etag"] != response.headers["etag"]

    again = delegate.get(f"/api/meetings/{mid}/book.pdf",
                         **{"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    books = list((app.runtime.settings.data_dir / "books").glob("*.pdf"))
    assert len(books) == 2  # one per variant, built once

    secretary.uploaded(mid, samples.pdf(1, marker="Moi"), title="Bổ sung")
    changed = delegate.get(f"/api/meetings/{mid}/book.pdf",
                           **{"If-None-Match": response.headers["etag"]})
    assert changed.status_code == 200 and "Moi1" in book_text(changed.content)[1]

    assert as_user("nguoingoai").get(f"/api/meetings/{mid}/book.pdf").status_code == 404

    def exports(session: Any) -> int:
        return len(session.exec(select(AuditRecord).where(
            AuditRecord.action == audit.EXPORT)).all())

    assert app.runtime.db.run_sync(exports) == 3
