"""What an annotated export of a document or of the whole pack contains, for one person.

An export holds the caller's own annotations (private, staff and shared alike) and, unless they
ask for their own only, the annotations others shared with the meeting. Annotations others
addressed to the staff stay out even of a staff member's export: they were written for the
meeting's conduct, not for a file that leaves it. Annotations kept from an earlier version of
the document (not placed on this one) are listed on a last page instead of drawn.

A confidential document is never exported: asked for alone, the answer is the error
``confidential_no_export``; in the pack it is listed as left out (members see its title, as in
the pack book; observers, who may not know it exists, find nothing).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from ecabinet.core.errors import Unavailable
from ecabinet.core.settings import Settings
from ecabinet.domain import agenda as agenda_rules
from ecabinet.pdf.annotate import (
    Mark,
    PackEntry,
    Report,
    Unplaced,
    annotated_document,
    annotated_pack,
)
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import run_isolated
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.annotations import readable
from ecabinet.services.annotations.events import AnnotationView
from ecabinet.services.documents import load_document
from ecabinet.services.documents.access import Form, Grant, may_have, require
from ecabinet.services.kernel.context import Actor, load_actor, require_roles
from ecabinet.services.room import load_items
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.database import Database
from ecabinet.storage.models import AgendaItemDocument, Document

LEFT_OUT: Final = "tài liệu mật, không có trong bản tải về (confidential: not exported)"


@dataclass(frozen=True)
class DocumentExport:
    title: str
    filename: str
    sha256: str
    marks: list[Mark]
    unplaced: list[Unplaced]


@dataclass(frozen=True)
class PackExport:
    heading: list[str]
    entries: list[tuple[str, str | None, list[Mark], list[Unplaced]]]  # title, sha256 or None

    def pack_entries(self, store: BlobStore) -> list[PackEntry]:
        return [
            PackEntry(title, Path(store.path(sha)) if sha else None, marks, unplaced,
                      "" if sha else LEFT_OUT)
            for title, sha, marks, unplaced in self.entries
        ]


def _chosen(actor: Actor, view: AnnotationView, include_shared: bool) -> bool:
    if view.author.user_id == actor.user_id:
        return True
    return include_shared and view.visibility == "shared"


def _split(
    session: Session, actor: Actor, views: list[AnnotationView], include_shared: bool
) -> dict[int, tuple[list[Mark], list[Unplaced]]]:
    versions = {
        d.id: d.version
        for d in session.exec(
            select(Document).where(
                col(Document.id).in_({v.orphaned_from_document_id for v in views
                                      if v.orphaned_from_document_id is not None})
            )
        )
    }
    out: dict[int, tuple[list[Mark], list[Unplaced]]] = {}
    for view in views:
        if not _chosen(actor, view, include_shared):
            continue
        marks, unplaced = out.setdefault(view.document_id, ([], []))
        if view.orphaned_from_document_id is not None:
            text = str(view.data.get("text") or view.data.get("comment") or "")
            unplaced.append(Unplaced(view.kind, view.page, text, view.author.full_name,
                                     versions.get(view.orphaned_from_document_id)))
        else:
            marks.append(Mark(view.kind, view.page, view.data, view.author.full_name,
                              view.created_at, view.updated_at))
    return out


def document_export(
    session: Session, user: SessionInfo, document_id: int, include_shared: bool
) -> DocumentExport:
    """One document with the caller's annotations (``document_not_found`` for those who may
    not see it, ``confidential_no_export`` for a confidential one)."""
    access = load_document(session, user, document_id)
    require(access.actor, access.document, Form.ANNOTATED_EXPORT)
    assert access.meeting.id is not None
    views = readable(session, access.actor, access.meeting.id, document_ids=[document_id])
    marks, unplaced = _split(session, access.actor, views, include_shared).get(
        document_id, ([], []))
    doc = access.document
    return DocumentExport(doc.title, doc.filename, access.blob.sha256, marks, unplaced)


def _in_agenda_order(session: Session, meeting_id: int, docs: list[Document]) -> list[Document]:
    by_id = {d.id: d for d in docs}
    links = session.exec(
        select(AgendaItemDocument).where(col(AgendaItemDocument.document_id).in_(list(by_id)))
    ).all()
    by_item: dict[int, list[AgendaItemDocument]] = {}
    for link in links:
        by_item.setdefault(link.agenda_item_id, []).append(link)
    ordered: list[Document] = []
    seen: set[int] = set()
    for numbered in agenda_rules.ordered(load_items(session, meeting_id)):
        for link in sorted(by_item.get(numbered.id, []), key=lambda k: (k.position, k.id or 0)):
            if link.document_id not in seen:
                seen.add(link.document_id)
                ordered.append(by_id[link.document_id])
    ordered += [d for i, d in sorted(by_id.items(), key=lambda kv: kv[0] or 0) if i not in seen]
    return ordered


def pack_export(
    session: Session, user: SessionInfo, meeting_id: int, include_shared: bool, timezone: str
) -> PackExport:
    """Every current document of the meeting the caller may see, in agenda order, each with
    the caller's annotations; confidential ones listed as left out (for members)."""
    meeting, actor = load_actor(session, user, meeting_id)
    require_roles(actor, MEETING_READERS, "annotation.export")
    docs = list(session.exec(
        select(Document).where(
            Document.meeting_id == meeting_id, col(Document.replaced_by_id).is_(None)
        )
    ).all())
    views = readable(session, actor, meeting_id)
    split = _split(session, actor, views, include_shared)
    entries: list[tuple[str, str | None, list[Mark], list[Unplaced]]] = []
    for doc in _in_agenda_order(session, meeting_id, docs):
        decision = may_have(actor, doc, Form.ANNOTATED_EXPORT)
        if decision.grant is not Grant.FULL:
            if decision.known:
                entries.append((doc.title, None, [], []))
            continue
        marks, unplaced = split.get(doc.id or 0, ([], []))
        entries.append((doc.title, doc.blob_sha256, marks, unplaced))
    now = datetime.now(ZoneInfo(timezone))
    heading = [
        "Tài liệu cuộc họp kèm ghi chú",
        meeting.title,
        f"Ghi chú của: {actor.full_name}"
        + (" (kèm ghi chú được chia sẻ trong cuộc họp)" if include_shared else ""),
        f"Xuất lúc {now:%H:%M} ngày {now:%d/%m/%Y}",
    ]
    return PackExport(heading, entries)


# --- writing the PDFs --------------------------------------------------------------------------

# The PDFs are written per request (they hold one person's notes: nothing is cached or shared),
# each in a child process, at most ``EXPORTS_AT_ONCE`` at a time per server process.
EXPORTS_AT_ONCE: Final = 2
EXPORT_TIMEOUT: Final = 300.0
_exports = threading.BoundedSemaphore(EXPORTS_AT_ONCE)


@dataclass(frozen=True)
class AnnotatedPdf:
    data: bytes
    filename: str


def _isolated(fn: Any, *args: Any) -> Any:
    """Run PDF writing in a child process (MuPDF must not run on two server threads at
    once), at most ``EXPORTS_AT_ONCE`` at a time; blocking, for a worker thread."""
    with _exports:
        return run_isolated(fn, *args, timeout=EXPORT_TIMEOUT)


async def _written(fn: Any, *args: Any) -> tuple[bytes, Report]:
    try:
        result: tuple[bytes, Report] = await asyncio.to_thread(_isolated, fn, *args)
    except PdfError as exc:
        raise Unavailable(
            f"Không tạo được tệp PDF có ghi chú: {exc.message}", code="export_failed",
            details={"reason": exc.code},
        ) from None
    return result


async def _audit(db: Database, user: SessionInfo, subject: str, details: dict[str, Any],
                 address: str) -> None:
    await db.write(audit.record, audit.EXPORT, actor_id=user.user_id, subject=subject,
                   details=details, address=address)


async def export_document_pdf(
    db: Database, settings: Settings, user: SessionInfo, document_id: int,
    include_shared: bool, address: str,
) -> AnnotatedPdf:
    """The document as a PDF with the caller's annotations written in (see
    ``document_export``); audited."""
    plan = await db.read(document_export, user, document_id, include_shared)
    path = BlobStore(settings.data_dir).path(plan.sha256)
    data, report = await _written(annotated_document, str(path), plan.marks, plan.unplaced)
    await _audit(db, user, f"document:{document_id}",
                 {"what": "annotated", "annotations": sum(report.written.values()),
                  "shared": include_shared}, address)
    stem = plan.filename.rsplit(".", 1)[0] if "." in plan.filename else plan.filename
    return AnnotatedPdf(data, f"{stem or 'tai-lieu'}-ghi-chu.pdf")


async def export_pack_pdf(
    db: Database, settings: Settings, user: SessionInfo, meeting_id: int, include_shared: bool,
    address: str,
) -> AnnotatedPdf:
    """The whole pack as one PDF with the caller's annotations (see ``pack_export``);
    audited."""
    plan = await db.read(pack_export, user, meeting_id, include_shared, settings.timezone)
    entries = plan.pack_entries(BlobStore(settings.data_dir))
    data, report = await _written(annotated_pack, entries, plan.heading)
    await _audit(db, user, f"meeting:{meeting_id}",
                 {"what": "annotated_pack", "annotations": sum(report.written.values()),
                  "documents": sum(1 for e in entries if e.path is not None),
                  "shared": include_shared}, address)
    return AnnotatedPdf(data, f"tai-lieu-hop-{meeting_id}-ghi-chu.pdf")
