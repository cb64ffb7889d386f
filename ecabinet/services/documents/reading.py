"""Reading documents: status, page images and words, bookmarks, the file, the pack book.

Every read asks the one access policy (``access.require``, ``books.book_spec``) for the form it
sends: page image, thumbnail, text, outline, PDF, book. Each read that sends content answers a
``Representation``: a ``tag`` that names exactly the bytes it would send, how long they may be
kept (always privately: every read is authenticated), and ``produce`` to make them. The
transport compares the tag with what the client holds and calls ``produce`` only when it must,
so a revalidated page, file or book costs no rendering, no watermarking and no audit record.

Content URLs carry the document's access version (``?v=N``, bumped at each change of
confidentiality), and so do the tags. Under the current version a page image or text may be kept
for good; a URL without one is revalidated each time; a URL with an older one is answered by
``StaleAccessVersion`` (the transport redirects to the current URL), so a copy kept under an old
URL is never taken for the current one.

A page not rendered yet is rendered first in line and the reader waits for it a few seconds
(``PageNotReady`` after that). Confidential documents are served only as images with the
viewer's name and the time drawn into the pixels, so their tag changes each minute; each image
sent is audited first and carries its record's number, visibly and invisibly (``tracing``).
Neither their PDF, nor their text, nor their bookmarks leave.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from ecabinet.core.errors import EcabinetError, NotFound, Unavailable
from ecabinet.core.logs import get_logger
from ecabinet.core.settings import Settings
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import outline_isolated, run_isolated
from ecabinet.pdf.render import RENDITIONS, Rendition
from ecabinet.rendering.cache import RenditionCache
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents import (
    PDF_MEDIA_TYPE,
    DocumentAccess,
    books,
    describe,
    load_document,
    tracing,
)
from ecabinet.services.documents.access import Form, Grant, may_have, require
from ecabinet.services.documents.rendering import RenderService
from ecabinet.storage.blobs import BlobStore, write_atomically
from ecabinet.storage.database import Database

log = get_logger(__name__)

SIZES: Final[dict[str, Rendition]] = {r.name: r for r in RENDITIONS}
# How long the caller may keep a representation (only the caller: every read is
# authenticated): for good (content and access version in the URL); a minute (watermarked with
# the time); only asking again each time.
Caching = Literal["immutable", "watermarked", "revalidate"]


class PageNotReady(Unavailable):
    code = "page_not_ready"


class PageFailed(EcabinetError):
    code = "page_failed"
    status = 422


class StaleAccessVersion(EcabinetError):
    """The URL names an access version that is no longer the document's: the transport sends
    the caller to the current URL (``details["access_version"]``)."""

    code = "stale_access_version"
    status = 409


def _check_version(access: DocumentAccess, version: int | None) -> Caching:
    """How long content under the requested access version may be kept (see the module)."""
    current = access.document.access_version
    if version is None:
        return "revalidate"
    if version != current:
        raise StaleAccessVersion(
            "Quyền xem tài liệu đã thay đổi; hãy tải lại (the document's access changed).",
            details={"access_version": current},
        )
    return "immutable"


@dataclass(frozen=True)
class Representation:
    """What a read would send: named by ``tag``, made by ``produce`` (bytes, or a file)."""

    tag: str
    media_type: str
    caching: Caching
    produce: Callable[[], Awaitable[bytes | Path]]
    filename: str = ""  # a download's name


def _not_ready(page: int) -> PageNotReady:
    return PageNotReady(
        f"Trang {page} đang được chuẩn bị; vui lòng thử lại sau giây lát "
        "(the page is being rendered).",
        code="page_not_ready",
    )


def _page_number(access: DocumentAccess, page: int) -> int:
    count = access.blob.page_count or 0
    if not 1 <= page <= count:
        raise NotFound(
            f"Không có trang {page} (the document has {count} pages).", code="page_not_found"
        )
    return page


def _stamp_lines(access: DocumentAccess, timezone: str) -> tuple[list[str], str]:
    minute = datetime.now(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")
    actor = access.actor
    return ["TÀI LIỆU MẬT", actor.full_name, f"{actor.username} · {minute}"], minute


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


def download_name(filename: str) -> str:
    """The name a document downloads under: its file name, as a PDF."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return f"{stem or 'tai-lieu'}.pdf"


class DocumentReads:
    """The reads of one server process: its database, files, render service, viewing log and
    book builds."""

    def __init__(
        self, db: Database, settings: Settings, renders: Callable[[], RenderService | None]
    ) -> None:
        self.db = db
        self.settings = settings
        # Asked each time: the application may set up its render service after this.
        self._renders = renders
        self.store = BlobStore(settings.data_dir)
        self.cache = RenditionCache(self.store)
        self.books = books.BookBuilds()

    @property
    def renders(self) -> RenderService:
        service = self._renders()
        if service is None:  # pragma: no cover - create_app always sets it
            raise Unavailable("Dịch vụ kết xuất chưa chạy.", code="render_unavailable")
        return service

    async def _access(self, user: SessionInfo, document_id: int) -> DocumentAccess:
        return await self.db.read(load_document, user, document_id)

    async def _audit(self, action: str, actor_id: int, subject: str, details: dict[str, Any],
                     address: str) -> None:
        await self.db.write(audit.record, action, actor_id=actor_id, subject=subject,
                            details=details, address=address)

    async def status(self, user: SessionInfo, document_id: int) -> dict[str, Any]:
        """A document's status and layout: pages ready, page sizes, the renditions, whether
        it may be downloaded (and its words read: not when confidential)."""

        def read(session: Session) -> tuple[DocumentAccess, dict[str, Any]]:
            access = load_document(session, user, document_id)
            return access, describe(session, access.document).model_dump(mode="json")

        access, data = await self.db.read(read)
        blob = access.blob
        if blob.status in ("pending", "rendering"):
            data["pages_ready"] = await asyncio.to_thread(self.cache.pages_rendered, blob.sha256)
        data["page_sizes"] = blob.page_sizes or []
        data["renditions"] = {
            r.name: {"width": r.width, "media_type": r.mime} for r in RENDITIONS
        }
        data["downloadable"] = self.allows(access, Form.PDF)
        data["forms"] = {form.value: may_have(access.actor, access.document, form).grant.value
                         for form in (Form.PAGE_IMAGE, Form.TEXT, Form.OUTLINE, Form.PDF)}
        return data

    @staticmethod
    def allows(access: DocumentAccess, form: Form) -> bool:
        """Whether the caller may have the document in ``form`` (as stored or watermarked)."""
        return may_have(access.actor, access.document, form).allowed

    async def _ensure_page(self, access: DocumentAccess, page: int, wait: float) -> None:
        """Make sure ``page`` (1-based) is on disk: render it first in line and wait up to
        ``wait`` seconds (``PageNotReady`` after that, ``PageFailed`` when it cannot be)."""
        blob = access.blob
        if await asyncio.to_thread(self.cache.text_path(blob.sha256, page - 1).is_file):
            if blob.status in ("pending", "rendering"):
                # The reader is here: the next page goes next.
                await self.renders.prioritise(blob.sha256, page - 1)
            return
        if blob.status == "failed" and blob.error:
            raise PageFailed(blob.error, code="page_failed", details={"page": page})
        try:
            await self.renders.wait_for_page(blob.sha256, page - 1, blob.page_count or 0,
                                             timeout=wait)
        except TimeoutError:
            raise _not_ready(page) from None
        except PdfError as exc:
            raise PageFailed(exc.message, code="page_failed",
                             details={"page": page, "reason": exc.code}) from None

    async def page_image(self, user: SessionInfo, document_id: int, page: int, size: str, *,
                         wait: float, address: str, version: int | None = None
                         ) -> Representation:
        """A page image at ``size``; for a confidential document watermarked with the viewer
        and the minute, and the viewing audited."""
        access = await self._access(user, document_id)
        rendition = SIZES.get(size)
        if rendition is None:
            raise NotFound(
                f"Không có cỡ ảnh '{size}' (use {', '.join(SIZES)}).", code="unknown_size"
            )
        form = Form.THUMBNAIL if rendition.name == "thumb" else Form.PAGE_IMAGE
        decision = require(access.actor, access.document, form)
        caching = _check_version(access, version)
        page = _page_number(access, page)
        sha = access.blob.sha256
        path = self.cache.rendition_path(sha, page - 1, rendition)

        async def image() -> bytes:
            await self._ensure_page(access, page, wait)
            return await asyncio.to_thread(path.read_bytes)

        if decision.grant is Grant.FULL:
            tag = (f"{sha[:32]}-{page}-{rendition.name}-{rendition.extension}"
                   f"-a{access.document.access_version}")
            return Representation(tag, rendition.mime, caching, image)
        lines, minute = _stamp_lines(access, self.settings.timezone)
        digest = hashlib.sha256(
            f"{sha}|{page}|{rendition.name}|{access.actor.user_id}|{minute}".encode()
        ).hexdigest()[:40]
        secret = self.settings.secret_key or ""

        async def watermarked() -> bytes:
            data = await image()
            # Recorded and committed before the image exists: every image that goes
            # out names a record of the trail.
            view = await self.db.write(tracing.record_view, access, page, rendition.name,
                                       address)
            log.info("document.viewed", user_id=access.actor.user_id,
                     username=access.actor.username, document_id=access.document.id,
                     page=page, size=rendition.name, view=view)
            return await asyncio.to_thread(tracing.stamp, data, lines, secret, view)

        return Representation(f"w-{digest}", rendition.mime, "watermarked", watermarked)

    async def page_text(self, user: SessionInfo, document_id: int, page: int, *,
                        wait: float, version: int | None = None) -> Representation:
        """A page's words with their boxes (JSON); never for a confidential document."""
        access = await self._access(user, document_id)
        require(access.actor, access.document, Form.TEXT)
        caching = _check_version(access, version)
        page = _page_number(access, page)
        sha = access.blob.sha256

        async def words() -> bytes:
            await self._ensure_page(access, page, wait)
            return await asyncio.to_thread(self.cache.text_path(sha, page - 1).read_bytes)

        tag = f"{sha[:32]}-{page}-text-a{access.document.access_version}"
        return Representation(tag, "application/json", caching, words)

    async def outline(self, user: SessionInfo, document_id: int,
                      version: int | None = None) -> Representation:
        """The document's bookmarks, read once from the PDF in a throwaway process; never for
        a confidential document (their titles are its words)."""
        access = await self._access(user, document_id)
        require(access.actor, access.document, Form.OUTLINE)
        caching = _check_version(access, version)
        sha = access.blob.sha256

        async def bookmarks() -> bytes:
            try:
                return await asyncio.to_thread(_outline, self.store, sha)
            except PdfError as exc:
                raise PageFailed(exc.message, code="outline_failed") from None

        tag = f"{sha[:32]}-outline-a{access.document.access_version}"
        return Representation(tag, "application/json", caching, bookmarks)

    async def file(self, user: SessionInfo, document_id: int, address: str,
                   version: int | None = None) -> Representation:
        """The sanitised PDF, for download (refused for confidential documents); each
        download is audited."""
        access = await self._access(user, document_id)
        require(access.actor, access.document, Form.PDF)
        caching = _check_version(access, version)
        sha = access.blob.sha256

        async def stored() -> Path:
            await self._audit(audit.DOWNLOAD, access.actor.user_id,
                              f"document:{access.document.id}",
                              {"meeting_id": access.meeting.id, "sha256": sha}, address)
            return self.store.path(sha)

        return Representation(f"{sha}-a{access.document.access_version}", PDF_MEDIA_TYPE,
                              caching, stored, download_name(access.document.filename))

    async def book(self, user: SessionInfo, meeting_id: int, address: str) -> Representation:
        """The caller's variant of the meeting pack book, built once per contents; each
        export is audited."""
        spec = await self.db.read(books.book_spec, user, meeting_id, self.settings.timezone)

        async def built() -> Path:
            path = await self.books.get(self.settings, spec)
            await self._audit(audit.EXPORT, user.user_id, f"meeting:{meeting_id}",
                              {"what": "book", "variant": spec.variant,
                               "pack_version": spec.pack_version}, address)
            return path

        return Representation(spec.digest[:40], PDF_MEDIA_TYPE, "revalidate", built,
                              f"tai-lieu-hop-{meeting_id}.pdf")
