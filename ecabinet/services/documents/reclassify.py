"""Changes of confidentiality: telling the room, and the one way down (declassifying).

A document becomes confidential by its flag or by a confidential agenda item, and stays so with
all its versions (``services.meetings.confidentiality``). Each change is one logged
``document.reclassified``: members get the documents as they are now (a new ``access_version``:
their tablets drop what they kept under the old URLs); observers get the documents they may now
see, and the ids of those they may no longer see (ids they were shown before), never an id of a
document that was confidential all along.

Lowering it is an explicit act of the meeting's secretary (or an admin) with a reason, recorded
in the audit trail (``document.declassified``); it is refused while the document is attached to
a confidential item.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, NotFound
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain import lifecycle
from ecabinet.protocol import Schema, event
from ecabinet.services import audit
from ecabinet.services.documents import DocumentInfo, describe
from ecabinet.services.documents.access import Form, may_have
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.meetings.confidentiality import lineage, on_reclassified, set_confidential
from ecabinet.services.meetings.versions import record_change
from ecabinet.storage.models import AgendaItem, AgendaItemDocument, Document


class DocumentReclassified(Schema):
    documents: list[DocumentInfo]  # current documents whose confidentiality changed, as now
    removed_ids: list[int]  # documents the receiver may no longer see (observers only)
    pack_version: int


class DeclassifyRequest(Schema):
    reason: str = Field(min_length=3, max_length=500,
                        description="Why the document need not be confidential any more "
                        "(kept in the audit trail).")


event("document.reclassified", DocumentReclassified, audience="meeting",
      sent_by="attaching a document to a confidential item, making an item confidential, "
      "POST /api/documents/{id}/declassify",
      summary="Documents became confidential, or were declassified. Each carries a new "
      "`access_version`: content URLs change with it, and tablets drop what they kept under "
      "the old ones. Observers get the documents they may now see, and in `removed_ids` those "
      "they may no longer see.")


@on_reclassified
def _tell_the_room(session: Session, ctx: CommandContext, changed: list[Document]) -> None:
    current = {d.id: d for d in changed if d.replaced_by_id is None and d.id is not None}
    if not current:
        return  # only old versions changed: nobody lists them
    version = record_change(ctx)
    infos = [describe(session, d) for d in current.values()]
    payload = DocumentReclassified(documents=infos, removed_ids=[], pack_version=version)
    public = [i for i in infos if not i.confidential]
    gone = sorted(i.id for i in infos if i.confidential)
    hidden = DocumentReclassified(documents=public, removed_ids=gone, pack_version=version)
    ctx.emit("document.reclassified", payload, observer_payload=hidden)


def _in_confidential_item(session: Session, versions: list[Document]) -> list[int]:
    ids = [v.id for v in versions if v.id is not None]
    return sorted(set(session.exec(
        select(AgendaItemDocument.agenda_item_id)
        .where(col(AgendaItemDocument.document_id).in_(ids))
        .where(AgendaItemDocument.agenda_item_id == AgendaItem.id)
        .where(col(AgendaItem.confidential).is_(True))
    ).all()))


def declassify(
    session: Session, ctx: CommandContext, document_id: int, request: DeclassifyRequest,
    address: str = "",
) -> dict[str, Any]:
    """Make a confidential document (all its versions) ordinary again, for a stated reason;
    audited. ``document_not_confidential`` when it is not confidential,
    ``document_in_confidential_item`` while a confidential item holds it."""
    lifecycle.check_editable(ctx.meeting.status)
    doc = session.get(Document, document_id)
    if doc is None or doc.meeting_id != ctx.meeting.id:
        raise NotFound(f"Không tìm thấy tài liệu #{document_id}.", code="document_not_found")
    if not may_have(ctx.actor, doc, Form.LISTING).known:  # pragma: no cover - editors see all
        raise NotFound(f"Không tìm thấy tài liệu #{document_id}.", code="document_not_found")
    if not doc.confidential:
        raise Conflict(f"Tài liệu #{document_id} không phải tài liệu mật "
                       "(the document is not confidential).", code="document_not_confidential")
    versions = lineage(session, doc)
    items = _in_confidential_item(session, versions)
    if items:
        raise Conflict(
            "Tài liệu đang gắn với mục mật; hãy gỡ khỏi mục đó trước "
            "(the document is attached to a confidential agenda item).",
            code="document_in_confidential_item", details={"item_ids": items},
        )
    changed = set_confidential(session, versions, False, ctx)
    reason = nfc_trimmed(request.reason)
    audit.record(session, audit.DECLASSIFIED, actor_id=ctx.actor.user_id,
                 subject=f"document:{document_id}",
                 details={"meeting_id": ctx.meeting.id, "reason": reason,
                          "versions": sorted(v.id for v in changed if v.id is not None)},
                 address=address)
    current = versions[-1]
    return {"document": describe(session, current).model_dump(mode="json")}
