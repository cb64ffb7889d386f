"""sanitize_pdf keeps actions by an allow-list: page jumps and web links stay, nothing else.

Each forbidden action is attached in every place a PDF can carry one (the open action, the
document's, a page's and a form field's additional actions, a link, an outline item, a ``/Next``
chain); afterwards no object of the clean copy holds it, and the ordinary links beside it work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from ecabinet.pdf.sanitize import sanitize_pdf

# name: (the action, a pattern no object of the clean copy may match, the report field)
FORBIDDEN: dict[str, tuple[str, str, str]] = {
    "GoToR to a share": (
        r"<</S/GoToR/F(\\\\fileserver\\share\\minutes.pdf)/D[0/Fit]>>", r"/GoToR|fileserver",
        "external_links",
    ),
    "GoToR by URL": (
        "<</S/GoToR/F<</FS/URL/F(smb://fileserver/share/x.pdf)>>/D[0/Fit]>>", r"/GoToR|smb:",
        "external_links",
    ),
    "GoToE": ("<</S/GoToE/T<</R/C/N(secret.pdf)>>/D[0/Fit]>>", r"/GoToE", "external_links"),
    "Thread": ("<</S/Thread/F(other.pdf)/D 0>>", r"/Thread", "external_links"),
    "URI file": ("<</S/URI/URI(file:///etc/passwd)>>", r"file:", "external_links"),
    "URI UNC": (r"<</S/URI/URI(\\\\fileserver\\share)>>", r"fileserver", "external_links"),
    "URI javascript": (
        "<</S/URI/URI( Java\tScript:app.alert\\(1\\))>>", r"(?i)java(\s|\\t)*script:",
        "external_links",
    ),
    "URI relative": ("<</S/URI/URI(../../renditions/p1.jpg)>>", r"renditions", "external_links"),
    "URI smb": ("<</S/URI/URI(smb://fileserver/share)>>", r"smb:", "external_links"),
    "Launch": ("<</S/Launch/F(calc.exe)>>", r"/Launch|calc\.exe", "launch"),
    "JavaScript": ("<</S/JavaScript/JS(app.alert\\(1\\))>>", r"/JavaScript|/JS\b", "javascript"),
    "SubmitForm": ("<</S/SubmitForm/F(http://127.0.0.1/collect)>>", r"/SubmitForm", "submit_form"),
    "ImportData": ("<</S/ImportData/F(data.fdf)>>", r"/ImportData", "import_data"),
    "Sound": ("<</S/Sound/Sound<</R 8000>>>>", r"/Sound", "media"),
    "Movie": ("<</S/Movie/T(clip)/Operation/Play>>", r"/Movie", "media"),
    "Rendition": ("<</S/Rendition/OP 0/R<</S/MR/N(clip)>>>>", r"/Rendition", "media"),
    "RichMediaExecute": (
        "<</S/RichMediaExecute/CMD<</C(play)>>>>", r"/RichMediaExecute", "media",
    ),
    "GoTo3DView": ("<</S/GoTo3DView/V/D>>", r"/GoTo3DView", "media"),
    "Hide": ("<</S/Hide/T(name)/H true>>", r"/Hide", "other_actions"),
    "ResetForm": ("<</S/ResetForm>>", r"/ResetForm", "other_actions"),
    "SetOCGState": ("<</S/SetOCGState/State[/OFF]>>", r"/SetOCGState", "other_actions"),
    "Trans": ("<</S/Trans/Trans<</S/Dissolve>>>>", r"/S/Trans", "other_actions"),
    "Named Print": ("<</S/Named/N/Print>>", r"/Print", "other_actions"),
    "unknown type": ("<</S/MakeCoffee/Strength 3>>", r"/MakeCoffee", "other_actions"),
}

Attach = Callable[[pymupdf.Document, str], None]


def add_object(doc: pymupdf.Document, source: str) -> int:
    xref = doc.get_new_xref()
    doc.update_object(xref, source)
    return int(xref)


def add_annot(doc: pymupdf.Document, page: pymupdf.Page, source: str) -> int:
    xref = add_object(doc, source)
    kind, value = doc.xref_get_key(page.xref, "Annots")
    annots = value[1:-1] if kind == "array" else ""
    doc.xref_set_key(page.xref, "Annots", f"[{annots} {xref} 0 R]")
    return xref


def open_action(doc: pymupdf.Document, action: str) -> None:
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{add_object(doc, action)} 0 R")


def document_aa(doc: pymupdf.Document, action: str) -> None:
    doc.xref_set_key(doc.pdf_catalog(), "AA", f"<</WC {add_object(doc, action)} 0 R>>")


def page_aa(doc: pymupdf.Document, action: str) -> None:
    doc.xref_set_key(doc[1].xref, "AA", f"<</O {action}>>")


def link(doc: pymupdf.Document, action: str) -> None:
    add_annot(doc, doc[0], f"<</Type/Annot/Subtype/Link/Rect[0 0 20 20]/Border[0 0 0]/A {action}>>")


def outline(doc: pymupdf.Document, action: str) -> None:
    doc.xref_set_key(doc.get_outline_xrefs()[1], "A", f"{add_object(doc, action)} 0 R")


def chain(doc: pymupdf.Document, action: str) -> None:
    # An allowed jump whose /Next chain carries the forbidden action: the jump stays.
    jump = f"<</S/GoTo/D[{doc[1].xref} 0 R/Fit]/Next[{action}]>>"
    add_annot(doc, doc[0], f"<</Type/Annot/Subtype/Link/Rect[0 30 20 50]/A {jump}>>")


def field_aa(doc: pymupdf.Document, action: str) -> None:
    # A parent field is no annotation; its additional actions sit in an object of their own.
    triggers = add_object(doc, f"<</K {action}/F {add_object(doc, action)} 0 R>>")
    parent = add_object(doc, f"<</FT/Tx/T(parent)/AA {triggers} 0 R/Kids[]>>")
    doc.xref_set_key(doc.pdf_catalog(), "AcroForm", f"<</Fields[{parent} 0 R]>>")


PLACES: dict[str, Attach] = {
    "open action": open_action,
    "document AA": document_aa,
    "page AA": page_aa,
    "link": link,
    "outline item": outline,
    "Next chain": chain,
    "form field AA": field_aa,
}


def with_allowed_links() -> pymupdf.Document:
    """Two pages with the links that must survive: web, internal jump, page turn, bookmarks."""
    doc = pymupdf.open()
    for number in (1, 2):
        doc.new_page().insert_text((72, 72), f"Page text {number}")
    page = doc[0]
    page.insert_link({"kind": pymupdf.LINK_URI, "uri": "https://example.org/a",
                      "from": pymupdf.Rect(100, 0, 150, 20)})
    page.insert_link({"kind": pymupdf.LINK_URI, "uri": "http://example.org/b",
                      "from": pymupdf.Rect(160, 0, 210, 20)})
    page.insert_link({"kind": pymupdf.LINK_GOTO, "page": 1, "from": pymupdf.Rect(220, 0, 270, 20)})
    add_annot(doc, page, "<</Type/Annot/Subtype/Link/Rect[280 0 330 20]/A<</S/Named/N/NextPage>>>>")
    doc.set_toc([[1, "Một", 1], [1, "Hai", 2]])
    return doc


def objects_text(path: Path) -> str:
    doc = pymupdf.open(path)
    try:
        return "\n".join(doc.xref_object(x, compressed=True) for x in range(1, doc.xref_length()))
    finally:
        doc.close()


def assert_allowed_links_stay(path: Path) -> None:
    doc = pymupdf.open(path)
    try:
        links = doc[0].get_links()
        uris = [entry.get("uri") for entry in links if entry["kind"] == pymupdf.LINK_URI]
        assert "https://example.org/a" in uris and "http://example.org/b" in uris
        assert any(entry["kind"] == pymupdf.LINK_GOTO and entry["page"] == 1 for entry in links)
        assert [entry[1] for entry in doc.get_toc()] == ["Một", "Hai"]
        assert doc[1].get_text().strip() == "Page text 2"
    finally:
        doc.close()
    assert re.search(r"/S\s*/Named\s*/N\s*/NextPage", objects_text(path))


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", FORBIDDEN)
def test_a_forbidden_action_is_removed_wherever_it_is_attached(
    tmp_path: Path, name: str, place: str
) -> None:
    action, pattern, field = FORBIDDEN[name]
    doc = with_allowed_links()
    PLACES[place](doc, action)
    src, dst = tmp_path / "hostile.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    doc.close()
    assert re.search(pattern, objects_text(src))  # the hostile file does carry it
    report = sanitize_pdf(src, dst)
    assert not re.search(pattern, objects_text(dst))
    assert getattr(report, field) >= 1 and report.removed >= 1
    assert_allowed_links_stay(dst)


def test_allowed_actions_are_kept_and_nothing_is_counted(tmp_path: Path) -> None:
    doc = with_allowed_links()
    open_action(doc, f"<</S/GoTo/D[{doc[1].xref} 0 R/FitH 800]>>")
    chain(doc, "<</S/URI/URI(https://example.org/next)>>")
    link(doc, "<</S/Named/N/LastPage>>")
    src, dst = tmp_path / "plain.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    doc.close()
    report = sanitize_pdf(src, dst)
    assert report.removed == 0
    text = objects_text(dst)
    assert "/OpenAction" in text and "https://example.org/next" in text and "/LastPage" in text
    assert_allowed_links_stay(dst)


@pytest.mark.parametrize("subtype", ["Sound", "Movie", "Screen", "3D", "RichMedia"])
def test_media_annotations_are_removed_whole(tmp_path: Path, subtype: str) -> None:
    doc = with_allowed_links()
    clip = add_object(doc, "<</Length 0>>")
    doc.update_stream(clip, b"RIFF-not-really-a-sound-or-a-movie")
    add_annot(doc, doc[0], f"<</Type/Annot/Subtype/{subtype}/Rect[0 100 50 150]/Sound {clip} 0 R"
                           f"/Movie<</F(movie.mpg)>>/3DD {clip} 0 R/RichMediaContent<<>>>>")
    doc[0].add_text_annot((300, 300), "Ghi chú")  # an ordinary note stays
    src, dst = tmp_path / "media.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    doc.close()
    report = sanitize_pdf(src, dst)
    assert report.media == 1 and report.removed == 1
    clean = pymupdf.open(dst)
    assert [annot.type[1] for annot in clean[0].annots()] == ["Text"]
    clean.close()
    assert f"/Subtype/{subtype}" not in objects_text(dst).replace(" ", "")
    assert b"RIFF-not-really" not in dst.read_bytes()
    assert_allowed_links_stay(dst)


def test_actions_named_through_references_and_shared_objects(tmp_path: Path) -> None:
    doc = with_allowed_links()
    kind = add_object(doc, "/GoToR")
    shared = add_object(doc, f"<</S {kind} 0 R/F(\\\\\\\\fileserver\\\\x.pdf)/D[0/Fit]>>")
    # The same hostile object is the open action, a link's action and a page's open action.
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{shared} 0 R")
    link(doc, f"{shared} 0 R")
    doc.xref_set_key(doc[1].xref, "AA", f"<</O {shared} 0 R>>")
    src, dst = tmp_path / "shared.pdf", tmp_path / "clean.pdf"
    doc.save(src, use_objstms=1, deflate=True)
    doc.close()
    report = sanitize_pdf(src, dst)
    assert report.external_links == 1  # one object, counted once
    text = objects_text(dst)
    assert "fileserver" not in text and "/OpenAction" not in text
    assert_allowed_links_stay(dst)


def test_structure_and_outline_entries_are_not_taken_for_actions(tmp_path: Path) -> None:
    # /S also names structure types and transitions, /A a structure element's attributes and
    # /Next an outline item's sibling: none of them is an action, all of them stay.
    doc = with_allowed_links()
    element = add_object(doc, "<</Type/StructElem/S/P/A<</O/Layout/Placement/Block>>>>")
    root = f"<</Type/StructTreeRoot/K {element} 0 R>>"
    doc.xref_set_key(doc.pdf_catalog(), "StructTreeRoot", root)
    doc.xref_set_key(doc[1].xref, "Trans", "<</Type/Trans/S/Dissolve/D 1>>")
    src, dst = tmp_path / "tagged.pdf", tmp_path / "clean.pdf"
    doc.save(src)
    doc.close()
    report = sanitize_pdf(src, dst)
    assert report.removed == 0
    text = objects_text(dst).replace(" ", "")
    assert "/Placement/Block" in text and "/S/Dissolve" in text
    assert_allowed_links_stay(dst)
