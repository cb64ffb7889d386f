"""Office files: recognised by their bytes, converted by LibreOffice when it is installed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecabinet.core.errors import InvalidInput
from ecabinet.services.documents.conversion import Converter, detect_type
from tests.documents import samples
from tests.documents.conftest import Api, alive, fake_program, picture, require_soffice
from tests.waiting import wait_until


@pytest.fixture
def database_url() -> None:
    return None


@pytest.mark.parametrize(
    ("data", "filename", "kind"),
    [
        (samples.pdf(1), "no-extension", "pdf"),
        (b"junk before the header " + samples.pdf(1), "a.pdf", "pdf"),
        (samples.docx("Xin chào"), "van-ban.pdf", "docx"),  # the name does not decide
        (samples.ooxml("xl/workbook.xml"), "bang.xlsx", "xlsx"),
        (samples.ooxml("ppt/presentation.xml"), "trinh-chieu", "pptx"),
        (samples.odf("application/vnd.oasis.opendocument.text"), "a.zip", "odt"),
        (samples.odf("application/vnd.oasis.opendocument.spreadsheet"), "a", "ods"),
        (samples.ole2("WordDocument"), "cu.bin", "doc"),
        (samples.ole2("Workbook"), "cu", "xls"),
        (samples.ole2("PowerPoint Document"), "cu", "ppt"),
        (b"{\\rtf1\\ansi Xin chao}", "a.txt", "rtf"),
        (samples.ooxml("something/else.xml"), "a.docx", None),
        (samples.random_bytes(), "a.docx", None),
        (b"PK\x03\x04 not really a zip", "a.docx", None),
    ],
)
def test_the_type_is_decided_by_the_bytes(tmp_path: Path, data: bytes, filename: str,
                                          kind: str | None) -> None:
    path = tmp_path / "upload"
    path.write_bytes(data)
    assert detect_type(path, filename) == kind


def test_a_conversion_that_hangs_is_killed_with_its_whole_process_group(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    # Like soffice, the fake starts a helper process and then never finishes. Outside the jail
    # (ECABINET_CONVERT_UNJAILED), where the fake can tell its process ids, and without the
    # reference check, whose own process would share the second; the jailed case is in
    # test_conversion_jail.py.
    program = fake_program(tmp_path, f"sleep 300 & echo $! > {pids}\necho $$ >> {pids}\nwait")
    converter = Converter(program, timeout=1.0, jail=None, strip=False)
    source = tmp_path / "a.docx"
    source.write_bytes(samples.docx("x"))
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        converter.to_pdf(source, "docx", work)
    assert caught.value.code == "conversion_timeout"
    assert time.monotonic() - started < 10
    for pid in (int(p) for p in pids.read_text().split()):
        wait_until(lambda pid=pid: not alive(pid),
                   f"process {pid} of the conversion ends after its time limit", timeout=5)


def test_a_conversion_that_produces_nothing_is_a_clear_failure(tmp_path: Path) -> None:
    converter = Converter(fake_program(tmp_path, "exit 1"), timeout=10)
    source = tmp_path / "a.docx"
    source.write_bytes(samples.docx("x"))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidInput) as caught:
        converter.to_pdf(source, "docx", work)
    assert caught.value.code == "conversion_failed"


def test_a_word_file_is_converted_and_rendered(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    require_soffice()
    secretary = as_user("thuky")
    response = secretary.upload(room["meeting_id"], samples.docx("Nghị quyết số 12 về ngân sách"),
                                filename="Nghi_quyet 12.docx")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["file"]["source_type"] == "docx" and body["document"]["page_count"] >= 1
    assert body["document"]["title"] == "Nghi quyet 12"
    doc = body["document"]
    assert secretary.rendered(doc["id"], timeout=60)["status"] == "ready"
    text = secretary.get(f"/api/documents/{doc['id']}/pages/1/text").json()
    words = [w[4] for w in text["words"]]
    assert "Nghị" in words and "quyết" in words
    download = secretary.get(f"/api/documents/{doc['id']}/file")
    assert download.content.startswith(b"%PDF-")
    assert re.search(r"Nghi_quyet%2012\.pdf", download.headers["content-disposition"])
    assert picture(app)["tmp_files"] == []  # the profile folder and the staged copy are gone
