"""strip_external_references: references out of the package go, everything else stays as it was."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ecabinet.services.documents.office_refs import (
    StripReport,
    UnsafeOfficeFile,
    strip_external_references,
)
from tests.documents import hostile_office as h


def strip(tmp_path: Path, data: bytes, kind: str) -> tuple[StripReport, zipfile.ZipFile]:
    src, dst = tmp_path / f"in.{kind}", tmp_path / f"out.{kind}"
    src.write_bytes(data)
    report = strip_external_references(src, dst, kind)
    return report, zipfile.ZipFile(dst)


def text(archive: zipfile.ZipFile, name: str) -> str:
    return archive.read(name).decode("utf-8")


def test_external_relationships_go_and_web_hyperlinks_stay(tmp_path: Path) -> None:
    rels = [
        ("rId1", h.IMAGE, "http://127.0.0.1:9/a.png", "External"),
        ("rId2", h.IMAGE, "file:///srv/data/renditions/ab/p00001-tablet.jpg", "External"),
        ("rId3", h.IMAGE, "../../renditions/p.jpg", "External"),
        ("rId4", h.HYPERLINK, "https://chinhphu.vn/", "External"),
        ("rId5", h.HYPERLINK, "mailto:vanthu@example.vn", "External"),
        ("rId6", h.HYPERLINK, "file:///etc/passwd", "External"),
        ("rId7", h.HYPERLINK, r"\\fileserver\share\a.docx", "External"),
        ("rId8", f"{h.R}/oleObject", "http://127.0.0.1:9/ole.xlsx", "External"),
        ("rId9", f"{h.R}/attachedTemplate", "file:///templates/normal.dotm", "External"),
        ("rId10", h.IMAGE, "media/image1.png", ""),
        ("rId11", h.IMAGE, "/word/media/image1.png", ""),
        ("rId12", h.IMAGE, "../../../outside.png", ""),
        ("rId13", h.IMAGE, "file:///srv/data/x.png", ""),
        ("rId14", h.IMAGE, "media\\..\\..\\x.png", ""),
        ("rId15", h.IMAGE, "%2e%2e/%2e%2e/x.png", ""),
    ]
    data = h.docx(h.para("Xin chào"), rels, extra={"word/media/image1.png": h.picture()})
    report, out = strip(tmp_path, data, "docx")
    kept = text(out, "word/_rels/document.xml.rels")
    for rid in ("rId4", "rId5", "rId10", "rId11"):
        assert f'Id="{rid}"' in kept
    for rid in ("rId1", "rId2", "rId3", "rId6", "rId7", "rId8", "rId9", "rId12", "rId13",
                "rId14", "rId15"):
        assert f'Id="{rid}"' not in kept
    assert report.relationships == 11 and report.removed == 11
    assert "word/document.xml" in text(out, "_rels/.rels")  # the package's own rels are intact
    assert out.read("word/media/image1.png") == h.picture()


def test_fetching_fields_are_emptied_and_others_stay(tmp_path: Path) -> None:
    body = (
        h.simple_field(' INCLUDEPICTURE "http://127.0.0.1:9/a.png" \\d ')
        + h.simple_field(" PAGE ", result="7")
        + h.complex_field(" INCLUDE", 'TEXT "C:\\\\data\\\\secret.docx" ')
        + h.complex_field(' LINK Excel.Sheet.12 "file:///srv/x.xlsx" "Sheet1" \\a ')
        + h.complex_field(" MERGEFIELD ", "HoTen ", result="«HoTen»")
        + h.complex_field(" ddeauto excel ", '"c:\\\\x.xlsx" ')
    )
    report, out = strip(tmp_path, h.docx(body), "docx")
    document = text(out, "word/document.xml")
    for gone in ("INCLUDEPICTURE", "127.0.0.1", "INCLUDE", "secret.docx", "LINK", "file:",
                 "ddeauto"):
        assert gone not in document
    assert "PAGE" in document and "MERGEFIELD" in document and "HoTen" in document
    assert document.count("kết quả cũ") == 4  # each field shows the result it was saved with
    assert report.fields == 4
    # Prefixes, declarations and mc:Ignorable are written as they were.
    assert 'mc:Ignorable="w14"' in document and "<w:body>" in document
    assert f'xmlns:w="{h.W}"' in document


def test_opendocument_links_leaving_the_package_go(tmp_path: Path) -> None:
    body = (
        h.odt_image("http://127.0.0.1:9/a.png")
        + h.odt_image("file:///srv/data/renditions/ab/p00001-tablet.jpg")
        + h.odt_image("../../renditions/p00001-tablet.jpg")
        + h.odt_image("/srv/data/renditions/p.jpg")
        + h.odt_image("Pictures/inside.png")
        + '<text:p xml:base="file:///srv/data/"><text:a xlink:href="https://chinhphu.vn/">web'
        '</text:a><text:a xlink:href="file:///etc/passwd">tệp</text:a>'
        '<text:a xlink:href="#Mục_2">mục</text:a></text:p>'
        '<text:section text:name="S"><text:section-source xlink:href="file:///srv/s.odt"/>'
        "<text:p>đã lưu</text:p></text:section>"
    )
    settings = ('<config:config-item config:name="LinkUpdateMode" config:type="short">2'
                '</config:config-item><config:config-item config:name="PrintTables" '
                'config:type="boolean">true</config:config-item>')
    meta = '<meta:template xlink:href="http://127.0.0.1:9/t.ott" xlink:title="mẫu"/>'
    data = h.odt(body, settings=settings, meta=meta,
                 extra={"Pictures/inside.png": h.picture()})
    report, out = strip(tmp_path, data, "odt")
    content = text(out, "content.xml")
    for gone in ("127.0.0.1", "file:", "../", "/srv/", "xml:base"):
        assert gone not in content
    assert 'xlink:href="Pictures/inside.png"' in content
    assert 'xlink:href="https://chinhphu.vn/"' in content and 'xlink:href="#Mục_2"' in content
    assert "đã lưu" in content
    assert "LinkUpdateMode" not in text(out, "settings.xml")
    assert "PrintTables" in text(out, "settings.xml")
    assert "127.0.0.1" not in text(out, "meta.xml") and "mẫu" in text(out, "meta.xml")
    assert report.links == 8 and report.settings == 1
    assert out.infolist()[0].filename == "mimetype"
    assert out.infolist()[0].compress_type == zipfile.ZIP_STORED


def test_an_office_file_inside_another_is_cleaned_too(tmp_path: Path) -> None:
    inner = h.docx_linked_picture("http://127.0.0.1:9/inner.png")
    outer = h.docx(h.para("Bảng tính nhúng"),
                   extra={"word/embeddings/Microsoft_Word_Document.docx": inner})
    report, out = strip(tmp_path, outer, "docx")
    assert report.relationships == 1
    nested = tmp_path / "nested.docx"
    nested.write_bytes(out.read("word/embeddings/Microsoft_Word_Document.docx"))
    with zipfile.ZipFile(nested) as archive:
        assert "127.0.0.1" not in text(archive, "word/_rels/document.xml.rels")


def test_a_clean_file_is_copied_byte_for_byte(tmp_path: Path) -> None:
    data = h.docx(h.para("Không có gì ra ngoài"), [("rId4", h.HYPERLINK, "https://a.vn/",
                                                    "External")])
    src, dst = tmp_path / "in.docx", tmp_path / "out.docx"
    src.write_bytes(data)
    assert strip_external_references(src, dst, "docx").removed == 0
    assert dst.read_bytes() == data


@pytest.mark.parametrize(
    ("part", "content"),
    [
        ("word/_rels/document.xml.rels",
         '<!DOCTYPE r [<!ENTITY x "y">]><Relationships xmlns="h">&x;</Relationships>'),
        ("word/_rels/document.xml.rels", "<Relationships><unclosed></Relationships>"),
        ("word/document.xml", '<!DOCTYPE w [<!ENTITY a "instr">]><w:document/>'),
    ],
)
def test_parts_that_cannot_be_checked_refuse_the_file(
    tmp_path: Path, part: str, content: str
) -> None:
    data = h.docx(h.para("x"), extra={part: content})
    src, dst = tmp_path / "in.docx", tmp_path / "out.docx"
    src.write_bytes(data)
    with pytest.raises(UnsafeOfficeFile):
        strip_external_references(src, dst, "docx")


def test_a_damaged_package_is_refused(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.odt", tmp_path / "out.odt"
    src.write_bytes(h.odt_linked_picture("http://x/")[:300])
    with pytest.raises(UnsafeOfficeFile):
        strip_external_references(src, dst, "odt")


def test_legacy_and_rtf_files_are_copied_unchanged(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.rtf", tmp_path / "out.rtf"
    src.write_bytes(b"{\\rtf1\\ansi Xin chao}")
    assert strip_external_references(src, dst, "rtf").removed == 0
    assert dst.read_bytes() == src.read_bytes()
