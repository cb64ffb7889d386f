"""Editing the agenda: insert, change, move and remove items, and order their documents.

Items form a tree at most two levels deep; siblings are kept at positions 0..n-1 so numbering
("2", "2.1") stays consistent after every change (ecabinet/domain/agenda.py). Every change goes
through ``begin_change`` (archived meetings refuse it, published ones take a new pack version)
and emits ``agenda.changed`` with the whole new agenda; observers get it with confidential items
and documents redacted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, InvalidInput, NotFound
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain import agenda as rules
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingStatus, can_see_confidential
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.meetings.confidentiality import confide_to_item, item_documents
from ecabinet.services.meetings.editing import ChangeNote, apply_patch, begin_change
from ecabinet.services.meetings.versions import record_change
from ecabinet.services.room import CONFIDENTIAL_TITLE, item_view, load_items
from ecabinet.storage.models import (
    AgendaItem,
    AgendaItemDocument,
    Blob,
    Document,
    Meeting,
    Poll,
    SpeakerRequest,
)


class ItemIn(Schema):
    title: str = Field(min_length=1, max_length=500)
    presenter: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=20_000)
    planned_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    confidential: bool = False
    vote_planned: bool = False
    parent_id: int | None = Field(default=None, ge=1)
    position: int | None = Field(default=None, ge=0, description="0-based; default: last")


class ItemPatch(Schema):
    title: str | None = Field(default=None, min_length=1, max_length=500)
    presenter: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    planned_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    confidential: bool | None = None
    vote_planned: bool | None = None


class ItemMove(Schema):
    parent_id: int | None = Field(default=None, ge=1, description="null: a top-level item")
    position: int | None = Field(default=None, ge=0, description="0-based; default: last")


class DocumentLink(Schema):
    document_id: int = Field(ge=1)
    position: int | None = Field(default=None, ge=0, description="0-based; default: last")


class DocumentOrder(Schema):
    document_ids: list[int] = Field(max_length=500)


class AgendaDocument(Schema):
    id: int
    title: str
    filename: str
    confidential: bool
    version: int
    page_count: int | None
    status: str


class AgendaItemOut(Schema):
    id: int
    parent_id: int | None
    number: str
    depth: int
    title: str
    presenter: str
    description: str
    planned_minutes: int | None
    confidential: bool
    vote_planned: bool
    documents: list[AgendaDocument]


class AgendaChanged(Schema):
    pack_version: int
    changes: list[ChangeNote]
    current_item_id: int | None
    items: list[AgendaItemOut]


event(
    "agenda.changed",
    AgendaChanged,
    audience="meeting",
    sent_by="the secretary inserting, changing, moving or removing an item or its documents",
    summary="The agenda changed: the whole new agenda (numbers, documents in order) and what "
    "changed, with the pack version it belongs to. Observers get confidential items' titles "
    "and descriptions hidden and confidential documents left out.",
)


# --- reading -------------------------------------------------------------------------------


def _documents_by_item(
    session: Session, item_ids: Iterable[int]
) -> dict[int, list[AgendaDocument]]:
    ids = list(item_ids)
    out: dict[int, list[AgendaDocument]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(
        select(AgendaItemDocument, Document, Blob)
        .join(Document, Document.id == AgendaItemDocument.document_id)  # type: ignore[arg-type]
        .join(Blob, Blob.sha256 == Document.blob_sha256)  # type: ignore[arg-type]
        .where(col(AgendaItemDocument.agenda_item_id).in_(ids))
        .order_by(AgendaItemDocument.position, AgendaItemDocument.id)  # type: ignore[arg-type]
    ).all()
    for link, doc, blob in rows:
        assert doc.id is not None
        out[link.agenda_item_id].append(
            AgendaDocument(
                id=doc.id,
                title=doc.title,
                filename=doc.filename,
                confidential=doc.confidential,
                version=doc.version,
                page_count=blob.page_count,
                status=blob.status,
            )
        )
    return out


def agenda_items(session: Session, meeting_id: int, *, redact: bool) -> list[AgendaItemOut]:
    """The agenda in reading order with numbers and each item's documents in order.

    ``redact`` (observers): confidential items keep their place but lose title and description,
    and confidential documents (and every document of a confidential item) are left out.
    """
    items = {i.id: i for i in load_items(session, meeting_id)}
    order = rules.ordered(list(items.values()))
    docs = _documents_by_item(session, [n.id for n in order])
    out = []
    for numbered in order:
        item = items[numbered.id]
        attached = docs.get(numbered.id, [])
        if redact:
            attached = [] if item.confidential else [d for d in attached if not d.confidential]
        view = item_view(item, numbered, redact=redact)
        out.append(AgendaItemOut(**view, documents=attached))
    return out


def redact_for(actor: Actor) -> bool:
    return not can_see_confidential(actor.role, is_admin=actor.is_admin)


@snapshot_part("agenda_documents")
def agenda_documents_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    """Each item's documents in order (keyed by item id), as the reader may see them."""
    assert meeting.id is not None
    return {
        str(item.id): [d.model_dump() for d in item.documents]
        for item in agenda_items(session, meeting.id, redact=redact_for(actor))
    }


# --- helpers --------------------------------------------------------------------------------


def _get_item(session: Session, ctx: CommandContext, item_id: int) -> AgendaItem:
    item = session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != ctx.meeting.id:
        raise NotFound(
            f"Không có mục #{item_id} trong chương trình (unknown agenda item).",
            code="agenda_item_not_found",
        )
    return item


def _siblings(items: list[AgendaItem], parent_id: int | None) -> list[AgendaItem]:
    same = [i for i in items if i.parent_id == parent_id]
    same.sort(key=lambda i: (i.position, i.id or 0))
    return same


def _renumber(
    session: Session, items: list[AgendaItem], parent_id: int | None, order: list[int] | None = None
) -> None:
    """Give the children of ``parent_id`` positions 0..n-1 (in ``order`` when given)."""
    by_id = {i.id: i for i in items}
    ids = order if order is not None else [i.id for i in _siblings(items, parent_id) if i.id]
    for position, item_id in enumerate(ids):
        item = by_id[item_id]
        if item.position != position or item.parent_id != parent_id:
            item.position = position
            item.parent_id = parent_id
            session.add(item)


def _check_parent(items: list[AgendaItem], item_id: int | None, parent_id: int | None) -> None:
    problem = rules.placement_problem(items, item_id, parent_id)
    if problem:
        raise InvalidInput(
            problem,
            code="invalid_agenda_position",
            details={"item_id": item_id, "parent_id": parent_id},
        )


def _number_of(session: Session, meeting_id: int, item_id: int) -> str:
    for numbered in rules.ordered(load_items(session, meeting_id)):
        if numbered.id == item_id:
            return numbered.number
    return ""


def _emit(ctx: CommandContext, version: int, notes: list[ChangeNote]) -> dict[str, Any]:
    meeting = ctx.meeting
    assert meeting.id is not None
    ctx.session.flush()
    full = agenda_items(ctx.session, meeting.id, redact=False)
    hidden = agenda_items(ctx.session, meeting.id, redact=True)
    public_notes = [
        n.model_copy(update={"title": CONFIDENTIAL_TITLE, "detail": ""}) if n.confidential else n
        for n in notes
        if not (n.confidential and n.document_id is not None)
    ]
    ctx.emit(
        "agenda.changed",
        AgendaChanged(
            pack_version=version,
            changes=notes,
            current_item_id=meeting.current_item_id,
            items=full,
        ),
        observer_payload=AgendaChanged(
            pack_version=version,
            changes=public_notes,
            current_item_id=meeting.current_item_id,
            items=hidden,
        ),
    )
    return {"pack_version": version, "items": [i.model_dump() for i in full]}


def _unchanged(ctx: CommandContext) -> dict[str, Any]:
    """Nothing changed: no new version, no event."""
    assert ctx.meeting.id is not None
    items = agenda_items(ctx.session, ctx.meeting.id, redact=False)
    return {
        "pack_version": ctx.meeting.pack_version,
        "items": [i.model_dump() for i in items],
        "unchanged": True,
    }


# --- items ----------------------------------------------------------------------------------


def add_item(session: Session, ctx: CommandContext, data: ItemIn) -> dict[str, Any]:
    """Insert an item under ``parent_id`` (None: top level) at ``position`` (None: last)."""
    version = begin_change(ctx)
    meeting_id = ctx.meeting.id
    assert meeting_id is not None
    items = load_items(session, meeting_id)
    _check_parent(items, None, data.parent_id)
    item = AgendaItem(
        meeting_id=meeting_id,
        parent_id=data.parent_id,
        position=len(items) + 1,
        title=nfc_trimmed(data.title),
        presenter=nfc_trimmed(data.presenter),
        description=nfc_trimmed(data.description),
        planned_minutes=data.planned_minutes,
        confidential=data.confidential,
        vote_planned=data.vote_planned,
    )
    session.add(item)
    session.flush()
    assert item.id is not None
    items.append(item)
    siblings = [i.id for i in _siblings(items, data.parent_id) if i.id]
    _renumber(
        session, items, data.parent_id, rules.insert_positions(siblings, item.id, data.position)
    )
    session.flush()
    note = ChangeNote(
        action="item.added",
        item_id=item.id,
        title=item.title,
        detail=f"mục {_number_of(session, meeting_id, item.id)}",
        confidential=item.confidential,
    )
    return {"item_id": item.id, **_emit(ctx, version, [note])}


FIELD_LABELS = {
    "title": "tiêu đề",
    "presenter": "người trình bày",
    "description": "nội dung",
    "planned_minutes": "thời lượng",
    "confidential": "mức mật",
    "vote_planned": "biểu quyết",
}


def update_item(
    session: Session, ctx: CommandContext, item_id: int, data: ItemPatch
) -> dict[str, Any]:
    """Change an item's fields (only those given; ``planned_minutes: null`` clears it)."""
    lifecycle.check_editable(ctx.meeting.status)
    item = _get_item(session, ctx, item_id)
    changed = apply_patch(item, data, nullable=("planned_minutes",))
    if not changed:
        return _unchanged(ctx)
    was_confidential = item.confidential or ("confidential" in changed)
    session.add(item)
    version = record_change(ctx)
    if "confidential" in changed:
        # Its documents stay confidential even if the item is made public again (sticky).
        confide_to_item(session, item, item_documents(session, item_id), ctx)
    note = ChangeNote(
        action="item.updated",
        item_id=item.id,
        title=item.title,
        detail=", ".join(FIELD_LABELS[n] for n in changed),
        confidential=was_confidential,
    )
    return _emit(ctx, version, [note])


def move_item(
    session: Session, ctx: CommandContext, item_id: int, data: ItemMove
) -> dict[str, Any]:
    """Move an item (with its sub-items) to another place: reorder or change its parent."""
    lifecycle.check_editable(ctx.meeting.status)
    meeting_id = ctx.meeting.id
    assert meeting_id is not None
    item = _get_item(session, ctx, item_id)
    items = load_items(session, meeting_id)
    _check_parent(items, item_id, data.parent_id)
    before = _number_of(session, meeting_id, item_id)
    old_parent = item.parent_id
    current = next(i for i in items if i.id == item_id)
    current.parent_id = data.parent_id
    siblings = [i.id for i in _siblings(items, data.parent_id) if i.id and i.id != item_id]
    _renumber(
        session, items, data.parent_id, rules.insert_positions(siblings, item_id, data.position)
    )
    if old_parent != data.parent_id:
        _renumber(session, items, old_parent)
    session.flush()
    after = _number_of(session, meeting_id, item_id)
    if before == after:
        return _unchanged(ctx)
    version = record_change(ctx)
    note = ChangeNote(
        action="item.moved",
        item_id=item_id,
        title=item.title,
        detail=f"mục {before} → mục {after}",
        confidential=item.confidential,
    )
    return _emit(ctx, version, [note])


def remove_item(session: Session, ctx: CommandContext, item_id: int) -> dict[str, Any]:
    """Remove an item and its sub-items (their documents stay in the meeting, unattached)."""
    version = begin_change(ctx)
    meeting = ctx.meeting
    assert meeting.id is not None
    item = _get_item(session, ctx, item_id)
    items = load_items(session, meeting.id)
    doomed = rules.subtree(items, item_id)
    if meeting.current_item_id in doomed and meeting.status == MeetingStatus.IN_SESSION.value:
        raise Conflict(
            "Không thể xóa mục đang được thảo luận (the item is the current item).",
            code="agenda_item_current",
        )
    used = session.exec(select(Poll.id).where(col(Poll.agenda_item_id).in_(doomed))).first()
    spoken = session.exec(
        select(SpeakerRequest.id).where(col(SpeakerRequest.agenda_item_id).in_(doomed))
    ).first()
    if used is not None or spoken is not None:
        raise Conflict(
            "Mục đã có biểu quyết hoặc lượt phát biểu, không thể xóa "
            "(the item has polls or speaker turns).",
            code="agenda_item_in_use",
        )
    number = _number_of(session, meeting.id, item_id)
    note = ChangeNote(
        action="item.removed",
        item_id=item_id,
        title=item.title,
        detail=f"mục {number}" + (f" và {len(doomed) - 1} mục con" if len(doomed) > 1 else ""),
        confidential=item.confidential,
    )
    links = session.exec(
        select(AgendaItemDocument).where(col(AgendaItemDocument.agenda_item_id).in_(doomed))
    ).all()
    for link in links:
        session.delete(link)
    if meeting.current_item_id in doomed:
        meeting.current_item_id = None
        session.add(meeting)
    session.flush()
    # Children first: they point at their parent.
    for doomed_id in reversed(doomed):
        session.delete(next(i for i in items if i.id == doomed_id))
        session.flush()
    rest = [i for i in items if i.id not in doomed]
    _renumber(session, rest, item.parent_id)
    return _emit(ctx, version, [note])


# --- documents of an item ------------------------------------------------------------------


def _get_document(session: Session, ctx: CommandContext, document_id: int) -> Document:
    doc = session.get(Document, document_id)
    if doc is None or doc.meeting_id != ctx.meeting.id:
        raise NotFound(
            f"Không có tài liệu #{document_id} trong cuộc họp này (unknown document).",
            code="document_not_found",
        )
    return doc


def _links(session: Session, item_id: int) -> list[AgendaItemDocument]:
    return list(
        session.exec(
            select(AgendaItemDocument)
            .where(AgendaItemDocument.agenda_item_id == item_id)
            .order_by(AgendaItemDocument.position, AgendaItemDocument.id)  # type: ignore[arg-type]
        ).all()
    )


def _reposition(session: Session, links: list[AgendaItemDocument]) -> None:
    for position, link in enumerate(links):
        if link.position != position:
            link.position = position
            session.add(link)


def link_document(
    session: Session, item: AgendaItem, document_id: int, position: int | None = None,
    ctx: CommandContext | None = None,
) -> AgendaItemDocument:
    """Attach a meeting document to an item at ``position`` (None: last); a confidential
    item makes it (and all its versions) confidential for good, and with ``ctx`` the room is
    told so."""
    assert item.id is not None
    links = _links(session, item.id)
    if any(link.document_id == document_id for link in links):
        raise Conflict(
            "Tài liệu đã được gắn vào mục này (already attached).", code="document_already_attached"
        )
    link = AgendaItemDocument(agenda_item_id=item.id, document_id=document_id, position=len(links))
    session.add(link)
    at = len(links) if position is None else max(0, min(position, len(links)))
    links.insert(at, link)
    _reposition(session, links)
    session.flush()
    confide_to_item(session, item, [document_id], ctx)
    return link


def attach_document(
    session: Session, ctx: CommandContext, item_id: int, data: DocumentLink
) -> dict[str, Any]:
    """Attach an existing document of the meeting to an item."""
    version = begin_change(ctx)
    item = _get_item(session, ctx, item_id)
    doc = _get_document(session, ctx, data.document_id)
    if doc.replaced_by_id is not None:
        raise Conflict(
            "Tài liệu đã được thay bằng phiên bản mới (the document was replaced).",
            code="document_replaced",
            details={"replaced_by_id": doc.replaced_by_id},
        )
    link_document(session, item, data.document_id, data.position, ctx)
    note = ChangeNote(
        action="document.attached",
        item_id=item.id,
        document_id=doc.id,
        title=doc.title,
        detail=item.title,
        confidential=doc.confidential or item.confidential,
    )
    return _emit(ctx, version, [note])


def reorder_documents(
    session: Session, ctx: CommandContext, item_id: int, data: DocumentOrder
) -> dict[str, Any]:
    """Put an item's documents in the given order (the same documents, each once)."""
    lifecycle.check_editable(ctx.meeting.status)
    item = _get_item(session, ctx, item_id)
    links = _links(session, item_id)
    if sorted(data.document_ids) != sorted(link.document_id for link in links):
        raise InvalidInput(
            "Danh sách phải gồm đúng các tài liệu của mục, mỗi tài liệu một lần "
            "(list exactly the item's documents, each once).",
            code="invalid_document_order",
            details={"expected": sorted(link.document_id for link in links)},
        )
    if [link.document_id for link in links] == data.document_ids:
        return _unchanged(ctx)
    by_doc = {link.document_id: link for link in links}
    _reposition(session, [by_doc[d] for d in data.document_ids])
    version = record_change(ctx)
    note = ChangeNote(
        action="documents.reordered",
        item_id=item.id,
        title=item.title,
        confidential=item.confidential,
    )
    return _emit(ctx, version, [note])


def detach_document(
    session: Session, ctx: CommandContext, item_id: int, document_id: int
) -> dict[str, Any]:
    """Take a document off an item (it stays in the meeting)."""
    version = begin_change(ctx)
    item = _get_item(session, ctx, item_id)
    links = _links(session, item_id)
    link = next((x for x in links if x.document_id == document_id), None)
    if link is None:
        raise NotFound(
            "Tài liệu không gắn với mục này (the document is not attached to this item).",
            code="document_not_attached",
        )
    doc = _get_document(session, ctx, document_id)
    session.delete(link)
    links.remove(link)
    _reposition(session, links)
    note = ChangeNote(
        action="document.detached",
        item_id=item.id,
        document_id=document_id,
        title=doc.title,
        detail=item.title,
        confidential=doc.confidential or item.confidential,
    )
    return _emit(ctx, version, [note])
