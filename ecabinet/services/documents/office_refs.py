"""Taking external references out of Office files before LibreOffice opens them.

A Word or OpenDocument file can point outside itself: a picture linked by URL or by path
(``http://127.0.0.1:…/`` on the server's own network, ``file:///…/renditions/…`` for the stored,
unwatermarked pages of a confidential document), a linked section or sub-document, an
``INCLUDEPICTURE``/``INCLUDETEXT`` field, an external workbook, a template, an OLE link, a
macro bound to an event. LibreOffice would fetch or read them while converting and put what it
found into an ordinary PDF. The conversion runs in a jail without network and without the data
folder (conversion.py); this is the layer in front of it: every such reference is removed from
the package before LibreOffice sees it. Nothing is ever followed.

- OOXML (docx, xlsx, pptx): relationships with ``TargetMode="External"`` go, except web and mail
  hyperlinks; an internal relationship whose target has a scheme, a backslash or leaves the
  package goes too; the instructions of ``INCLUDEPICTURE``, ``INCLUDETEXT``, ``INCLUDE``,
  ``LINK``, ``DDE``, ``DDEAUTO``, ``IMPORT`` and ``DATABASE`` fields are emptied (the field shows
  the result it was saved with).
- OpenDocument (odt, ods, odp, odg): an ``xlink:href`` that leaves the package is removed (a
  hyperlink, ``text:a``/``draw:a``, keeps a web or mail address), so is ``xml:base``, and the
  document's own link and field update settings (so LibreOffice's "never update" applies).
- Office files packed inside (an embedded workbook) are cleaned the same way.

The parts are read with defusedxml, which refuses DTDs and entities (no XML bombs; OOXML and ODF
never need them): a fast pass (ElementTree's C parser) finds what must go, and only a part that
has something to remove is rewritten, as a stream through SAX, prefixes and attribute order
kept. A part that cannot be parsed, or is too large to check, makes the whole file refused. The
work runs in a throwaway process with a time and memory limit (conversion.py), like PDF checks.
Legacy binary files (doc, xls, ppt) and RTF are not rewritten: the jail and LibreOffice's
profile settings hold for them.
"""

from __future__ import annotations

import io
import re
import shutil
import xml.sax
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Final
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from defusedxml.expatreader import DefusedExpatParser

OOXML: Final = frozenset({"docx", "xlsx", "pptx"})
ODF: Final = frozenset({"odt", "ods", "odp", "odg"})
# A part larger than this (uncompressed) is not checked but refused; so is a package holding
# more parts or more XML to check in all than these.
MAX_PART: Final = 128 * 1024 * 1024
MAX_CHECKED: Final = 512 * 1024 * 1024
MAX_PARTS: Final = 20_000
_MAX_DEPTH: Final = 3  # packages inside packages

_W_NS: Final = frozenset({
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
})
_RELATIONSHIP: Final = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
_XML_BASE: Final = f"{{{_XML_NS}}}base"
_HREF: Final = "{http://www.w3.org/1999/xlink}href"
_CONFIG_ITEM: Final = "{urn:oasis:names:tc:opendocument:xmlns:config:1.0}config-item"
_CONFIG_NAME: Final = "{urn:oasis:names:tc:opendocument:xmlns:config:1.0}name"
_HYPERLINKS: Final = frozenset({
    "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}a",
    "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}a",
})
# Fields that pull in a file, a picture, a database or another program's data.
_FETCHING_FIELDS: Final = frozenset(
    {"INCLUDEPICTURE", "INCLUDETEXT", "INCLUDE", "LINK", "DDE", "DDEAUTO", "IMPORT", "DATABASE"}
)
# Per-document settings that would override the profile's "never update links" (ODF).
_UPDATE_SETTINGS: Final = frozenset({"LinkUpdateMode", "FieldAutoUpdate"})
_SCHEME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BLANKS: Final = re.compile(r"[\x00-\x20\x7f]+")


class UnsafeOfficeFile(ValueError):
    """The file cannot be checked (malformed XML, a DTD or entities, too large): refuse it."""


@dataclass
class StripReport:
    """What was taken out of a package (and the packages inside it)."""

    relationships: int = 0  # OOXML relationships to outside the package
    fields: int = 0  # fetching field instructions emptied
    links: int = 0  # ODF xlink:href / xml:base leaving the package
    settings: int = 0  # ODF per-document update settings

    @property
    def removed(self) -> int:
        return self.relationships + self.fields + self.links + self.settings

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "removed": self.removed}


def strip_external_references(src: Path, dst: Path, kind: str) -> StripReport:
    """Write to ``dst`` a copy of the Office file ``src`` (of type ``kind``) without references
    to anything outside it; other types are copied unchanged.

    Raises ``UnsafeOfficeFile`` when a part cannot be checked.
    """
    report = StripReport()
    if kind not in OOXML and kind not in ODF:
        shutil.copyfile(src, dst)
        return report
    with src.open("rb") as handle:
        cleaned = _clean_package(handle, kind in ODF, report, _Budget(), depth=0)
    if cleaned is None:
        shutil.copyfile(src, dst)  # nothing to take out: the very same bytes
    else:
        dst.write_bytes(cleaned)
    return report


def strip_job(src: str, dst: str, kind: str) -> tuple[dict[str, int], str | None]:
    """``strip_external_references`` for a throwaway process: the report, or the reason the
    file was refused."""
    try:
        return strip_external_references(Path(src), Path(dst), kind).to_dict(), None
    except UnsafeOfficeFile as exc:
        return {}, str(exc)


@dataclass
class _Budget:
    checked: int = 0

    def take(self, size: int) -> None:
        if size > MAX_PART or self.checked + size > MAX_CHECKED:
            raise UnsafeOfficeFile("a part is too large to check for external references")
        self.checked += size


def _clean_package(
    handle: IO[bytes], odf: bool, report: StripReport, budget: _Budget, depth: int
) -> bytes | None:
    """The cleaned package's bytes, or None when nothing in it had to change."""
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_PARTS:
                raise UnsafeOfficeFile("too many parts in the package")
            changed: dict[str, bytes] = {}
            for info in infos:
                data = _clean_part(archive, info, odf, report, budget, depth)
                if data is not None:
                    changed[info.filename] = data
            if not changed:
                return None
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as target:
                for info in infos:
                    data = changed.get(info.filename)
                    target.writestr(info, archive.read(info) if data is None else data,
                                    compress_type=info.compress_type)
            return out.getvalue()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise UnsafeOfficeFile(f"damaged package ({type(exc).__name__})") from None


def _clean_part(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    odf: bool,
    report: StripReport,
    budget: _Budget,
    depth: int,
) -> bytes | None:
    name = info.filename
    folder = name.rpartition("/")[0]
    lower = name.lower()
    if info.is_dir():
        return None
    if not odf and lower.endswith(".rels"):
        # word/_rels/document.xml.rels holds the relationships of word/document.xml.
        source_folder = folder.removesuffix("_rels").rstrip("/")
        data = _read(archive, info, budget)
        handler = _Relationships(source_folder, report)
        out = _rewrite(data, handler, name)
        return out if handler.removed else None
    if lower.endswith(".xml") and (odf or lower.startswith("word/")):
        data = _read(archive, info, budget)
        if odf:
            return _odf_part(data, name, folder, report)
        return _word_part(data, name, report)
    if depth < _MAX_DEPTH and info.file_size >= 4:
        with archive.open(info) as part:
            if part.read(4) != b"PK\x03\x04":
                return None
        inner = _read(archive, info, budget)
        with zipfile.ZipFile(io.BytesIO(inner)) as nested:
            names = set(nested.namelist())
        if "[Content_Types].xml" in names or "mimetype" in names:
            is_odf = "mimetype" in names
            return _clean_package(io.BytesIO(inner), is_odf, report, budget, depth + 1)
    return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget) -> bytes:
    budget.take(info.file_size)
    return archive.read(info)


# --- what must go -------------------------------------------------------------------------------


def _outside(target: str, folder: str, *, rooted: bool) -> bool:
    """Whether ``target``, seen from the package folder ``folder``, leaves the package.

    ``rooted``: a leading ``/`` means the package root (OOXML part names); for ODF it is a path
    on the disk.
    """
    value = unquote(_BLANKS.sub("", target))
    if not value or value.startswith("#"):
        return False
    if _SCHEME.match(value) or "\\" in value or value.startswith("//"):
        return True  # a URL, a drive letter, a UNC or Windows path
    if value.startswith("/"):
        if not rooted:
            return True
        parts = PurePosixPath(value).parts[1:]
    else:
        parts = (*PurePosixPath(folder).parts, *PurePosixPath(value).parts)
    depth = 0
    for part in parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (".", ""):
            depth += 1
    return False


def _web_or_mail(target: str) -> bool:
    value = _BLANKS.sub("", target).lower()
    return value.startswith(("http://", "https://", "mailto:"))


def _keep_relationship(attrs: Mapping[str, str], folder: str) -> bool:
    target = attrs.get("Target", "")
    if attrs.get("TargetMode", "").lower() == "external":
        return attrs.get("Type", "").endswith("/hyperlink") and _web_or_mail(target)
    return not _outside(target, folder, rooted=True)


def _odf_removals(tag: str, attrs: Mapping[str, str], folder: str) -> list[str] | None:
    """For an ODF element (``{ns}local`` names): None to drop it whole, else the attributes
    to drop (empty: it stays as it is)."""
    if tag == _CONFIG_ITEM and attrs.get(_CONFIG_NAME) in _UPDATE_SETTINGS:
        return None
    drop = [_XML_BASE] if _XML_BASE in attrs else []
    href = attrs.get(_HREF)
    if href is not None:
        hyperlink = tag in _HYPERLINKS and _web_or_mail(href)
        if not hyperlink and _outside(href, folder, rooted=False):
            drop.append(_HREF)
    return drop


def _fetching(instruction: str) -> bool:
    words = instruction.split()
    return bool(words) and words[0].upper() in _FETCHING_FIELDS


def _events(data: bytes, name: str) -> Iterator[tuple[str, Element]]:
    """Start and end events of a part, each element dropped from the tree once it has ended
    (the part is never held whole)."""
    stack: list[Element] = []
    try:
        for event, element in iterparse(io.BytesIO(data), ("start", "end"), forbid_dtd=True):
            if event == "start":
                stack.append(element)
            yield event, element
            if event == "end":
                stack.pop()
                if stack and len(stack[-1]) and stack[-1][-1] is element:
                    del stack[-1][-1]
    except (ParseError, DefusedXmlException) as exc:
        raise UnsafeOfficeFile(f"{name}: {type(exc).__name__}") from None


def _odf_part(data: bytes, name: str, folder: str, report: StripReport) -> bytes | None:
    if not any(token in data for token in (b"href", b"xml:base", b"config-item")):
        return None
    if not any(
        event == "start" and _odf_removals(element.tag, element.attrib, folder) != []
        for event, element in _events(data, name)
    ):
        return None
    return _rewrite(data, _OdfLinks(folder, report), name)


def _word_part(data: bytes, name: str, report: StripReport) -> bytes | None:
    if b"instr" not in data:
        return None
    # Complex fields spread their instruction over runs between the begin and the separate
    # (or end) marks; each instruction run is numbered in document order.
    fields: list[tuple[list[int], list[str]] | None] = []  # open fields; None once judged
    doomed: set[int] = set()
    fetching = simple = 0
    ordinal = -1
    for event, element in _events(data, name):
        ns, _, local = element.tag[1:].partition("}")
        if ns not in _W_NS:
            continue
        if event == "start" and local == "fldChar":
            kind = element.get(f"{{{ns}}}fldCharType", "")
            if kind == "begin":
                fields.append(([], []))
            elif kind in ("separate", "end") and fields:
                current = fields[-1]
                if current is not None and _fetching("".join(current[1])):
                    doomed.update(current[0])
                    fetching += 1
                fields[-1] = None
                if kind == "end":
                    fields.pop()
        elif event == "start" and local in ("instrText", "delInstrText"):
            ordinal += 1
        elif event == "end" and local in ("instrText", "delInstrText"):
            current = fields[-1] if fields else None
            if current is not None:
                current[0].append(ordinal)
                current[1].append(element.text or "")
        elif event == "start" and local == "fldSimple":
            simple += _fetching(element.get(f"{{{ns}}}instr", ""))
    if not doomed and not simple:
        return None
    report.fields += fetching
    return _rewrite(data, _FieldWriter(report, doomed), name)


# --- rewriting ----------------------------------------------------------------------------------


def _rewrite(data: bytes, handler: _Filter, name: str) -> bytes:
    out = io.BytesIO()
    handler.start(out)
    parser = DefusedExpatParser(forbid_dtd=True)
    parser.setContentHandler(handler)
    try:
        parser.parse(io.BytesIO(data))
    except (xml.sax.SAXException, DefusedXmlException, ValueError) as exc:
        raise UnsafeOfficeFile(f"{name}: {type(exc).__name__}") from None
    return out.getvalue()


class _Filter(ContentHandler):
    """Copies a part through as it is parsed; subclasses drop elements or attributes."""

    def __init__(self, report: StripReport) -> None:
        super().__init__()
        self.report = report
        self.removed = 0
        self.scopes: list[dict[str, str]] = [{"xml": _XML_NS}]
        self.skipping = 0  # depth inside a dropped element
        self.out = XMLGenerator(io.BytesIO())

    def start(self, out: IO[bytes]) -> None:
        self.out = XMLGenerator(out, "utf-8", short_empty_elements=True)

    def expand(self, qname: str, attribute: bool = False) -> str:
        """``{namespace}local`` for a prefixed name, as declared where it is used (an
        attribute without a prefix has no namespace)."""
        prefix, _, local = qname.rpartition(":")
        if attribute and not prefix:
            return local
        for scope in reversed(self.scopes):
            if prefix in scope:
                return f"{{{scope[prefix]}}}{local}" if scope[prefix] else local
        return local

    def element(self, tag: str, attrs: dict[str, str]) -> dict[str, str] | None:
        """The attributes to write, or None to drop the element with everything inside it."""
        return attrs

    def text(self, content: str) -> str:
        return content

    def startDocument(self) -> None:
        self.out.startDocument()

    def endDocument(self) -> None:
        self.out.endDocument()

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        self.scopes.append({
            (key[6:] if key.startswith("xmlns:") else ""): value
            for key, value in attrs.items()
            if key == "xmlns" or key.startswith("xmlns:")
        })
        if self.skipping:
            self.skipping += 1
            return
        kept = self.element(self.expand(name), dict(attrs.items()))
        if kept is None:
            self.skipping = 1
            return
        self.out.startElement(name, AttributesImpl(kept))

    def endElement(self, name: str) -> None:
        self.scopes.pop()
        if self.skipping:
            self.skipping -= 1
            return
        self.out.endElement(name)

    def characters(self, content: str) -> None:
        if not self.skipping:
            self.out.characters(self.text(content))

    def ignorableWhitespace(self, whitespace: str) -> None:
        if not self.skipping:
            self.out.ignorableWhitespace(whitespace)

    def processingInstruction(self, target: str, data: str) -> None:
        if not self.skipping:
            self.out.processingInstruction(target, data)

    def expanded(self, attrs: dict[str, str]) -> dict[str, str]:
        """The attributes by ``{namespace}local`` name, mapped to the names written."""
        return {self.expand(qname, attribute=True): qname for qname in attrs}


class _Relationships(_Filter):
    def __init__(self, source_folder: str, report: StripReport) -> None:
        super().__init__(report)
        self.folder = source_folder

    def element(self, tag: str, attrs: dict[str, str]) -> dict[str, str] | None:
        if tag != _RELATIONSHIP or _keep_relationship(attrs, self.folder):
            return attrs
        self.removed += 1
        self.report.relationships += 1
        return None


class _OdfLinks(_Filter):
    def __init__(self, folder: str, report: StripReport) -> None:
        super().__init__(report)
        self.folder = folder

    def element(self, tag: str, attrs: dict[str, str]) -> dict[str, str] | None:
        names = self.expanded(attrs)
        removals = _odf_removals(tag, {key: attrs[q] for key, q in names.items()}, self.folder)
        if removals is None:
            self.removed += 1
            self.report.settings += 1
            return None
        for key in removals:
            del attrs[names[key]]
            self.removed += 1
            self.report.links += 1
        return attrs


class _FieldWriter(_Filter):
    def __init__(self, report: StripReport, doomed: set[int]) -> None:
        super().__init__(report)
        self.doomed = doomed
        self.ordinal = -1  # of the current instruction run in the part
        self.in_instruction = False

    def element(self, tag: str, attrs: dict[str, str]) -> dict[str, str] | None:
        ns, _, local = tag[1:].partition("}")
        if ns not in _W_NS:
            return attrs
        if local in ("instrText", "delInstrText"):
            self.ordinal += 1
            self.in_instruction = True
        elif local == "fldSimple":
            key = self.expanded(attrs).get(f"{{{ns}}}instr")
            if key is not None and _fetching(attrs[key]):
                self.removed += 1
                self.report.fields += 1
                return {**attrs, key: ""}
        return attrs

    def endElement(self, name: str) -> None:
        if self.expand(name).endswith(("}instrText", "}delInstrText")):
            self.in_instruction = False
        super().endElement(name)

    def text(self, content: str) -> str:
        if self.in_instruction and self.ordinal in self.doomed:
            self.removed += 1
            return ""
        return content
