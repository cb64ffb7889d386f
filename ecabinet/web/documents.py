"""Documents over HTTP: upload, status, page images, text, outline, download, the pack book,
declassifying.

The reads answer representations named by a tag (``services.documents.reading``): here the tag
becomes a strong ETag, a client that holds it gets 304 before anything is rendered, watermarked
or audited, and the caching headers follow the representation, always ``private`` (every read
is authenticated): a year of ``immutable`` caching for content under its current access version
(``?v=``), a minute for watermarked confidential pages, revalidation otherwise. A URL with an
older access version is redirected to the current one. A page still rendering after
``PAGE_WAIT`` seconds answers 503 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import partial
from typing import Any, Final, TypeVar
from urllib.parse import quote

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ecabinet.core.errors import InvalidInput
from ecabinet.core.validation import validate
from ecabinet.protocol import Schema, endpoint
from ecabinet.protocol.roles import EDITORS, MEETING_READERS
from ecabinet.services import documents
from ecabinet.services.documents import UPLOAD_ERRORS, PreparedFile, reclassify, uploads
from ecabinet.services.documents.reading import (
    Caching,
    DocumentReads,
    PageNotReady,
    Representation,
    StaleAccessVersion,
)
from ecabinet.web.actions import meeting_action
from ecabinet.web.common import json_body, require_user, runtime
from ecabinet.web.prep_common import meeting_read
from ecabinet.web.uploads import receive_upload, spooled

PAGE_WAIT: Final = 8.0
RETRY_AFTER: Final = "1"
CACHE_CONTROL: Final[dict[Caching, str]] = {
    "immutable": "private, max-age=31536000, immutable",
    "watermarked": "private, max-age=60",
    "revalidate": "private, no-cache",
}
DOC_ERRORS: Final = ("document_not_found",)
READ_ERRORS: Final = ("document_not_found", "invalid_payload")
MAX_VERSION: Final = 2**31 - 1


class UploadForm(Schema):
    """The text fields of an upload (the file itself is the ``file`` part)."""

    title: str = Field(default="", max_length=300)
    confidential: bool = False
    item_id: int | None = Field(default=None, ge=1)
    password: str | None = Field(default=None, max_length=1024)

    @field_validator("item_id", "password", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class VersionForm(Schema):
    password: str | None = Field(default=None, max_length=1024)

    @field_validator("password", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


F = TypeVar("F", UploadForm, VersionForm)


def _int(request: Request, name: str) -> int:
    return int(request.path_params[name])


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _version(request: Request) -> int | None:
    """The access version the URL names (``?v=``), if any."""
    raw = request.query_params.get("v")
    if raw is None:
        return None
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_VERSION:
        raise InvalidInput(
            "Tham số 'v' phải là số nguyên dương (v: the document's access version).",
            code="invalid_payload", details=[{"field": "v", "message": "a positive integer"}],
        )
    return int(raw)


def _moved(request: Request, exc: StaleAccessVersion) -> Response:
    """To the same content under the document's current access version (never cached)."""
    current = exc.details["access_version"]
    url = request.url.include_query_params(v=current)
    return RedirectResponse(f"{url.path}?{url.query}", status_code=307,
                            headers={"Cache-Control": "no-store"})


def _reads(request: Request) -> DocumentReads:
    """This application's document reads (its viewing log and book builds live there)."""
    reads: DocumentReads | None = getattr(request.app.state, "document_reads", None)
    if reads is None:
        rt = runtime(request)
        reads = DocumentReads(rt.db, rt.settings, lambda: rt.renders)
        request.app.state.document_reads = reads
    return reads


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, "*") for tag in header.split(","))


async def _page(request: Request, read: Awaitable[Representation]) -> Response:
    """Content: a page's image or words, the bookmarks. A page still rendering answers 503
    with Retry-After; an older access version, a redirect to the current one."""
    try:
        return await _answer(request, await read)
    except PageNotReady as exc:
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status,
                            headers={"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"})
    except StaleAccessVersion as exc:
        return _moved(request, exc)


async def _answer(request: Request, rep: Representation,
                  headers: dict[str, str] | None = None) -> Response:
    """304 when the client holds the representation's tag, else its bytes or its file."""
    etag = f'"{rep.tag}"'
    sent = {"ETag": etag, "Cache-Control": CACHE_CONTROL[rep.caching], **(headers or {})}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=sent)
    content = await rep.produce()
    if isinstance(content, bytes):
        return Response(content, media_type=rep.media_type, headers=sent)
    return FileResponse(content, media_type=rep.media_type, headers=sent)


# --- upload ------------------------------------------------------------------------------------


async def _receive(
    request: Request, meeting_id: int, form_model: type[F]
) -> tuple[PreparedFile, F]:
    """Authorise first (nobody else may send megabytes), stream, check the fields, prepare."""
    rt = runtime(request)
    user = await require_user(request)
    await rt.db.read(uploads.check_uploader, user, meeting_id)
    upload = await receive_upload(request, uploads.spool_folder(rt.settings),
                                  rt.settings.max_upload_bytes)
    with spooled(upload):
        assert upload.path is not None
        form = validate(form_model, upload.fields)
        prepared = await uploads.prepare_upload(
            rt.settings, upload.path, upload.filename, form.password)
    return prepared, form


async def _render(request: Request, prepared: PreparedFile, info: documents.DocumentInfo
                  ) -> Response:
    await _reads(request).renders.submit(prepared.sha256)
    return JSONResponse(
        {"document": info.model_dump(mode="json"), "file": documents.prepared_summary(prepared)},
        status_code=201,
    )


@endpoint(
    "POST",
    "/api/meetings/{meeting_id:int}/documents",
    roles=EDITORS,
    form=UploadForm,
    status=201,
    summary="Upload a document (multipart: `file`, and optional `title`, `confidential`, "
    "`item_id`, `password`). PDF, or Word/Excel/PowerPoint/OpenDocument converted by "
    "LibreOffice; checked and sanitised, stored once by content. Answers 201 at once with the "
    "document (`status` pending); pages render in the background (`document.progress`, "
    "`document.ready`).",
    errors=(
        "meeting_not_found", "forbidden_role", "meeting_archived", "multipart_required",
        "malformed_upload", "file_required", "invalid_payload", "agenda_item_not_found",
        "invalid_title", *UPLOAD_ERRORS,
    ),
)
async def upload_document(request: Request) -> Response:
    meeting_id = _int(request, "meeting_id")
    prepared, form = await _receive(request, meeting_id, UploadForm)
    attach = partial(uploads.attach_upload, title=form.title, confidential=form.confidential,
                     item_id=form.item_id)
    info = await meeting_action(request, meeting_id, EDITORS, "document.upload", attach,
                                prepared)
    return await _render(request, prepared, info)


@endpoint(
    "POST",
    "/api/documents/{document_id:int}/versions",
    roles=EDITORS,
    form=VersionForm,
    status=201,
    summary="Upload a new version of a document (multipart: `file`, optional `password`); the "
    "old version is marked replaced and the new one takes its place in the agenda.",
    errors=(
        "document_not_found", "forbidden_role", "meeting_archived", "document_already_replaced",
        "multipart_required", "malformed_upload", "file_required", "invalid_payload",
        *UPLOAD_ERRORS,
    ),
)
async def upload_version(request: Request) -> Response:
    rt = runtime(request)
    document_id = _int(request, "document_id")
    user = await require_user(request)
    meeting_id = await rt.db.read(uploads.document_meeting, user, document_id)
    prepared, _form = await _receive(request, meeting_id, VersionForm)
    info = await meeting_action(request, meeting_id, EDITORS, "document.replace",
                                uploads.replace_upload, document_id, prepared)
    return await _render(request, prepared, info)


# --- reading -----------------------------------------------------------------------------------


@endpoint(
    "GET",
    "/api/meetings/{meeting_id:int}/documents",
    roles=MEETING_READERS,
    summary="The meeting's current documents the caller may see (observers: no confidential "
    "ones), with rendering status.",
    errors=("meeting_not_found",),
)
async def list_documents(request: Request) -> Response:
    docs = await meeting_read(request, _int(request, "meeting_id"), MEETING_READERS,
                              "document.list", documents.documents_part)
    return JSONResponse({"documents": docs}, headers={"Cache-Control": "private, no-cache"})


@endpoint(
    "GET",
    "/api/documents/{document_id:int}",
    roles=MEETING_READERS,
    summary="A document's status and layout: page count, page sizes in points, pages ready, "
    "the rendition sizes, its `access_version`, what the caller may have of it (`forms`: "
    "full, watermarked, left_out) and the URL patterns (null for a form left out).",
    errors=DOC_ERRORS,
)
async def document_status(request: Request) -> Response:
    user = await require_user(request)
    document_id = _int(request, "document_id")
    data = await _reads(request).status(user, document_id)
    base = f"/api/documents/{document_id}"
    v = f"?v={data['access_version']}"
    forms = data["forms"]
    data["urls"] = {
        "page": base + "/pages/{page}/{size}" + v,
        "text": base + "/pages/{page}/text" + v if forms["text"] == "full" else None,
        "outline": base + "/outline" + v if forms["outline"] == "full" else None,
        "file": base + "/file" + v if forms["pdf"] == "full" else None,
    }
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/pages/{page:int}/{size}",
    roles=MEETING_READERS,
    summary="A page image (`page` from 1; `size` tablet ~1280 px, zoom ~2560 px or thumb "
    "~200 px wide; JPEG). `?v=` the document's `access_version`: under the current one, "
    "private immutable caching; an older one redirects (307) to the current URL; without it, "
    "revalidated (strong ETag). A page not rendered yet is rendered first in line (503 "
    "`page_not_ready` with Retry-After if it takes long). Confidential documents: "
    "watermarked with the viewer's name and the time, kept a minute.",
    errors=("document_not_found", "invalid_payload", "page_not_found", "unknown_size",
            "page_not_ready", "page_failed"),
)
async def page_image(request: Request) -> Response:
    user = await require_user(request)
    read = _reads(request).page_image(
        user, _int(request, "document_id"), _int(request, "page"), request.path_params["size"],
        wait=PAGE_WAIT, address=_address(request), version=_version(request))
    return await _page(request, read)


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/pages/{page:int}/text",
    roles=MEETING_READERS,
    summary="A page's words with their boxes, in points from the page's top left as displayed: "
    "`{width, height, words: [[x0, y0, x1, y1, word], ...]}` (search and highlights use them; "
    "`?v=` as for page images). Not for confidential documents (they are served only as "
    "watermarked images).",
    errors=("document_not_found", "invalid_payload", "page_not_found",
            "confidential_images_only", "page_not_ready", "page_failed"),
)
async def page_text(request: Request) -> Response:
    user = await require_user(request)
    read = _reads(request).page_text(user, _int(request, "document_id"), _int(request, "page"),
                                     wait=PAGE_WAIT, version=_version(request))
    return await _page(request, read)


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/outline",
    roles=MEETING_READERS,
    summary="The document's bookmarks: `{outline: [{level, title, page}]}` (`page` from 1, "
    "null when the bookmark points outside the document; `?v=` as for page images). Not for "
    "confidential documents (`confidential_images_only`: the titles are the document's words).",
    errors=(*READ_ERRORS, "confidential_images_only", "outline_failed"),
)
async def document_outline(request: Request) -> Response:
    user = await require_user(request)
    read = _reads(request).outline(user, _int(request, "document_id"), _version(request))
    return await _page(request, read)


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/file",
    roles=MEETING_READERS,
    summary="Download the document as served (the sanitised PDF; `?v=` as for page images). "
    "Refused for confidential documents (`confidential_no_download`).",
    errors=(*READ_ERRORS, "confidential_no_download"),
)
async def download(request: Request) -> Response:
    user = await require_user(request)
    try:
        rep = await _reads(request).file(user, _int(request, "document_id"), _address(request),
                                         _version(request))
    except StaleAccessVersion as exc:
        return _moved(request, exc)
    disposition = f"attachment; filename*=UTF-8''{quote(rep.filename)}"
    return await _answer(request, rep, {"Content-Disposition": disposition})


@endpoint(
    "GET",
    "/api/meetings/{meeting_id:int}/book.pdf",
    roles=MEETING_READERS,
    summary="The meeting pack book: cover, agenda with links, bookmarks, a running stamp on each "
    "page. Confidential documents are never in it: a placeholder page for members, left out "
    "for observers. Built once per pack contents.",
    errors=("meeting_not_found", "book_failed"),
)
async def pack_book(request: Request) -> Response:
    user = await require_user(request)
    rep = await _reads(request).book(user, _int(request, "meeting_id"), _address(request))
    disposition = f'attachment; filename="{rep.filename}"'
    return await _answer(request, rep, {"Content-Disposition": disposition})


# --- confidentiality ---------------------------------------------------------------------------


@endpoint(
    "POST",
    "/api/documents/{document_id:int}/declassify",
    roles=EDITORS,
    body=reclassify.DeclassifyRequest,
    summary="Make a confidential document (and all its versions) ordinary again, for a stated "
    "`reason` kept in the audit trail (`document.declassified`). Refused while a confidential "
    "agenda item holds the document. The room hears `document.reclassified`; content URLs "
    "change (a new `access_version`). Answers `{document}`.",
    errors=("document_not_found", "forbidden_role", "meeting_archived", "json_required",
            "invalid_payload", "document_not_confidential", "document_in_confidential_item"),
)
async def declassify(request: Request) -> Response:
    rt = runtime(request)
    user = await require_user(request)
    document_id = _int(request, "document_id")
    meeting_id = await rt.db.read(uploads.document_meeting, user, document_id)
    body = await json_body(request, reclassify.DeclassifyRequest)
    result = await meeting_action(request, meeting_id, EDITORS, "document.declassify",
                                  reclassify.declassify, document_id, body, _address(request))
    return JSONResponse(result)
