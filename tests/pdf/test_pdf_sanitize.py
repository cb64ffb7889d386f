"""sanitize_pdf: hostile documents built here come out without scripts, launches or files."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest

from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.sanitize import sanitize_pdf

FORBIDDEN = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/SubmitForm", b"/ImportData")


def assert_clean(path: Path) -> None:
    """Check the bytes and, through MuPDF, every object (nothing hides in object streams)."""
    raw = path.read_bytes()
    for token in FORBIDDEN:
        assert token not in raw, token
    doc = pymupdf.open(path)
    try:
        assert not doc.is_encrypted
        assert doc.embfile_count() == 0
        for xref in range(1, doc.xref_length()):
            text = doc.xref_object(xref, compressed=True)
            assert not re.search(r"/(JavaScript|JS|Launch|EmbeddedFiles?|SubmitForm)\b", text)
        for page in doc:
            for annot in page.annots():
                assert annot.type[1] != "FileAttachment"
    finally:
        doc.close()


def new_doc(pages: int = 2) -> pymupdf.Document:
    doc = pymupdf.open()
    for number in range(pages):
        doc.new_page().insert_text((72, 72), f"Page text {number + 1}")
    return doc


def add_object(doc: pymupdf.Document, source: str) -> int:
    xref = doc.get_new_xref()
    doc.update_object(xref, source)
    return int(xref)


def test_open_action_javascript(tmp_path: Path) -> None:
    doc = new_doc()
    script = add_object(doc, "<</S/JavaScript/JS(app.alert\\('hi'\\))>>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{script} 0 R")
    src, dst = tmp_path / "open.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    assert b"/JavaScript" in src.read_bytes()
    report = sanitize_pdf(src, dst)
    assert report.javascript == 1 and report.removed == 1
    assert_clean(dst)
    clean = pymupdf.open(dst)
    assert clean.page_count == 2 and "Page text 2" in clean[1].get_text()
    clean.close()


def test_document_level_scripts_in_the_names_tree(tmp_path: Path) -> None:
    doc = new_doc()
    script = add_object(doc, "<</S/JavaScript/JS(this.print\\(\\))>>")
    tree = f"<</JavaScript<</Names[(a) {script} 0 R (b) <</S/JavaScript/JS(x)>>]>>>>"
    doc.xref_set_key(doc.pdf_catalog(), "Names", tree)
    src, dst = tmp_path / "names.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    report = sanitize_pdf(src, dst)
    assert report.javascript == 2 and report.names_trees == 1
    assert_clean(dst)


def test_embedded_files_and_attachment_annotations(tmp_path: Path) -> None:
    doc = new_doc()
    doc.embfile_add("payload.exe", b"MZ-not-really-a-program", filename="payload.exe")
    doc[0].add_file_annot(pymupdf.Point(100, 100), b"attached secret", "secret.txt")
    src, dst = tmp_path / "files.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    report = sanitize_pdf(src, dst)
    assert report.embedded_files == 2
    assert report.file_attachments == 1
    assert_clean(dst)
    raw = dst.read_bytes()
    assert b"MZ-not-really" not in raw and b"attached secret" not in raw


def test_annotation_and_field_actions(tmp_path: Path) -> None:
    doc = new_doc()
    page = doc[0]
    page.insert_link(
        {"kind": pymupdf.LINK_LAUNCH, "file": "calc.exe", "from": pymupdf.Rect(0, 0, 50, 50)}
    )
    page.insert_link(
        {
            "kind": pymupdf.LINK_URI,
            "uri": "https://example.org/",
            "from": pymupdf.Rect(60, 0, 90, 50),
        }
    )
    widget = pymupdf.Widget()
    widget.field_type = pymupdf.PDF_WIDGET_TYPE_TEXT
    widget.field_name = "name"
    widget.rect = pymupdf.Rect(100, 200, 300, 230)
    widget.script_change = "app.launchURL('http://evil')"
    page.add_widget(widget)
    submit = "<</Type/Annot/Subtype/Link/Rect[0 60 10 70]/A<</S/SubmitForm/F(http://x)>>>>"
    imports = "<</Type/Annot/Subtype/Link/Rect[0 80 10 90]/A<</S/ImportData/F(data.fdf)>>>>"
    annots = [add_object(doc, submit), add_object(doc, imports)]
    kind, value = doc.xref_get_key(page.xref, "Annots")
    assert kind == "array"
    doc.xref_set_key(page.xref, "Annots", value[:-1] + " ".join(f" {x} 0 R" for x in annots) + "]")
    src, dst = tmp_path / "actions.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    report = sanitize_pdf(src, dst)
    assert report.launch == 1 and report.submit_form == 1 and report.import_data == 1
    assert report.javascript >= 1
    assert_clean(dst)
    clean = pymupdf.open(dst)
    uris = [link.get("uri") for link in clean[0].get_links()]
    assert uris.count("https://example.org/") == 1  # ordinary hyperlinks stay
    assert [w.field_name for w in clean[0].widgets()] == ["name"]  # the field stays, inert
    clean.close()


def test_actions_hidden_in_compressed_object_streams(tmp_path: Path) -> None:
    doc = new_doc()
    doc.xref_set_key(doc[1].xref, "AA", "<</O<</S/JavaScript/JS(app.alert\\(5\\))>>>>")
    # The action's type sits behind a reference, so the action object never spells /Launch.
    name = add_object(doc, "/Launch")
    action = add_object(doc, f"<</S {name} 0 R/F(cmd.exe)>>")
    doc.set_toc([[1, "Mục lục", 1]])
    doc.xref_set_key(doc.get_outline_xrefs()[0], "A", f"{action} 0 R")
    chained = add_object(doc, "<</S/JavaScript/JS(y)>>")
    doc.xref_set_key(doc[0].xref, "AA", f"<</C<</S/GoTo/D[0 /Fit]/Next {chained} 0 R>>>>")
    src, dst = tmp_path / "compressed.pdf", tmp_path / "clean.pdf"
    doc.save(src, use_objstms=1, deflate=True)
    assert b"/JavaScript" not in src.read_bytes()  # invisible to a byte search
    report = sanitize_pdf(src, dst)
    assert report.javascript == 2 and report.launch == 1
    assert_clean(dst)
    clean = pymupdf.open(dst)
    assert [entry[1] for entry in clean.get_toc()] == ["Mục lục"]  # the bookmark stays
    clean.close()


def test_names_spelled_with_hex_escapes(tmp_path: Path) -> None:
    doc = new_doc()
    script = add_object(doc, "<</S/JavaScript/JS(app.alert\\(1\\))>>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{script} 0 R")
    plain = tmp_path / "plain.pdf"
    doc.save(plain)
    src, dst = tmp_path / "escaped.pdf", tmp_path / "clean.pdf"
    # /Java#53cript is /JavaScript to every PDF reader; offsets shift, so MuPDF repairs the file.
    src.write_bytes(plain.read_bytes().replace(b"/S/JavaScript", b"/S/Java#53cript"))
    assert b"/JavaScript" not in src.read_bytes()
    report = sanitize_pdf(src, dst)
    assert report.javascript == 1
    assert_clean(dst)


def test_xfa_forms_are_removed(tmp_path: Path) -> None:
    doc = new_doc()
    xfa = add_object(doc, "<</Length 0>>")
    doc.update_stream(xfa, b"<xdp:xdp><script>app.alert(1)</script></xdp:xdp>")
    doc.xref_set_key(doc.pdf_catalog(), "AcroForm", f"<</Fields[]/XFA {xfa} 0 R>>")
    src, dst = tmp_path / "xfa.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    report = sanitize_pdf(src, dst)
    assert report.xfa_forms == 1
    assert b"<xdp:xdp>" not in dst.read_bytes()


def test_encrypted_input_is_decrypted(tmp_path: Path) -> None:
    doc = new_doc()
    src, dst = tmp_path / "locked.pdf", tmp_path / "clean.pdf"
    doc.save(src, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    with pytest.raises(PdfError) as caught:
        sanitize_pdf(src, dst)
    assert caught.value.code == "password_required"
    assert not dst.exists()
    report = sanitize_pdf(src, dst, password="u")
    assert report.decrypted and report.removed == 0 and report.page_count == 2
    clean = pymupdf.open(dst)
    assert not clean.needs_pass and not clean.is_encrypted
    assert "Page text 1" in clean[0].get_text()
    clean.close()


def test_a_clean_document_is_copied_unchanged(tmp_path: Path) -> None:
    doc = new_doc(3)
    doc.set_toc([[1, "Một", 1], [1, "Hai", 2]])
    src, dst = tmp_path / "plain.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    report = sanitize_pdf(src, dst)
    assert report.removed == 0
    clean = pymupdf.open(dst)
    assert clean.page_count == 3 and [t[1] for t in clean.get_toc()] == ["Một", "Hai"]
    clean.close()


def test_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    src = tmp_path / "same.pdf"
    new_doc().save(src)
    with pytest.raises(ValueError):
        sanitize_pdf(src, src)
