"""The meeting pack book as one participant may read it: what goes in, and building it once.

The book follows the agenda: each item with its current documents in their order, then the
documents attached to no item as a last section ("Tài liệu khác"). Confidential documents never
enter a book - a PDF leaves the server, and a confidential document may be shown only as
watermarked page images. Delegates and staff find a placeholder page in its place (with its
title, so the table of contents stays complete); observers find nothing, and a confidential
item's title reads as in the live agenda ("Nội dung mật").

So there are two variants of a meeting's book (members and observers), each cached under the
digest of exactly what it contains: a change to the pack (a new version, a replaced document, a
renamed item) makes a new file, and the same contents are never built twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from ecabinet.core.errors import Unavailable
from ecabinet.core.settings import Settings
from ecabinet.domain import agenda as agenda_rules
from ecabinet.domain.roles import can_see_confidential
from ecabinet.pdf.errors import PdfError
from ecabinet.pdf.isolation import build_book_isolated, run_isolated
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents.access import Form, Grant, may_have
from ecabinet.services.kernel.context import load_actor, require_roles
from ecabinet.services.room import CONFIDENTIAL_TITLE, load_items
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import AgendaItemDocument, Body, Document

BUILD_TIMEOUT: Final = 300.0
OTHER_NUMBER: Final = "PL"
OTHER_TITLE: Final = "Tài liệu khác"
PLACEHOLDER_LINES: Final = (
    "Tài liệu mật chỉ được xem trên máy tính bảng trong phòng họp, có in tên người xem.",
    "Tài liệu này không có trong bản PDF tải về.",
    "(Confidential: shown only as watermarked pages on the tablets.)",
)


@dataclass(frozen=True)
class BookSpec:
    """Everything a book is built from; ``digest`` names it."""

    meeting_id: int
    meeting: dict[str, Any]
    # (number, title, [(document title, blob sha256 or None for a placeholder)])
    items: list[tuple[str, str, list[tuple[str, str | None]]]]
    variant: str  # "members" or "observers"
    pack_version: int

    @property
    def digest(self) -> str:
        data = json.dumps(
            [self.meeting, self.items, self.variant], ensure_ascii=False, sort_keys=True,
            default=str,
        )
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    @property
    def file_name(self) -> str:
        return f"m{self.meeting_id}-v{self.pack_version}-{self.variant}-{self.digest[:24]}.pdf"


def book_spec(session: Session, user: SessionInfo, meeting_id: int, timezone: str) -> BookSpec:
    """What the caller's book of this meeting contains (``NotFound`` for outsiders)."""
    meeting, actor = load_actor(session, user, meeting_id)
    require_roles(actor, MEETING_READERS, "meeting.book")
    assert meeting.id is not None
    member = can_see_confidential(actor.role, is_admin=actor.is_admin)
    body = session.get(Body, meeting.body_id) if meeting.body_id else None
    when = meeting.starts_at.astimezone(ZoneInfo(timezone)) if meeting.starts_at else None
    items = {i.id: i for i in load_items(session, meeting.id)}
    docs = {
        d.id: d
        for d in session.exec(
            select(Document).where(
                Document.meeting_id == meeting.id, col(Document.replaced_by_id).is_(None)
            )
        )
    }
    links = session.exec(
        select(AgendaItemDocument).where(col(AgendaItemDocument.document_id).in_(list(docs)))
    ).all()
    by_item: dict[int, list[AgendaItemDocument]] = {}
    for link in links:
        by_item.setdefault(link.agenda_item_id, []).append(link)

    def entry(doc: Document) -> tuple[str, str | None] | None:
        decision = may_have(actor, doc, Form.BOOK)
        if decision.grant is Grant.HIDDEN:
            return None
        return (doc.title, doc.blob_sha256 if decision.grant is Grant.FULL else None)

    spec_items: list[tuple[str, str, list[tuple[str, str | None]]]] = []
    linked: set[int] = set()
    for numbered in agenda_rules.ordered(list(items.values())):
        item = items[numbered.id]
        hidden = item.confidential and not member
        entries: list[tuple[str, str | None]] = []
        for link in sorted(by_item.get(numbered.id, []), key=lambda k: (k.position, k.id or 0)):
            linked.add(link.document_id)
            found = entry(docs[link.document_id])
            if found is not None and not hidden:
                entries.append(found)
        spec_items.append((numbered.number, CONFIDENTIAL_TITLE if hidden else item.title, entries))
    others = [entry(d) for i, d in sorted(docs.items()) if i not in linked]
    rest = [e for e in others if e is not None]
    if rest:
        spec_items.append((OTHER_NUMBER, OTHER_TITLE, rest))
    return BookSpec(
        meeting_id=meeting.id,
        meeting={
            "title": meeting.title,
            "body": body.name if body else "",
            "date": when.isoformat() if when else "",
            "place": meeting.place,
        },
        items=spec_items,
        variant="members" if member else "observers",
        pack_version=meeting.pack_version,
    )


def build_book(settings: Settings, spec: BookSpec) -> Path:
    """Build the book described by ``spec`` unless it exists; return its path (blocking)."""
    store = BlobStore(settings.data_dir)
    target = store.book_path(spec.file_name)
    if target.is_file():
        return target
    store.books_dir.mkdir(parents=True, exist_ok=True)
    items = [
        (number, title, [(doc_title, str(store.path(sha)) if sha else None)
                         for doc_title, sha in entries])
        for number, title, entries in spec.items
    ]
    meeting = dict(spec.meeting)
    if meeting.get("date"):
        meeting["date"] = datetime.fromisoformat(meeting["date"])
    try:
        run_isolated(
            build_book_isolated, meeting, items, str(target), list(PLACEHOLDER_LINES),
            timeout=BUILD_TIMEOUT,
        )
    except PdfError as exc:
        raise Unavailable(
            f"Không tạo được tập tài liệu cuộc họp: {exc.message}", code="book_failed",
            details={"reason": exc.code},
        ) from None
    return target


class BookBuilds:
    """Concurrent requests for the same book wait for one build."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Path]] = {}

    async def get(self, settings: Settings, spec: BookSpec) -> Path:
        key = spec.file_name
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            path = await asyncio.to_thread(build_book, settings, spec)
            future.set_result(path)
            return path
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._running[key]
