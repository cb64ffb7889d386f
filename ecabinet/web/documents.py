"""Documents over HTTP: upload, status, page images, text, outline, download, the pack book.

Page images are what tablets show. They are immutable (named by the content hash, page, size and
format), so they carry strong ETags and a year of ``immutable`` caching; a tablet asks once per
page and size. A page not rendered yet is rendered first in line and the request waits for it
(about a tenth of a second for a page at the front of the queue), up to ``PAGE_WAIT`` seconds,
then answers 503 with Retry-After. Confidential documents are served only as images with the
viewer's name and the time drawn into the pixels (so cached privately and briefly), and neither
their PDF nor their text leaves the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import datetime
from functools import partial
from typing import Any, Final, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ecabinet.core.errors import EcabinetError, Forbidden, NotFound, Unavailable
from ecabinet.core.logs import get_logger
from ecabinet.core.validation import validate
from ecabinet.domain import lifecycle
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import outline_isolated, run_isolated
from ecabinet.pdf.render import RENDITIONS, Rendition
from ecabinet.pdf.watermark import watermark_image
from ecabinet.protocol import Schema, endpoint
from ecabinet.protocol.roles import EDITORS, MEETING_READERS
from ecabinet.rendering.cache import RenditionCache
from ecabinet.services import audit, documents
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents import (
    UPLOAD_ERRORS,
    DocumentAccess,
    DocumentInfo,
    PreparedFile,
    books,
)
from ecabinet.services.documents.rendering import RenderService
from ecabinet.services.kernel.context import CommandContext, load_actor, require_roles
from ecabinet.storage.blobs import BlobStore, write_atomically
from ecabinet.storage.models import Document
from ecabinet.web.actions import meeting_action
from ecabinet.web.common import require_user, runtime
from ecabinet.web.uploads import receive_upload, spooled

log = get_logger(__name__)

PAGE_WAIT: Final = 8.0
AUDIT_VIEW_EVERY: Final = 600.0
RETRY_AFTER: Final = "1"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
WATERMARKED: Final = "private, max-age=60"
SIZES: Final[dict[str, Rendition]] = {r.name: r for r in RENDITIONS}
DOC_ERRORS: Final = ("document_not_found",)


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


def _renders(request: Request) -> RenderService:
    service = runtime(request).renders
    if service is None:  # pragma: no cover - create_app always sets it
        raise Unavailable("Dịch vụ kết xuất chưa chạy.", code="render_unavailable")
    return service


def _store(request: Request) -> BlobStore:
    return BlobStore(runtime(request).settings.data_dir)


def _cache(request: Request) -> RenditionCache:
    return RenditionCache(_store(request))


def _int(request: Request, name: str) -> int:
    return int(request.path_params[name])


# --- upload ------------------------------------------------------------------------------------


def _check_uploader(session: Any, user: SessionInfo, meeting_id: int) -> None:
    meeting, actor = load_actor(session, user, meeting_id)
    require_roles(actor, EDITORS, "document.upload")
    lifecycle.check_editable(meeting.status)


async def _receive(
    request: Request, meeting_id: int, form_model: type[F]
) -> tuple[PreparedFile, F]:
    """Authorise first (nobody else may send megabytes), stream, check the fields, prepare."""
    rt = runtime(request)
    user = await require_user(request)
    await rt.db.read(_check_uploader, user, meeting_id)
    store = _store(request)
    upload = await receive_upload(request, store.tmp_dir, rt.settings.max_upload_bytes)
    with spooled(upload):
        assert upload.path is not None
        form = validate(form_model, upload.fields)
        prepared = await asyncio.to_thread(
            documents.prepare_file, rt.settings, upload.path, upload.filename, form.password
        )
    return prepared, form


def _attach(
    session: Any, ctx: CommandContext, prepared: PreparedFile, form: UploadForm
) -> DocumentInfo:
    doc = documents.attach_document(
        session, ctx, prepared, title=form.title, confidential=form.confidential,
        item_id=form.item_id, uploaded_by=ctx.actor.user_id,
    )
    return _info(session, doc)


def _info(session: Any, doc: Document) -> DocumentInfo:
    return documents.describe(session, doc)


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
    info = await meeting_action(
        request, meeting_id, EDITORS, "document.upload", _attach, prepared, form
    )
    await _renders(request).submit(prepared.sha256)
    return JSONResponse(
        {"document": info.model_dump(mode="json"), "file": documents.prepared_summary(prepared)},
        status_code=201,
    )


def _replace(session: Any, ctx: CommandContext, document_id: int, prepared: PreparedFile) -> Any:
    doc = documents.replace_document(
        session, ctx, document_id, prepared, uploaded_by=ctx.actor.user_id
    )
    return _info(session, doc)


def _document_meeting(session: Any, user: SessionInfo, document_id: int) -> int:
    return documents.load_document(session, user, document_id).meeting.id or 0


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
    meeting_id = await rt.db.read(_document_meeting, user, document_id)
    prepared, _form = await _receive(request, meeting_id, VersionForm)
    info = await meeting_action(
        request, meeting_id, EDITORS, "document.replace", _replace, document_id,
        prepared,
    )
    await _renders(request).submit(prepared.sha256)
    return JSONResponse(
        {"document": info.model_dump(mode="json"), "file": documents.prepared_summary(prepared)},
        status_code=201,
    )


# --- reading -----------------------------------------------------------------------------------


def _list(session: Any, user: SessionInfo, meeting_id: int) -> list[dict[str, Any]]:
    _meeting, actor = load_actor(session, user, meeting_id)
    require_roles(actor, MEETING_READERS, "document.list")
    return [d.model_dump(mode="json") for d in documents.meeting_documents(
        session, meeting_id, actor)]


@endpoint(
    "GET",
    "/api/meetings/{meeting_id:int}/documents",
    roles=MEETING_READERS,
    summary="The meeting's current documents the caller may see (observers: no confidential "
    "ones), with rendering status.",
    errors=("meeting_not_found",),
)
async def list_documents(request: Request) -> Response:
    rt = runtime(request)
    user = await require_user(request)
    docs = await rt.db.read(_list, user, _int(request, "meeting_id"))
    return JSONResponse({"documents": docs})


async def _access(request: Request) -> DocumentAccess:
    rt = runtime(request)
    user = await require_user(request)
    return await rt.db.read(documents.load_document, user, _int(request, "document_id"))


def _access_with_info(session: Any, user: SessionInfo, document_id: int) -> tuple[
    DocumentAccess, DocumentInfo
]:
    access = documents.load_document(session, user, document_id)
    return access, _info(session, access.document)


@endpoint(
    "GET",
    "/api/documents/{document_id:int}",
    roles=MEETING_READERS,
    summary="A document's status and layout: page count, page sizes in points, pages ready, "
    "the rendition sizes and the page image URL pattern.",
    errors=DOC_ERRORS,
)
async def document_status(request: Request) -> Response:
    rt = runtime(request)
    user = await require_user(request)
    access, info = await rt.db.read(_access_with_info, user, _int(request, "document_id"))
    blob = access.blob
    data = info.model_dump(mode="json")
    if blob.status in ("pending", "rendering"):
        data["pages_ready"] = await asyncio.to_thread(_cache(request).pages_rendered, blob.sha256)
    data["page_sizes"] = blob.page_sizes or []
    data["renditions"] = {
        r.name: {"width": r.width, "media_type": r.mime} for r in RENDITIONS
    }
    base = f"/api/documents/{access.document.id}"
    data["urls"] = {
        "page": base + "/pages/{page}/{size}",
        "text": None if access.confidential else base + "/pages/{page}/text",
        "outline": base + "/outline",
        "file": None if access.confidential else base + "/file",
    }
    data["downloadable"] = not access.confidential
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    return any(tag.strip() in (etag, "*") for tag in header.split(","))


def _page_number(request: Request, access: DocumentAccess) -> int:
    page = _int(request, "page")
    count = access.blob.page_count or 0
    if not 1 <= page <= count:
        raise NotFound(
            f"Không có trang {page} (the document has {count} pages).", code="page_not_found"
        )
    return page


class PageNotReady(Unavailable):
    code = "page_not_ready"


class PageFailed(EcabinetError):
    code = "page_failed"
    status = 422


async def _ensure_page(request: Request, access: DocumentAccess, page: int) -> Response | None:
    """Make sure page ``page`` (1-based) is on disk: render it first in line and wait.

    Returns None when it is there, or the 503 answer (with Retry-After) when it takes longer
    than ``PAGE_WAIT`` seconds; raises ``PageFailed`` when it cannot be rendered.
    """
    cache = _cache(request)
    blob = access.blob
    if await asyncio.to_thread(cache.text_path(blob.sha256, page - 1).is_file):
        if blob.status in ("pending", "rendering"):
            # The reader is here: the next page goes next.
            await _renders(request).prioritise(blob.sha256, page - 1)
        return None
    if blob.status == "failed" and blob.error:
        raise PageFailed(blob.error, code="page_failed", details={"page": page})
    try:
        await _renders(request).wait_for_page(
            blob.sha256, page - 1, blob.page_count or 0, timeout=PAGE_WAIT
        )
    except TimeoutError:
        busy = PageNotReady(
            f"Trang {page} đang được chuẩn bị; vui lòng thử lại sau giây lát "
            "(the page is being rendered).",
            code="page_not_ready",
        )
        return JSONResponse({"error": busy.to_dict()}, status_code=busy.status,
                            headers={"Retry-After": RETRY_AFTER, "Cache-Control": "no-store"})
    except PdfError as exc:
        raise PageFailed(exc.message, code="page_failed", details={"page": page,
                                                                   "reason": exc.code}) from None
    return None


async def _audit(request: Request, action: str, actor_id: int, subject: str,
                 details: dict[str, Any]) -> None:
    address = request.client.host if request.client else ""
    await runtime(request).db.write(
        audit.record, action, actor_id=actor_id, subject=subject, details=details,
        address=address,
    )


async def _audit_view(request: Request, access: DocumentAccess, page: int, size: str) -> None:
    """A confidential page shown to someone goes into the audit trail (once per person, page
    and ``AUDIT_VIEW_EVERY`` seconds: flipping back and forth is one viewing)."""
    viewed: dict[tuple[int, int, int], float] | None = getattr(request.app.state, "viewed", None)
    if viewed is None:
        viewed = request.app.state.viewed = {}
    key = (access.actor.user_id, access.document.id or 0, page)
    now = time.monotonic()
    if now - viewed.get(key, -AUDIT_VIEW_EVERY) < AUDIT_VIEW_EVERY:
        return
    if len(viewed) > 10_000:
        viewed.clear()
    viewed[key] = now
    log.info("document.viewed", user_id=access.actor.user_id, username=access.actor.username,
             document_id=access.document.id, page=page, size=size)
    await _audit(request, audit.CONFIDENTIAL_VIEW, access.actor.user_id,
                 f"document:{access.document.id}",
                 {"meeting_id": access.meeting.id, "page": page, "size": size})


def _stamp_lines(access: DocumentAccess, timezone: str) -> tuple[list[str], str]:
    now = datetime.now(ZoneInfo(timezone))
    minute = now.strftime("%d/%m/%Y %H:%M")
    actor = access.actor
    return ["TÀI LIỆU MẬT", actor.full_name, f"{actor.username} · {minute}"], minute


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/pages/{page:int}/{size}",
    roles=MEETING_READERS,
    summary="A page image (`page` from 1; `size` tablet ~1280 px, zoom ~2560 px or thumb "
    "~200 px wide; JPEG). Strong ETag and immutable caching; a page not rendered yet is "
    "rendered first in line (503 `page_not_ready` with Retry-After if it takes long). "
    "Confidential documents: watermarked with the viewer's name and the time, cached privately.",
    errors=("document_not_found", "page_not_found", "unknown_size", "page_not_ready",
            "page_failed"),
)
async def page_image(request: Request) -> Response:
    rt = runtime(request)
    size = request.path_params["size"]
    rendition = SIZES.get(size)
    access = await _access(request)
    if rendition is None:
        raise NotFound(
            f"Không có cỡ ảnh '{size}' (use {', '.join(SIZES)}).", code="unknown_size"
        )
    page = _page_number(request, access)
    sha = access.blob.sha256
    confidential = access.confidential
    if not confidential:
        etag = f'"{sha[:32]}-{page}-{rendition.name}-{rendition.extension}"'
        headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
        if _etag_matches(request, etag):
            return Response(status_code=304, headers=headers)
    waited = await _ensure_page(request, access, page)
    if waited is not None:
        return waited
    path = _cache(request).rendition_path(sha, page - 1, rendition)
    data = await asyncio.to_thread(path.read_bytes)
    if confidential:
        lines, minute = _stamp_lines(access, rt.settings.timezone)
        digest = hashlib.sha256(
            f"{sha}|{page}|{rendition.name}|{access.actor.user_id}|{minute}".encode()
        ).hexdigest()[:40]
        etag = f'"w-{digest}"'
        headers = {"ETag": etag, "Cache-Control": WATERMARKED}
        await _audit_view(request, access, page, rendition.name)
        if _etag_matches(request, etag):
            return Response(status_code=304, headers=headers)
        data = await asyncio.to_thread(partial(watermark_image, data, lines))
    return Response(data, media_type=rendition.mime, headers=headers)


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/pages/{page:int}/text",
    roles=MEETING_READERS,
    summary="A page's words with their boxes, in points from the page's top left as displayed: "
    "`{width, height, words: [[x0, y0, x1, y1, word], ...]}`. Not for confidential documents "
    "(they are served only as watermarked images).",
    errors=("document_not_found", "page_not_found", "confidential_images_only",
            "page_not_ready", "page_failed"),
)
async def page_text(request: Request) -> Response:
    access = await _access(request)
    page = _page_number(request, access)
    if access.confidential:
        raise Forbidden(
            "Tài liệu mật chỉ được xem dưới dạng ảnh có đóng dấu tên người xem "
            "(confidential documents are served as watermarked images only).",
            code="confidential_images_only",
        )
    sha = access.blob.sha256
    etag = f'"{sha[:32]}-{page}-text"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    waited = await _ensure_page(request, access, page)
    if waited is not None:
        return waited
    data = await asyncio.to_thread(_cache(request).text_path(sha, page - 1).read_bytes)
    return Response(data, media_type="application/json", headers=headers)


def _outline(store: BlobStore, sha256: str) -> bytes:
    cached = store.renditions_dir / sha256[:2] / sha256 / "outline.json"
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    entries = run_isolated(outline_isolated, str(store.path(sha256)), timeout=30.0)
    data = json.dumps({"outline": entries}, ensure_ascii=False).encode("utf-8")
    write_atomically(cached, data)
    return data


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/outline",
    roles=MEETING_READERS,
    summary="The document's bookmarks: `{outline: [{level, title, page}]}` (`page` from 1, "
    "null when the bookmark points outside the document).",
    errors=DOC_ERRORS,
)
async def document_outline(request: Request) -> Response:
    access = await _access(request)
    sha = access.blob.sha256
    etag = f'"{sha[:32]}-outline"'
    cache = "private, max-age=3600" if access.confidential else IMMUTABLE
    headers = {"ETag": etag, "Cache-Control": cache}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    try:
        data = await asyncio.to_thread(_outline, _store(request), sha)
    except PdfError as exc:
        raise PageFailed(exc.message, code="outline_failed") from None
    return Response(data, media_type="application/json", headers=headers)


def _download_name(filename: str) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return f"{stem or 'tai-lieu'}.pdf"


@endpoint(
    "GET",
    "/api/documents/{document_id:int}/file",
    roles=MEETING_READERS,
    summary="Download the document as served (the sanitised PDF). Refused for confidential "
    "documents (`confidential_no_download`).",
    errors=("document_not_found", "confidential_no_download"),
)
async def download(request: Request) -> Response:
    access = await _access(request)
    if access.confidential:
        raise Forbidden(
            "Tài liệu mật không được tải về; chỉ xem trên máy tính bảng có đóng dấu tên người "
            "xem (confidential documents cannot be downloaded).",
            code="confidential_no_download",
        )
    sha = access.blob.sha256
    etag = f'"{sha}"'
    name = _download_name(access.document.filename)
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
    }
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    path = _store(request).path(sha)
    await _audit(request, audit.DOWNLOAD, access.actor.user_id, f"document:{access.document.id}",
                 {"meeting_id": access.meeting.id, "sha256": sha})
    return FileResponse(path, media_type=documents.PDF_MEDIA_TYPE, headers=headers)


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
    rt = runtime(request)
    user = await require_user(request)
    meeting_id = _int(request, "meeting_id")
    spec = await rt.db.read(books.book_spec, user, meeting_id, rt.settings.timezone)
    etag = f'"{spec.digest[:40]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "Content-Disposition": f"attachment; filename=\"tai-lieu-hop-{meeting_id}.pdf\"",
    }
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    builds: books.BookBuilds | None = getattr(request.app.state, "book_builds", None)
    if builds is None:
        builds = request.app.state.book_builds = books.BookBuilds()
    path = await builds.get(rt.settings, spec)
    await _audit(request, audit.EXPORT, user.user_id, f"meeting:{meeting_id}",
                 {"what": "book", "variant": spec.variant, "pack_version": spec.pack_version})
    return FileResponse(path, media_type=documents.PDF_MEDIA_TYPE, headers=headers)

