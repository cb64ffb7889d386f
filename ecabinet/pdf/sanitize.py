"""Writing a clean copy of a PDF: only page jumps and web links stay; no scripts, no files.

A meeting pack travels to tablets and to the browser's PDF viewer of anyone who downloads an
export, so anything that can run code, reach outside the document or smuggle a file is removed
before the document is stored. Actions are kept by an **allow-list**: a jump inside the document
(``GoTo``, a ``/Dest``), a web link (``URI`` with an ``http:`` or ``https:`` address) and the four
page-turning ``Named`` actions. Every other action goes wherever it is attached (the catalog's
``/OpenAction`` and ``/AA``, pages', annotations' and form fields' ``/AA``, links' and outline
items' ``/A``, ``/Next`` chains): ``GoToR`` to a share, ``file:`` and ``javascript:`` links,
``Launch``, scripts, forms that submit or import, sound, movies, renditions, 3D and rich media,
and any action type nobody has defined. Sound, movie, screen, 3D, rich-media and file-attachment
annotations go whole, so do attached files, document-level scripts and XFA forms.

Removal works on PDF objects, not on bytes: MuPDF parses every object (including ones hidden in
compressed object streams or written with ``#xx`` escapes in names), and the cleaned document is
saved unencrypted without object streams. Three passes over the cross-reference table:

1. print every object (dictionary only, not stream data) and pick the suspects: objects whose text
   holds an action key, an action or annotation type, an attachment or a script tree, plus the
   objects pointing at those (a type may sit behind a reference: ``/S 12 0 R``);
2. in the suspects, judge every action where it is attached and delete the keys and array elements
   that hold or reference a removed one; whoever else points at a removed object is cleaned too;
3. empty the removed objects themselves, so that a reference the first passes missed leads nowhere.

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

# Every action type of ISO 32000-2 but the kept ones, by the report field that counts it.
_ACTION_KINDS: Final[dict[str, str]] = {
    "JavaScript": "javascript",
    "ECMAScript": "javascript",
    "Launch": "launch",
    "SubmitForm": "submit_form",
    "ImportData": "import_data",
    "GoToR": "external_links",  # another file, on a share (UNC path) or anywhere
    "GoToE": "external_links",  # into an embedded file
    "GoToDp": "external_links",  # a document part, possibly of another file
    "Thread": "external_links",
    "URI": "external_links",  # unless http(s), see _web_uri
    "Sound": "media",
    "Movie": "media",
    "Rendition": "media",
    "GoTo3DView": "media",
    "RichMediaExecute": "media",
    "Hide": "other_actions",
    "ResetForm": "other_actions",
    "SetOCGState": "other_actions",
    "Trans": "other_actions",
    "Named": "other_actions",  # unless it only turns pages
}
_ACTION_TYPES: Final = frozenset(_ACTION_KINDS) | {"GoTo"}
_PAGE_TURNS: Final = frozenset({"NextPage", "PrevPage", "FirstPage", "LastPage"})
_REMOVED_ANNOTATIONS: Final[dict[str, str]] = {
    "FileAttachment": "file_attachments",
    "Sound": "media",
    "Movie": "media",
    "Screen": "media",
    "3D": "media",
    "RichMedia": "media",
}
# Keys whose value is an action (or, for /OpenAction, a destination); /AA holds one per trigger.
_ACTION_KEYS: Final = frozenset({"A", "PA", "OpenAction", "Next"})
# Keys removed wherever they appear: the names trees of scripts and attachments, a Filespec's
# embedded file streams, and XFA form templates (which carry their own scripts).
_DROP_KEYS: Final[dict[str, str]] = {
    "JavaScript": "names_trees",
    "EmbeddedFiles": "names_trees",
    "EF": "",
    "XFA": "xfa_forms",
}
_TOKENS: Final = re.compile(
    r"/(?:A|AA|PA|OpenAction|Next|Action|JS|EF|XFA|EmbeddedFiles?|"
    + "|".join(sorted(_ACTION_TYPES | set(_REMOVED_ANNOTATIONS)))
    + r")\b"
)
_REFERENCE: Final = re.compile(r"(?<![\d.])(\d+)\s+\d+\s+R\b")
# Viewers and browsers skip blanks and control characters in an address ("java\tscript:").
_BLANKS: Final = re.compile(r"[\x00-\x20\x7f]+")


@dataclass
class SanitizeReport:
    """How many of each removed thing the clean copy no longer has."""

    javascript: int = 0
    launch: int = 0
    submit_form: int = 0
    import_data: int = 0
    external_links: int = 0  # GoToR, GoToE, GoToDp, Thread, URI other than http(s)
    media: int = 0  # sound, movie, rendition, 3D and rich-media actions and annotations
    other_actions: int = 0  # Hide, ResetForm, SetOCGState, Trans, other Named, unknown types
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
            + self.external_links
            + self.media
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


def _web_uri(action: Any) -> bool:
    value = _mupdf.pdf_dict_gets(action, "URI")
    if not _mupdf.pdf_is_string(value):
        return False
    address = _BLANKS.sub("", str(_mupdf.pdf_to_text_string(value))).lower()
    return address.startswith(("http://", "https://"))


def _verdict(obj: Any, where_action: bool = False) -> str:
    """The report field a dictionary counts under if it must go, else ``""`` (it stays).

    ``where_action``: the dictionary sits where an action goes (``/A``, ``/AA`` entries, ...), so
    a type nobody has defined is an action to remove too. Elsewhere only known action types are
    judged: ``/S`` also names structure types, transition styles and soft masks.
    """
    if not _mupdf.pdf_is_dict(obj):
        return ""
    kind = _name(obj, "S")
    if not _mupdf.pdf_is_null(_mupdf.pdf_dict_gets(obj, "JS")):
        return "javascript"  # a script under any type, e.g. a Rendition action's
    if kind in _ACTION_TYPES or _name(obj, "Type") == "Action" or (where_action and kind):
        if kind == "GoTo":
            return ""
        if kind == "URI" and _web_uri(obj):
            return ""
        if kind == "Named" and _name(obj, "N") in _PAGE_TURNS:
            return ""
        return _ACTION_KINDS.get(kind, "other_actions")
    removed = _REMOVED_ANNOTATIONS.get(_name(obj, "Subtype"), "")
    if removed:
        return removed
    if _name(obj, "Type") == "EmbeddedFile":
        return "embedded_files"
    return ""


def _container(value: Any) -> bool:
    """A reference, dictionary or array: what may be or hold something to remove."""
    return bool(
        _mupdf.pdf_is_indirect(value) or _mupdf.pdf_is_dict(value) or _mupdf.pdf_is_array(value)
    )


class _Cleaner:
    def __init__(self, report: SanitizeReport) -> None:
        self.report = report
        self.bad: dict[int, str] = {}  # removed objects and the field each counts under
        self.files: set[int] = set()

    def mark(self, xref: int, kind: str) -> None:
        """Remove the object ``xref`` (emptied at the end), counted once under ``kind``."""
        if xref not in self.bad:
            self.bad[xref] = kind
            if kind == "embedded_files":
                self.files.add(xref)
            else:
                self.report.count(kind)

    def _doomed(self, value: Any, where_action: bool = False) -> bool:
        """Whether an entry must go; an inline bad dict is counted here, a referenced one once."""
        if _mupdf.pdf_is_indirect(value):
            xref = _mupdf.pdf_to_num(value)
            if xref not in self.bad and where_action:
                kind = _verdict(_mupdf.pdf_resolve_indirect(value), where_action=True)
                if kind:
                    self.mark(xref, kind)
            return xref in self.bad
        kind = _verdict(value, where_action)
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
            value = _mupdf.pdf_dict_get_val(obj, index)
            if not _container(value):
                continue  # a number, name or string: nothing to judge, nothing inside
            key = str(_mupdf.pdf_to_name(_mupdf.pdf_dict_get_key(obj, index)))
            if key in _DROP_KEYS:
                self.report.count(_DROP_KEYS[key])
                if key == "EF":
                    self._collect_files(value)
                else:
                    self.clean(value, depth + 1)  # only to count what goes with it
                doomed.append(key)
            elif key == "Next" and _mupdf.pdf_is_array(value):
                self._clean_array(value, depth, where_action=True)  # a chain of actions
            elif key == "AA" and _mupdf.pdf_is_dict(value):
                if self._doomed(value):
                    doomed.append(key)  # the triggers' dictionary is itself a removed object
                else:
                    # It may be an object of its own; each of its entries is an action.
                    self._clean_triggers(_mupdf.pdf_resolve_indirect(value), depth)
            elif self._doomed(value, where_action=key in _ACTION_KEYS):
                doomed.append(key)
            else:
                self.clean(value, depth + 1)
        for key in doomed:
            _mupdf.pdf_dict_dels(obj, key)

    def _clean_triggers(self, triggers: Any, depth: int) -> None:
        doomed: list[str] = []
        for index in range(_mupdf.pdf_dict_len(triggers)):
            key = str(_mupdf.pdf_to_name(_mupdf.pdf_dict_get_key(triggers, index)))
            value = _mupdf.pdf_dict_get_val(triggers, index)
            if self._doomed(value, where_action=True):
                doomed.append(key)
            else:
                self.clean(value, depth + 1)
        for key in doomed:
            _mupdf.pdf_dict_dels(triggers, key)

    def _clean_array(self, obj: Any, depth: int, where_action: bool = False) -> None:
        for index in reversed(range(_mupdf.pdf_array_len(obj))):
            value = _mupdf.pdf_array_get(obj, index)
            if not _container(value):
                continue
            if self._doomed(value, where_action):
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
    # A type may be named through a reference (/S 12 0 R to an object that is just /Launch), so
    # whoever points at such a name is a suspect too.
    names = {xref for xref in tokens if sources[xref].lstrip().startswith("/")}
    suspects = tokens | _referrers(sources, names)
    cleaner = _Cleaner(report)
    for xref in sorted(suspects):
        kind = _verdict(_mupdf.pdf_load_object(pdf, xref))
        if kind:
            cleaner.mark(xref, kind)
    # Judging actions where they are attached finds more removed objects; whoever points at one
    # is cleaned in turn. Bad objects are emptied below, and cleaning them first counts what they
    # carry inline (an attachment annotation's embedded file, say).
    cleaned: set[int] = set()
    todo = suspects
    while todo:
        for xref in sorted(todo):
            cleaner.clean(_mupdf.pdf_load_object(pdf, xref))
        cleaned |= todo
        todo = _referrers(sources, set(cleaner.bad)) - cleaned
    report.embedded_files = len(cleaner.files)
    for xref, kind in cleaner.bad.items():
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
    """Write a decrypted copy of ``src`` to ``dst`` keeping only page jumps and web links.

    Keeps ``GoTo`` actions and destinations, ``URI`` actions to ``http:``/``https:`` addresses
    and the page-turning ``Named`` actions; removes every other action wherever it is attached
    (open action, additional actions of the document, pages, annotations and form fields, links,
    outline items, ``/Next`` chains), sound, movie, screen, 3D, rich-media and file-attachment
    annotations, document-level JavaScript, embedded files and XFA forms. Raises ``PdfError``
    when ``src`` cannot be opened (see ``open_pdf``). ``dst`` appears atomically, complete or not
    at all.
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
