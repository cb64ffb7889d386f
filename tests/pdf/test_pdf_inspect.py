"""inspect_pdf and open_pdf: what is accepted, and the stable code of every refusal."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.inspect import PdfLimits, inspect_pdf, open_pdf

PdfFactory = Callable[..., Path]


def refusal(path: Path, password: str | None = None, limits: PdfLimits | None = None) -> PdfError:
    with pytest.raises(PdfError) as caught:
        inspect_pdf(path, password, limits)
    return caught.value


def test_a_good_pdf_is_described(sample_pdf: Path) -> None:
    info = inspect_pdf(sample_pdf)
    assert info.page_count == 3
    assert info.page_sizes == [(595.0, 842.0)] * 3
    assert not info.encrypted and not info.repaired


def test_page_sizes_are_as_displayed(make_pdf: PdfFactory) -> None:
    info = inspect_pdf(make_pdf(1, rotate=90))
    assert info.page_sizes == [(842.0, 595.0)]


def test_random_bytes_are_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "noise.pdf"
    path.write_bytes(os.urandom(20_000))
    error = refusal(path)
    assert error.code == "not_a_pdf"
    assert error.message == "Tệp không phải PDF hợp lệ (not a valid PDF)."


def test_random_bytes_behind_a_pdf_header_are_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "header.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(20_000))
    assert refusal(path).code == "not_a_pdf"


def test_an_empty_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    assert refusal(path).code == "empty"


def test_a_pdf_without_pages_is_empty(tmp_path: Path) -> None:
    body = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    )
    xref = len(body)
    body += b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    body += b"trailer<</Size 3/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref
    path = tmp_path / "zero.pdf"
    path.write_bytes(body)
    error = refusal(path)
    assert error.code == "empty"
    assert "(the PDF has no pages)" in error.message


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.7])
def test_a_file_cut_short_is_truncated(
    make_pdf: PdfFactory, tmp_path: Path, fraction: float
) -> None:
    data = make_pdf(6).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert refusal(path).code == "truncated"


def test_a_file_missing_only_its_xref_table_is_repaired_and_accepted(
    make_pdf: PdfFactory, tmp_path: Path
) -> None:
    data = make_pdf(3).read_bytes()
    path = tmp_path / "no-xref.pdf"
    path.write_bytes(data[: data.rindex(b"xref")])  # every object is still there
    info = inspect_pdf(path)
    assert info.page_count == 3 and info.repaired


def test_damaged_content_is_refused(make_pdf: PdfFactory, tmp_path: Path) -> None:
    source = pymupdf.open(make_pdf(2))
    contents = source[1].get_contents()[0]
    source.update_stream(contents, b"garbage", compress=False)
    # Claim deflate on bytes that are not: the page's drawing instructions are unreadable.
    source.xref_set_key(contents, "Filter", "/FlateDecode")
    damaged = tmp_path / "damaged.pdf"
    source.save(damaged)
    source.close()
    broken = damaged.read_bytes()
    path = tmp_path / "damaged-cut.pdf"
    path.write_bytes(broken[: broken.rindex(b"xref")] + b"%%EOF\n")  # forces MuPDF to repair
    assert refusal(path).code == "damaged"


def test_user_password(sample_pdf: Path, tmp_path: Path) -> None:
    doc = pymupdf.open(sample_pdf)
    path = tmp_path / "locked.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="mật-khẩu", owner_pw="owner")
    doc.close()
    assert refusal(path).code == "password_required"
    assert refusal(path, "sai").code == "wrong_password"
    info = inspect_pdf(path, "mật-khẩu")
    assert info.page_count == 3 and info.encrypted


def test_owner_password_only_opens(sample_pdf: Path, tmp_path: Path) -> None:
    doc = pymupdf.open(sample_pdf)
    path = tmp_path / "restricted.pdf"
    doc.save(
        path,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        owner_pw="owner",
        permissions=pymupdf.PDF_PERM_ACCESSIBILITY,
    )
    doc.close()
    info = inspect_pdf(path)
    assert info.page_count == 3 and info.encrypted


def test_too_many_pages(make_pdf: PdfFactory) -> None:
    error = refusal(make_pdf(5), limits=PdfLimits(max_pages=4))
    assert error.code == "too_many_pages"
    assert error.details == {"pages": 5}


def test_default_limit_is_2000_pages(tmp_path: Path) -> None:
    doc = pymupdf.open()
    for _ in range(2001):
        doc.new_page(width=100, height=100)
    path = tmp_path / "many.pdf"
    doc.save(path)
    doc.close()
    assert refusal(path).code == "too_many_pages"


def test_absurd_page_size(make_pdf: PdfFactory) -> None:
    error = refusal(make_pdf(1, size=(14_400, 300)))
    assert error.code == "page_too_large"
    assert "(a page is too large)" in error.message
    assert inspect_pdf(make_pdf(1, size=(5000, 300))).page_count == 1


def test_open_pdf_returns_an_unlocked_document(sample_pdf: Path) -> None:
    doc = open_pdf(sample_pdf)
    try:
        assert "Marker0" in doc[0].get_text()
    finally:
        doc.close()


def test_errors_carry_an_http_status() -> None:
    assert PdfError("too_many_pages", "x").status == 413
    assert PdfError("not_a_pdf", "x").to_dict() == {"code": "not_a_pdf", "message": "x"}
