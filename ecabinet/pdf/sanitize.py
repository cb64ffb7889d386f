"""Writing a clean copy of a PDF: no scripts, no launch actions, no attached files.

A meeting pack travels to tablets and to the browser's PDF viewer of anyone who downloads an
export, so anything that can run code or smuggle a file is removed before the document is stored.
Removal works on PDF objects, not on bytes: MuPDF parses every object (including ones hidden in
compressed object streams or written with ``#xx`` escapes in names), and the cleaned document is
saved unencrypted without object streams.

Three passes over the cross-reference table:

1. print every object (dictionary only, not stream data) and find the suspects: objects whose text
   names a dangerous action, an attachment or a script tree, plus the objects pointing at those;
2. classify the suspects and, in the suspects and everything pointing at a bad one, delete the
   dictionary keys and array elements that hold or reference a dangerous thing;
3. empty the bad objects themselves, so that a reference the first passes missed leads nowhere.

Saving with garbage collection then drops everything no longer referenced.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import pymupdf

from ecabinet.pdf.inspect import open_pdf

_mupdf: Any = pymupdf.mupdf

# Action types that run code, start programs, send data out or pull data in.
_ACTION_KINDS: Final[dict[str, str]] = {
    "JavaScript": "javascript",
    "Launch": "launch",
    "SubmitForm": "submit_form",
    "ImportData": "import_data",
    "GoToE": "other_actions",  # jumps into an embedded file
    "RichMediaExecute": "other_actions",
}
# Keys removed wherever they appear: the names trees of scripts and attachments, a Filespec's
# embedded file streams, and XFA form templates (which carry their own scripts).
_DROP_KEYS: Final[dict[str, str]] = {
    "JavaScript": "names_trees",
    "EmbeddedFiles": "names_trees",
    "EF": "",
    "XFA": "xfa_forms",
}
_TOKENS: Final = re.compile(
    r"/(?:JavaScript|JS|Launch|SubmitForm|ImportData|GoToE|RichMediaExecute|EmbeddedFiles?|"
    r"FileAttachment|XFA|EF)\b"
)
_REFERENCE: Final = re.compile(r"(?<![\d.])(\d+)\s+\d+\s+R\b")


@dataclass
class SanitizeReport:
    """How many of each dangerous thing the clean copy no longer has."""

    javascript: int = 0
    launch: int = 0
    submit_form: int = 0
    import_data: int = 0
    other_actions: int = 0
    embedded_files: int = 0
    file_attachments: int = 0
    xfa_forms: int = 0
    names_trees: int = 0
    decrypted: bool = False
    page_count: int = 0

    @property
    def removed(self) -> int:
        """Total number of removed items (actions, files, annotations, forms)."""
        return (
            self.javascript
            + self.launch
            + self.submit_form
            + self.import_data
            + self.other_actions
            + self.embedded_files
            + self.file_attachments
            + self.xfa_forms
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as a JSON-ready dict, with ``removed`` added."""
        return {**asdict(self), "removed": self.removed}

    def count(self, kind: str) -> None:
        if kind:
            setattr(self, kind, getattr(self, kind) + 1)


def _name(obj: Any, key: str) -> str:
    value = _mupdf.pdf_dict_gets(obj, key)
    return str(_mupdf.pdf_to_name(value)) if _mupdf.pdf_is_name(value) else ""


def _classify(obj: Any) -> str:
    """Return the report field a dictionary counts under if it must go, else ``""``."""
    if not _mupdf.pdf_is_dict(obj):
        return ""
    kind = _ACTION_KINDS.get(_name(obj, "S"), "")
    if kind:
        return kind
    if not _mupdf.pdf_is_null(_mupdf.pdf_dict_gets(obj, "JS")):
        return "javascript"  # e.g. a Rendition action's script
    if _name(obj, "Subtype") == "FileAttachment":
        return "file_attachments"
    if _name(obj, "Type") == "EmbeddedFile":
        return "embedded_files"
    return ""


class _Cleaner:
    def __init__(self, report: SanitizeReport, bad: dict[int, str]) -> None:
        self.report = report
        self.bad = bad
        self.files: set[int] = {xref for xref, kind in bad.items() if kind == "embedded_files"}

    def _doomed(self, value: Any) -> bool:
        """Whether an entry must go; an inline bad dict is counted here, a referenced one was."""
        if _mupdf.pdf_is_indirect(value):
            return _mupdf.pdf_to_num(value) in self.bad
        kind = _classify(value)
        if kind and kind != "embedded_files":
            self.report.count(kind)
        return bool(kind)

    def _collect_files(self, ef: Any) -> None:
        # Embedded file streams need no /Type, so count them through the Filespec that holds them.
        if _mupdf.pdf_is_dict(ef):
            for index in range(_mupdf.pdf_dict_len(ef)):
                value = _mupdf.pdf_dict_get_val(ef, index)
                if _mupdf.pdf_is_indirect(value):
                    self.files.add(_mupdf.pdf_to_num(value))

    def clean(self, obj: Any, depth: int = 0) -> None:
        # Inline nesting deeper than this only appears in hostile files; stop rather than recurse.
        if depth > 32 or _mupdf.pdf_is_indirect(obj):
            return
        if _mupdf.pdf_is_dict(obj):
            self._clean_dict(obj, depth)
        elif _mupdf.pdf_is_array(obj):
            self._clean_array(obj, depth)

    def _clean_dict(self, obj: Any, depth: int) -> None:
        doomed: list[str] = []
        for index in range(_mupdf.pdf_dict_len(obj)):
            key = str(_mupdf.pdf_to_name(_mupdf.pdf_dict_get_key(obj, index)))
            value = _mupdf.pdf_dict_get_val(obj, index)
            if key in _DROP_KEYS:
                self.report.count(_DROP_KEYS[key])
                if key == "EF":
                    self._collect_files(value)
                else:
                    self.clean(value, depth + 1)  # only to count what goes with it
                doomed.append(key)
            elif self._doomed(value):
                doomed.append(key)
            else:
                self.clean(value, depth + 1)
        for key in doomed:
            _mupdf.pdf_dict_dels(obj, key)

    def _clean_array(self, obj: Any, depth: int) -> None:
        for index in reversed(range(_mupdf.pdf_array_len(obj))):
            value = _mupdf.pdf_array_get(obj, index)
            if self._doomed(value):
                _mupdf.pdf_array_delete(obj, index)
            else:
                self.clean(value, depth + 1)


def _sources(doc: pymupdf.Document) -> dict[int, str]:
    sources: dict[int, str] = {}
    for xref in range(1, doc.xref_length()):
        try:
            sources[xref] = doc.xref_object(xref, compressed=True)
        except (RuntimeError, ValueError):
            continue  # a broken object: nothing can reference its content either
    return sources


def _referrers(sources: dict[int, str], targets: set[int]) -> set[int]:
    if not targets:
        return set()
    return {
        xref
        for xref, text in sources.items()
        if "R" in text and any(int(num) in targets for num in _REFERENCE.findall(text))
    }


def _scrub(doc: pymupdf.Document, report: SanitizeReport) -> None:
    pdf = _mupdf.pdf_document_from_fz_document(doc.this)
    sources = _sources(doc)
    tokens = {xref for xref, text in sources.items() if _TOKENS.search(text)}
    # An action may name its type through a reference (/S 12 0 R), so whoever points at a token
    # object is classified too.
    candidates = tokens | _referrers(sources, tokens)
    bad: dict[int, str] = {}
    for xref in sorted(candidates):
        kind = _classify(_mupdf.pdf_load_object(pdf, xref))
        if kind:
            bad[xref] = kind
            if kind != "embedded_files":
                report.count(kind)
    cleaner = _Cleaner(report, bad)
    for xref in sorted(tokens | _referrers(sources, set(bad))):
        # Bad objects are emptied below; cleaning them first counts what they carry inline
        # (an attachment annotation's embedded file, say).
        cleaner.clean(_mupdf.pdf_load_object(pdf, xref))
    report.embedded_files = len(cleaner.files)
    for xref, kind in bad.items():
        if kind == "embedded_files":
            doc.update_stream(xref, b"")
            for key in ("Type", "Subtype", "Params"):
                doc.xref_set_key(xref, key, "null")
        elif doc.xref_is_stream(xref):
            doc.update_stream(xref, b"")
        else:
            doc.update_object(xref, "<<>>")
    catalog = doc.pdf_catalog()
    if doc.xref_get_key(catalog, "PageMode") == ("name", "/UseAttachments"):
        # The attachments panel the file asked to open on start is now empty.
        doc.xref_set_key(catalog, "PageMode", "/UseNone")


def sanitize_pdf(src: str | Path, dst: str | Path, password: str | None = None) -> SanitizeReport:
    """Write a decrypted copy of ``src`` to ``dst`` without scripts, launches and attachments.

    Removes document-level JavaScript, JavaScript/Launch/SubmitForm/ImportData actions wherever
    they are attached (open action, pages, annotations, form fields, outline items), embedded
    files and file-attachment annotations, and XFA forms. Raises ``PdfError`` when ``src`` cannot
    be opened (see ``open_pdf``). ``dst`` appears atomically, complete or not at all.
    """
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ValueError("sanitize_pdf writes a new file; src and dst must differ")
    doc = open_pdf(src, password)
    try:
        report = SanitizeReport(
            decrypted=bool(doc.is_encrypted or (doc.metadata or {}).get("encryption")),
            page_count=doc.page_count,
        )
        _scrub(doc, report)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        try:
            doc.save(tmp, garbage=2, deflate=True, encryption=pymupdf.mupdf.PDF_ENCRYPT_NONE)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        doc.close()
    return report
