"""Annotations over HTTP: the annotations of a document, and exports as annotated PDFs.

The PDFs are written per request (they hold one person's notes, so nothing is cached or shared)
in a child process, at most ``EXPORTS_AT_ONCE`` at a time per server process.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Final
from urllib.parse import quote

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.core.errors import Unavailable
from ecabinet.pdf.annotate import Report, annotated_document, annotated_pack
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import run_isolated
from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.annotations import export as annotation_export
from ecabinet.services.annotations import readable, wanted_ids
from ecabinet.services.documents import PDF_MEDIA_TYPE, load_document
from ecabinet.storage.blobs import BlobStore
from ecabinet.web.common import require_user, runtime

EXPORTS_AT_ONCE: Final = 2
EXPORT_TIMEOUT: Final = 300.0
_exports = threading.BoundedSemaphore(EXPORTS_AT_ONCE)
_SHARED_HELP = (
    " `?shared=0` leaves out the annotations others shared (default: included)."
)


def _include_shared(request: Request) -> bool:
    return request.query_params.get("shared", "1").lower() not in ("0", "false", "no")


def _attachment(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store",
    }


def _isolated(fn: Any, *args: Any) -> Any:
    """Run PDF writing in a child process (MuPDF must not run on two server threads at
    once), at most ``EXPORTS_AT_ONCE`` at a time; blocking, for a worker thread."""
    with _exports:
        return run_isolated(fn, *args, timeout=EXPORT_TIMEOUT)


async def _export(fn: Any, *args: Any) -> tuple[bytes, Report]:
    try:
        result: tuple[bytes, Report] = await asyncio.to_thread(_isolated, fn, *args)
    except PdfError as exc:
        raise Unavailable(
            f"Không tạo được tệp PDF có ghi chú: {exc.message}", code="export_failed",
            details={"reason": exc.code},
        ) from None
    return result


async def _audit(request: Request, user: SessionInfo, subject: str, details: dict[str, Any]
                 ) -> None:
    address = request.client.host if request.client else ""
    await runtime(request).db.write(
        audit.record, audit.EXPORT, actor_id=user.user_id, subject=subject, details=details,
        address=address,
    )


def _document_annotations(session: Session, user: SessionInfo, document_id: int,
                          ids: list[int] | None) -> list[dict[str, Any]]:
    access = load_document(session, user, document_id)
    assert access.meeting.id is not None
    views = readable(session, access.actor, access.meeting.id, document_ids=[document_id],
                     ids=ids)
    return [v.model_dump(mode="json") for v in views]


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/annotations",
    roles=MEETING_READERS,
    summary="The annotations of a document the caller may read: their own (any visibility), "
    "shared ones, and for the chair and secretaries the staff ones. Same items as the "
    "`annotations` snapshot part. `?ids=4,7` (at most 200 ids) gives only those of them: "
    "how a client fetches the contents the logged `annotation.saved` names; an id the caller "
    "may not read (any more) is left out.",
    errors=("document_not_found", "invalid_payload"),
)
async def document_annotations(request: Request) -> Response:
    user = await require_user(request)
    ids = wanted_ids(request.query_params.get("ids"))
    found = await runtime(request).db.read(
        _document_annotations, user, int(request.path_params["document_id"]), ids
    )
    return JSONResponse({"annotations": found}, headers={"Cache-Control": "no-store"})


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/annotated.pdf",
    roles=MEETING_READERS,
    summary="Download the document with the caller's annotations written in as PDF annotations "
    "(Ink, Highlight, Text notes, FreeText) that any PDF reader shows; annotations kept from a "
    "previous version are listed on a last page." + _SHARED_HELP + " Confidential documents "
    "are never exported (`confidential_no_export`).",
    errors=("document_not_found", "confidential_no_export", "export_failed"),
)
async def export_document(request: Request) -> Response:
    rt = runtime(request)
    user = await require_user(request)
    document_id = int(request.path_params["document_id"])
    shared = _include_shared(request)
    plan = await rt.db.read(annotation_export.document_export, user, document_id, shared)
    path = BlobStore(rt.settings.data_dir).path(plan.sha256)
    data, report = await _export(annotated_document, str(path), plan.marks, plan.unplaced)
    await _audit(request, user, f"document:{document_id}",
                 {"what": "annotated", "annotations": sum(report.written.values()),
                  "shared": shared})
    stem = plan.filename.rsplit(".", 1)[0] if "." in plan.filename else plan.filename
    return Response(data, media_type=PDF_MEDIA_TYPE,
                    headers=_attachment(f"{stem or 'tai-lieu'}-ghi-chu.pdf"))


@endpoint(
    "GET",
    "/api/meetings/{meeting_id:int}/annotated.pdf",
    roles=MEETING_READERS,
    summary="Download the whole pack (current versions, in agenda order) as one PDF with the "
    "caller's annotations, a first page listing the documents and a bookmark for each."
    + _SHARED_HELP + " Confidential documents are left out and listed as such (observers do "
    "not see them listed).",
    errors=("meeting_not_found", "export_failed"),
)
async def export_pack(request: Request) -> Response:
    rt = runtime(request)
    user = await require_user(request)
    meeting_id = int(request.path_params["meeting_id"])
    shared = _include_shared(request)
    plan = await rt.db.read(annotation_export.pack_export, user, meeting_id, shared,
                            rt.settings.timezone)
    entries = plan.pack_entries(BlobStore(rt.settings.data_dir))
    data, report = await _export(annotated_pack, entries, plan.heading)
    await _audit(request, user, f"meeting:{meeting_id}",
                 {"what": "annotated_pack", "annotations": sum(report.written.values()),
                  "documents": sum(1 for e in entries if e.path is not None), "shared": shared})
    return Response(data, media_type=PDF_MEDIA_TYPE,
                    headers=_attachment(f"tai-lieu-hop-{meeting_id}-ghi-chu.pdf"))

