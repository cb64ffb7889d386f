"""Files the document tests upload, generated here (nothing binary is shipped with the tests)."""

from __future__ import annotations

import io
import os
import random
import struct
import zipfile
import zlib

import pymupdf
from PIL import Image, ImageDraw

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import find_font

VIETNAMESE = nfc("Nghị quyết về phát triển kinh tế - xã hội tỉnh")


def _photo() -> bytes:
    image = Image.new("RGB", (160, 100), (30, 90, 160))
    ImageDraw.Draw(image).ellipse((20, 10, 120, 90), fill=(200, 160, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def pdf(pages: int = 3, *, marker: str = "Marker", size: tuple[float, float] = (595, 842),
        toc: bool = True, **save: object) -> bytes:
    """A small PDF: Vietnamese text, a marker word per page, a drawing, a photo, bookmarks."""
    font = find_font().data
    doc = pymupdf.open()
    photo = _photo()
    for number in range(pages):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_font(fontname="noto", fontbuffer=font)
        page.insert_text((40, 60), f"{VIETNAMESE} — {number + 1}", fontname="noto", fontsize=11)
        page.insert_text((40, 90), f"{marker}{number + 1}", fontname="noto", fontsize=14)
        page.draw_rect(pymupdf.Rect(40, 110, 200, 180), color=(0, 0, 0.6), fill=(0.9, 0.8, 0.1))
        page.insert_image(pymupdf.Rect(40, 200, 200, 300), stream=photo)
    if toc and pages:
        doc.set_toc([[1, nfc("Phần một"), 1], [2, "Chi tiết", min(2, pages)]])
    data: bytes = doc.tobytes(garbage=3, deflate=True, **save)
    doc.close()
    return data


def encrypted_pdf(user_password: str) -> bytes:
    return pdf(2, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user_password,
               owner_pw=user_password + "-owner")


def with_javascript() -> bytes:
    doc = pymupdf.open(stream=pdf(1), filetype="pdf")
    js = doc.get_new_xref()
    doc.update_object(js, "<< /Type /Action /S /JavaScript /JS (app.alert('x')) >>")
    doc.xref_set_key(doc.pdf_catalog(), "OpenAction", f"{js} 0 R")
    doc.embfile_add("secret.txt", b"smuggled")
    data: bytes = doc.tobytes()
    doc.close()
    return data


def truncated() -> bytes:
    data = pdf(4)
    return data[: len(data) // 2]


def random_bytes(size: int = 20_000) -> bytes:
    return random.Random(7).randbytes(size)


def _zero_flate(total: int, block: int = 1 << 20) -> bytes:
    """A zlib stream inflating to ``total`` zero bytes, built in well under a second: after a
    full flush each block compresses to the same bytes, so one block is repeated."""
    count, rest = divmod(total, block)
    assert rest == 0
    comp = zlib.compressobj(9)
    first = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    segment = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    check = 1
    zeros = b"\0" * block
    for _ in range(count):
        check = zlib.adler32(zeros, check)
    return first[:2] + segment * count + b"\x03\x00" + struct.pack(">I", check)


def decompression_bomb(width: int = 32768, height: int = 16384) -> bytes:
    """One page showing an image whose 1.5 MB stream inflates to width x height x 3 bytes."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    image = doc.get_new_xref()
    doc.update_object(
        image,
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
        "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode >>",
    )
    doc.update_stream(image, _zero_flate(width * height * 3), compress=False)
    doc.xref_set_key(image, "Filter", "/FlateDecode")
    doc.xref_set_key(page.xref, "Resources", f"<< /XObject << /Im1 {image} 0 R >> >>")
    content = doc.get_new_xref()
    doc.update_object(content, "<< >>")
    doc.update_stream(content, b"q 595 0 0 842 0 0 cm /Im1 Do Q")
    doc.xref_set_key(page.xref, "Contents", f"{content} 0 R")
    data: bytes = doc.tobytes()
    doc.close()
    return data


def slow_page(operations: int = 3_000_000) -> bytes:
    """Two pages; the second draws millions of tiny rectangles (seconds of rasterising) from a
    stream that compresses to ~140 KB - a file that makes the renderer 'hang'."""
    doc = pymupdf.open(stream=pdf(1), filetype="pdf")
    page = doc.new_page(width=595, height=842)
    content = doc.get_new_xref()
    doc.update_object(content, "<< >>")
    doc.update_stream(content, b"0.5 g\n" + b"10 10 0.5 0.5 re f\n" * operations)
    doc.xref_set_key(page.xref, "Contents", f"{content} 0 R")
    data: bytes = doc.tobytes(deflate=True)
    doc.close()
    return data


def docx(text: str) -> bytes:
    """A minimal Word document (OOXML) with one paragraph."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def odf(mimetype: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<office:document-content/>")
    return out.getvalue()


def ooxml(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<x/>")
    return out.getvalue()


def ole2(stream_name: str) -> bytes:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    entry = stream_name.encode("utf-16-le").ljust(64, b"\0")
    return header + entry + os.urandom(64)
