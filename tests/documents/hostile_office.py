"""Office files that point outside themselves, built here: linked pictures, fields, sections.

Each builder takes the address it points at (``http://127.0.0.1:PORT/...``, ``file:///...`` or a
relative path) and returns the file's bytes. ``Recorder`` is the web server they point at: it
answers every request with a picture and remembers it.
"""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from xml.sax.saxutils import quoteattr

from PIL import Image

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
IMAGE = f"{R}/image"
HYPERLINK = f"{R}/hyperlink"
ODF_TEXT = "application/vnd.oasis.opendocument.text"


def picture(color: tuple[int, int, int] = (200, 20, 20), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, fmt)
    return out.getvalue()


def zip_parts(parts: dict[str, bytes | str], *, odf_mimetype: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if odf_mimetype:
            archive.writestr("mimetype", odf_mimetype, compress_type=zipfile.ZIP_STORED)
        for name, content in parts.items():
            archive.writestr(name, content)
    return out.getvalue()


def relationships(rels: list[tuple[str, str, str, str]]) -> str:
    """``rels``: (id, type, target, target mode or "")."""
    items = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target={quoteattr(target)}'
        + (f' TargetMode="{mode}"' if mode else "") + "/>"
        for rid, kind, target, mode in rels
    )
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="{PKG}">{items}</Relationships>')


def docx(body: str, rels: list[tuple[str, str, str, str]] | None = None,
         extra: dict[str, bytes | str] | None = None) -> bytes:
    """A Word document whose body is ``body`` (WordprocessingML) with ``rels`` beside it."""
    media = "".join(
        f'<Default Extension="{ext}" ContentType="image/{ext}"/>' for ext in ("png", "jpeg")
    )
    return zip_parts({
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{media}'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": relationships([("rId1", f"{R}/officeDocument", "word/document.xml", "")]),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<w:document xmlns:w="{W}" xmlns:r="{R}" '
            'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture" '
            'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
            'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
            f'mc:Ignorable="w14"><w:body>{body}</w:body></w:document>'
        ),
        "word/_rels/document.xml.rels": relationships(rels or []),
        **(extra or {}),
    })


def para(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def drawing(rid: str, attribute: str = "r:link") -> str:
    """A picture whose bytes come from relationship ``rid`` (``r:link``: linked, not stored)."""
    return (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="1905000" cy="1190625"/>'
        '<wp:docPr id="1" name="Picture 1"/><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic>'
        '<pic:nvPicPr><pic:cNvPr id="0" name="linked.png"/><pic:cNvPicPr/></pic:nvPicPr>'
        f'<pic:blipFill><a:blip {attribute}="{rid}"/><a:stretch><a:fillRect/></a:stretch>'
        '</pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1905000" cy="1190625"/>'
        '</a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic>'
        "</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )


def simple_field(instruction: str, result: str = "kết quả cũ") -> str:
    return (f"<w:p><w:fldSimple w:instr={quoteattr(instruction)}><w:r><w:t>{result}</w:t></w:r>"
            "</w:fldSimple></w:p>")


def complex_field(*instruction_runs: str, result: str = "kết quả cũ") -> str:
    """A field whose instruction is split over several runs, as Word writes long ones."""
    runs = "".join(
        f'<w:r><w:instrText xml:space="preserve">{text}</w:instrText></w:r>'
        for text in instruction_runs
    )
    return (
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'{runs}<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f'<w:r><w:t>{result}</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    )


def docx_linked_picture(url: str) -> bytes:
    return docx(para("Ảnh liên kết") + drawing("rId5"), [("rId5", IMAGE, url, "External")])


def odt(body: str, *, extra: dict[str, bytes | str] | None = None,
        settings: str = "", meta: str = "") -> bytes:
    """An OpenDocument text whose office:text is ``body``."""
    ns = (
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
        'xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3"'
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names'
        ':tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry '
        f'manifest:full-path="/" manifest:media-type="{ODF_TEXT}"/><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    parts: dict[str, bytes | str] = {
        "content.xml": (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns}>'
                        f"<office:body><office:text>{body}</office:text></office:body>"
                        "</office:document-content>"),
        "META-INF/manifest.xml": manifest,
    }
    if settings:
        parts["settings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-settings {ns}>'
            f'<office:settings><config:config-item-set config:name="ooo:configuration-settings">'
            f"{settings}</config:config-item-set></office:settings></office:document-settings>"
        )
    if meta:
        parts["meta.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {ns}>'
                             f"<office:meta>{meta}</office:meta></office:document-meta>")
    return zip_parts({**parts, **(extra or {})}, odf_mimetype=ODF_TEXT)


def odt_image(url: str) -> str:
    return (
        '<text:p>Ảnh liên kết<draw:frame draw:name="i1" text:anchor-type="as-char" '
        'svg:width="4cm" svg:height="3cm">'
        f'<draw:image xlink:href={quoteattr(url)} xlink:type="simple" xlink:show="embed" '
        'xlink:actuate="onLoad"/></draw:frame></text:p>'
    )


def odt_linked_picture(url: str) -> bytes:
    return odt(odt_image(url))


def odt_linked_section(url: str) -> bytes:
    return odt(
        f'<text:section text:name="S1"><text:section-source xlink:href={quoteattr(url)} '
        'xlink:type="simple" text:filter-name="Text"/><text:p>nội dung đã lưu</text:p>'
        "</text:section>"
    )


class Recorder(http.server.ThreadingHTTPServer):
    """A web server on 127.0.0.1 that answers every request with a picture and keeps a list."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.image = picture((220, 30, 30))
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def _answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.server.image)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.server.image)

    do_GET = do_HEAD = do_OPTIONS = do_PROPFIND = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
