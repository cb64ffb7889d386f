"""Annotations over HTTP: the annotations of a document, and exports as annotated PDFs."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services.annotations import export as annotation_export
from ecabinet.services.annotations import wanted_ids
from ecabinet.services.annotations.reading import document_annotations as annotations_of
from ecabinet.services.documents import PDF_MEDIA_TYPE
from ecabinet.web.common import require_user, runtime

_SHARED_HELP = (
    " `?shared=0` leaves out the annotations others shared (default: included)."
)


def _include_shared(request: Request) -> bool:
    return request.query_params.get("shared", "1").lower() not in ("0", "false", "no")


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _pdf(pdf: annotation_export.AnnotatedPdf) -> Response:
    return Response(pdf.data, media_type=PDF_MEDIA_TYPE, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(pdf.filename)}",
        "Cache-Control": "private, no-store",
    })


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
        annotations_of, user, int(request.path_params["document_id"]), ids
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
    pdf = await annotation_export.export_document_pdf(
        rt.db, rt.settings, user, int(request.path_params["document_id"]),
        _include_shared(request), _address(request))
    return _pdf(pdf)


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
    pdf = await annotation_export.export_pack_pdf(
        rt.db, rt.settings, user, int(request.path_params["meeting_id"]),
        _include_shared(request), _address(request))
    return _pdf(pdf)
