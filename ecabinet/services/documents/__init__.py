"""Meeting documents: preparing uploaded files, attaching them to a meeting, who sees what.

An uploaded file is checked and cleaned before anything else sees it (``prepare_file``): its type
is decided by its bytes; office files become PDF through LibreOffice; the PDF is validated and
sanitised in a throwaway process (a hostile file can hang or crash only that process); the clean
copy is stored once by the SHA-256 of its bytes. ``attach_document`` and ``replace_document``
then record it in the meeting inside the caller's transaction and emit the events; pages render
in the background afterwards (services/rendering.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, EcabinetError, InvalidInput, NotFound, TooLarge
from ecabinet.core.settings import Settings
from ecabinet.core.text import nfc, nfc_trimmed
from ecabinet.domain import lifecycle
from ecabinet.domain.access import Form, decide
from ecabinet.pdf import errors as pdf_errors
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.inspect import PdfLimits
from ecabinet.pdf.isolation import (
    PROCESSING_CRASHED,
    PROCESSING_FAILED,
    PROCESSING_TIMEOUT,
    check_and_sanitize,
    check_only,
    run_isolated,
)
from ecabinet.protocol import Schema, event
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents.access import require, secret_ids, visible
from ecabinet.services.documents.conversion import PDF, Converter, detect_type
from ecabinet.services.documents.conversion import log_conversion_setup as log_conversion_setup
from ecabinet.services.kernel.context import WITHHELD, Actor, CommandContext, load_actor
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.meetings.versions import record_change
from ecabinet.storage.blobs import BlobStore, hash_file, storage_errors, storage_full
from ecabinet.storage.models import AgendaItem, AgendaItemDocument, Blob, Document, Meeting

PDF_MEDIA_TYPE: Final = "application/pdf"
# Seconds a check of one PDF may take in its throwaway process (2,000 pages parse in ~2 s).
CHECK_TIMEOUT: Final = 120.0
LIMITS: Final = PdfLimits()

# PdfError codes as the upload answer names them.
UPLOAD_CODES: Final[dict[str, str]] = {
    pdf_errors.NOT_A_PDF: "not_a_pdf",
    pdf_errors.EMPTY: "empty_pdf",
    pdf_errors.TRUNCATED: "truncated_pdf",
    pdf_errors.DAMAGED: "damaged_pdf",
    pdf_errors.PASSWORD_REQUIRED: "password_required",
    pdf_errors.WRONG_PASSWORD: "wrong_password",
    pdf_errors.TOO_MANY_PAGES: "too_many_pages",
    pdf_errors.PAGE_TOO_LARGE: "page_too_large",
    PROCESSING_TIMEOUT: "processing_timeout",
    PROCESSING_CRASHED: "processing_crashed",
    PROCESSING_FAILED: "processing_failed",
}
UPLOAD_ERRORS: Final = (
    "upload_too_large",
    "storage_full",
    "empty_file",
    "unsupported_type",
    "conversion_unavailable",
    "conversion_timeout",
    "conversion_failed",
    *sorted(set(UPLOAD_CODES.values())),
)


@dataclass(frozen=True)
class PreparedFile:
    """A checked, sanitised PDF in the blob store, ready to attach to meetings."""

    sha256: str  # of the stored (sanitised) PDF
    size: int
    media_type: str
    page_count: int
    title: str  # a guess: the PDF's title, else the file name
    filename: str  # the uploader's file name, cleaned for display
    source_sha256: str  # of the file as received
    source_type: str  # pdf, docx, xlsx, odt, ...
    page_sizes: list[list[float]] = field(default_factory=list)
    removed: dict[str, Any] = field(default_factory=dict)  # what sanitising took out
    reused: bool = False  # the same bytes were prepared before: nothing was redone


def clean_filename(filename: str) -> str:
    """The last component of a client's file name, NFC, without control characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in nfc(name) if ch.isprintable()).strip()
    return name[:255] or "document.pdf"


def guess_title(metadata_title: str, filename: str) -> str:
    title = nfc_trimmed(metadata_title or "")
    if not title or title.lower() in ("untitled", "document", "tài liệu") or title.startswith(
        "Microsoft Word - "
    ):
        stem = Path(filename).stem
        title = re.sub(r"[_]+", " ", stem).strip() or stem
    return " ".join(title.split())[:300] or "Tài liệu"


def _upload_error(exc: PdfError) -> EcabinetError:
    if exc.code == pdf_errors.STORAGE_FULL:
        return storage_full()
    code = UPLOAD_CODES.get(exc.code, "processing_failed")
    return InvalidInput(exc.message, code=code, details=exc.details)


def prepare_file(
    settings: Settings, path: Path, filename: str, password: str | None = None
) -> PreparedFile:
    """Check, convert if needed, sanitise and store an uploaded file (blocking; use a thread).

    Raises ``TooLarge`` (``upload_too_large``), ``StorageFull`` (``storage_full``, the disk is
    full) or ``InvalidInput`` with a stable code: see ``UPLOAD_ERRORS``. The same bytes
    prepared again reuse the stored result (after checking the password again when the file
    needed one).
    """
    store = BlobStore(settings.data_dir)
    filename = clean_filename(filename)
    size = path.stat().st_size
    if size > settings.max_upload_bytes:
        raise TooLarge(
            f"Tệp lớn hơn giới hạn {settings.max_upload_mb} MiB (the file is too large).",
            code="upload_too_large",
            details={"max_bytes": settings.max_upload_bytes},
        )
    if size == 0:
        raise InvalidInput("Tệp rỗng (the file is empty).", code="empty_file")
    kind = detect_type(path, filename)
    if kind is None:
        if filename.lower().endswith(".pdf"):
            raise InvalidInput(
                "Tệp không phải PDF hợp lệ dù có tên .pdf (not a PDF file).", code="not_a_pdf"
            )
        raise InvalidInput(
            "Chỉ nhận tệp PDF, Word, Excel, PowerPoint hoặc OpenDocument "
            "(unsupported file type).",
            code="unsupported_type",
        )
    source_sha256, _ = hash_file(path)
    record = store.source_record(source_sha256)
    try:
        with storage_errors():  # the disk filling up: a clear 507 (the workspace goes anyway)
            if record is not None:
                if record.get("protected"):
                    run_isolated(check_only, str(path), password, LIMITS, timeout=CHECK_TIMEOUT)
                return _prepared(record, filename, source_sha256, kind, reused=True)
            with store.workspace() as work:
                pdf = path
                if kind != PDF:
                    pdf = Converter.from_settings(settings).to_pdf(path, kind, work)
                    password = None
                clean = work / "clean.pdf"
                info, removed, protected = run_isolated(
                    check_and_sanitize, str(pdf), str(clean), password, LIMITS,
                    timeout=CHECK_TIMEOUT,
                )
                sha256, stored_size = store.put_file(clean, move=True)
    except PdfError as exc:
        raise _upload_error(exc) from None
    record = {
        "sha256": sha256,
        "size": stored_size,
        "page_count": info.page_count,
        "page_sizes": [list(s) for s in info.page_sizes],
        "metadata_title": info.title,
        "removed": removed,
        "protected": protected,
    }
    with storage_errors():
        store.record_source(source_sha256, record)
    return _prepared(record, filename, source_sha256, kind, reused=False)


def _prepared(
    record: dict[str, Any], filename: str, source_sha256: str, kind: str, *, reused: bool
) -> PreparedFile:
    return PreparedFile(
        sha256=record["sha256"],
        size=int(record["size"]),
        media_type=PDF_MEDIA_TYPE,
        page_count=int(record["page_count"]),
        title=guess_title(str(record.get("metadata_title", "")), filename),
        filename=filename,
        source_sha256=source_sha256,
        source_type=kind,
        page_sizes=record.get("page_sizes", []),
        removed=record.get("removed", {}),
        reused=reused,
    )


# --- events and views --------------------------------------------------------------------------


class DocumentInfo(Schema):
    id: int
    title: str
    filename: str
    confidential: bool
    # Changes with each change of confidentiality; content URLs carry it (``?v=``).
    access_version: int
    version: int
    replaces_id: int | None
    item_ids: list[int]
    sha256: str | None
    size: int
    page_count: int | None
    status: str  # pending, rendering, ready, failed
    error: str | None
    pages_ready: int
    created_at: datetime


class DocumentAdded(Schema):
    document: DocumentInfo
    pack_version: int


class DocumentReplaced(Schema):
    document: DocumentInfo
    replaced_id: int
    pack_version: int


class DocumentProgress(Schema):
    document_ids: list[int]
    pages_ready: int = Field(ge=0)
    page_count: int = Field(ge=0)
    pages: list[int]  # pages (1-based) that became ready since the last progress event


class DocumentRendered(Schema):
    document_ids: list[int]
    page_count: int
    status: str  # ready or failed
    error: str | None = None
    failed_pages: list[int] = Field(default_factory=list)  # 1-based


event("document.added", DocumentAdded, audience="meeting",
      sent_by="document upload (POST /api/meetings/{id}/documents) and meeting preparation",
      summary="A document was attached to the meeting. Its pages render in the background. "
      "Observers get `event.withheld` in its place for a confidential one.")
event("document.replaced", DocumentReplaced, audience="meeting",
      sent_by="POST /api/documents/{id}/versions and meeting preparation",
      summary="A document has a new version; `replaced_id` is the old version's id. Observers "
      "get `event.withheld` in its place for a confidential one.")
event("document.progress", DocumentProgress, audience="meeting", logged=False,
      sent_by="the render pipeline",
      summary="More pages of a document are ready to show (coalesced, at most a few a second). "
      "Not logged: the `documents` snapshot part holds the current `pages_ready`. Observers "
      "get only the documents they may see, nothing when none.")
event("document.ready", DocumentRendered, audience="meeting",
      sent_by="the render pipeline",
      summary="Every page of a document has been rendered (`status` ready), or some failed "
      "(`status` failed, with `error` and `failed_pages`; the other pages are served). "
      "Observers get only the documents they may see (`event.withheld` when none).")


def _item_links(session: Session, document_ids: list[int]) -> dict[int, list[int]]:
    links: dict[int, list[int]] = {doc_id: [] for doc_id in document_ids}
    if not document_ids:
        return links
    rows = session.exec(
        select(AgendaItemDocument).where(col(AgendaItemDocument.document_id).in_(document_ids))
    ).all()
    for row in rows:
        links[row.document_id].append(row.agenda_item_id)
    return links


def secret_documents(_session: Session, docs: list[Document]) -> set[int]:
    """Which of ``docs`` are confidential (the stored, sticky fact: ``access.secret_ids``)."""
    return secret_ids(docs)


def document_info(doc: Document, blob: Blob | None, item_ids: list[int]) -> DocumentInfo:
    assert doc.id is not None
    return DocumentInfo(
        id=doc.id,
        title=doc.title,
        filename=doc.filename,
        confidential=doc.confidential,
        access_version=doc.access_version,
        version=doc.version,
        replaces_id=doc.replaces_id,
        item_ids=sorted(item_ids),
        sha256=doc.blob_sha256,
        size=blob.size if blob else 0,
        page_count=blob.page_count if blob else None,
        status=blob.status if blob else "pending",
        error=blob.error if blob else None,
        pages_ready=blob.pages_ready if blob else 0,
        created_at=doc.created_at,
    )


def may_see(actor: Actor, confidential: bool) -> bool:
    """Whether ``actor`` may learn that a document (confidential or not) exists."""
    return decide(actor.role, is_admin=actor.is_admin, confidential=confidential,
                  form=Form.LISTING).known


def describe(session: Session, doc: Document) -> DocumentInfo:
    """A document as events and answers show it (status from its blob, agenda links)."""
    assert doc.id is not None
    blob = session.get(Blob, doc.blob_sha256)
    links = _item_links(session, [doc.id])[doc.id]
    return document_info(doc, blob, links)


def meeting_documents(session: Session, meeting_id: int, actor: Actor) -> list[DocumentInfo]:
    """The meeting's current documents (latest versions) that ``actor`` may see."""
    every = list(session.exec(
        select(Document)
        .where(Document.meeting_id == meeting_id, col(Document.replaced_by_id).is_(None))
        .order_by(col(Document.id))
    ).all())
    docs = visible(actor, every)
    shas = {d.blob_sha256 for d in docs}
    blobs = {b.sha256: b for b in session.exec(select(Blob).where(col(Blob.sha256).in_(shas)))}
    links = _item_links(session, [d.id for d in docs if d.id is not None])
    return [document_info(d, blobs.get(d.blob_sha256), links[d.id or 0]) for d in docs]


@snapshot_part("documents", private=True)
def documents_part(session: Session, actor: Actor, meeting: Meeting) -> list[dict[str, Any]]:
    """Re-sent on resync: rendering progress travels in events outside the log."""
    assert meeting.id is not None
    return [d.model_dump(mode="json") for d in meeting_documents(session, meeting.id, actor)]


@dataclass(frozen=True)
class DocumentAccess:
    """A document as one caller may use it."""

    meeting: Meeting
    actor: Actor
    document: Document
    blob: Blob

    @property
    def confidential(self) -> bool:
        return self.document.confidential


def load_document(session: Session, user: SessionInfo, document_id: int) -> DocumentAccess:
    """The document (any version) and the caller's place in its meeting; ``NotFound`` for
    anyone who may not learn it exists (outsiders, and observers for a confidential one)."""
    missing = NotFound(f"Không tìm thấy tài liệu #{document_id}.", code="document_not_found")
    doc = session.get(Document, document_id)
    if doc is None:
        raise missing
    try:
        meeting, actor = load_actor(session, user, doc.meeting_id)
    except NotFound:
        raise missing from None
    blob = session.get(Blob, doc.blob_sha256)
    if blob is None:
        raise missing
    require(actor, doc, Form.LISTING)
    return DocumentAccess(meeting, actor, doc, blob)


# --- attaching ---------------------------------------------------------------------------------


def _ensure_blob(session: Session, prepared: PreparedFile) -> Blob:
    blob = session.get(Blob, prepared.sha256)
    if blob is None:
        blob = Blob(
            sha256=prepared.sha256,
            size=prepared.size,
            media_type=prepared.media_type,
            page_count=prepared.page_count,
            page_sizes=prepared.page_sizes,
            status="pending",
        )
        session.add(blob)
        session.flush()
    return blob


def _title(title: str, prepared: PreparedFile) -> str:
    text = " ".join(nfc(title or "").split())
    if len(text) > 300:
        raise InvalidInput(
            "Tên tài liệu dài quá 300 ký tự (title too long).", code="invalid_title"
        )
    return text or prepared.title


def _emit_added(ctx: CommandContext, info: DocumentInfo, pack_version: int) -> None:
    payload = DocumentAdded(document=info, pack_version=pack_version)
    # Observers learn no id, title or count of confidential documents.
    ctx.emit("document.added", payload, observer_payload=WITHHELD if info.confidential else None)


def attach_document(
    session: Session,
    ctx: CommandContext,
    prepared: PreparedFile,
    *,
    title: str,
    confidential: bool = False,
    item_id: int | None = None,
    uploaded_by: int | None = None,
) -> Document:
    """Add a prepared file to the meeting (at the end of the item's documents when given).

    A document attached to a confidential agenda item is confidential too, for good (see
    ``services.meetings.confidentiality``). The caller checks
    that the actor may edit the meeting and, after the commit, publishes ``ctx.events`` and
    submits the blob for rendering.
    """
    meeting = ctx.meeting
    assert meeting.id is not None
    lifecycle.check_editable(meeting.status)
    item = None
    if item_id is not None:
        item = session.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting.id:
            raise InvalidInput(
                f"Không có mục #{item_id} trong chương trình.", code="agenda_item_not_found"
            )
    blob = _ensure_blob(session, prepared)
    doc = Document(
        meeting_id=meeting.id,
        blob_sha256=blob.sha256,
        title=_title(title, prepared),
        filename=prepared.filename,
        confidential=bool(confidential or (item is not None and item.confidential)),
        uploaded_by=uploaded_by,
        source_sha256=prepared.source_sha256,
    )
    session.add(doc)
    session.flush()
    assert doc.id is not None
    if item is not None:
        last = session.exec(
            select(func.max(AgendaItemDocument.position)).where(
                AgendaItemDocument.agenda_item_id == item.id
            )
        ).one()
        session.add(
            AgendaItemDocument(
                agenda_item_id=item.id or 0, document_id=doc.id, position=(last or 0) + 1
            )
        )
        session.flush()
    version = record_change(ctx)
    _emit_added(ctx, describe(session, doc), version)
    return doc


def replace_document(
    session: Session,
    ctx: CommandContext,
    document_id: int,
    prepared: PreparedFile,
    *,
    uploaded_by: int | None = None,
) -> Document:
    """Make ``prepared`` the next version of a document; the old version is marked replaced
    and the new one takes its place in the agenda. The new version is as confidential as the
    old (confidentiality belongs to the whole lineage)."""
    meeting = ctx.meeting
    lifecycle.check_editable(meeting.status)
    old = session.get(Document, document_id)
    if old is None or old.meeting_id != meeting.id:
        raise NotFound(f"Không tìm thấy tài liệu #{document_id}.", code="document_not_found")
    if old.replaced_by_id is not None:
        raise Conflict(
            f"Tài liệu #{document_id} đã có phiên bản mới hơn (#{old.replaced_by_id}).",
            code="document_already_replaced",
            details={"replaced_by_id": old.replaced_by_id},
        )
    blob = _ensure_blob(session, prepared)
    new = Document(
        meeting_id=old.meeting_id,
        blob_sha256=blob.sha256,
        title=old.title,
        filename=prepared.filename,
        confidential=old.confidential,
        version=old.version + 1,
        replaces_id=old.id,
        uploaded_by=uploaded_by,
        source_sha256=prepared.source_sha256,
    )
    session.add(new)
    session.flush()
    assert new.id is not None and old.id is not None
    old.replaced_by_id = new.id
    session.add(old)
    links = session.exec(
        select(AgendaItemDocument).where(AgendaItemDocument.document_id == old.id)
    ).all()
    for link in links:
        link.document_id = new.id
        session.add(link)
    session.flush()
    version = record_change(ctx)
    info = describe(session, new)
    payload = DocumentReplaced(document=info, replaced_id=old.id, pack_version=version)
    ctx.emit("document.replaced", payload,
             observer_payload=WITHHELD if info.confidential else None)
    return new


def prepared_summary(prepared: PreparedFile) -> dict[str, Any]:
    """The upload answer's account of what happened to the file."""
    data = asdict(prepared)
    data.pop("page_sizes")
    return data
