"""Sticky confidentiality: once confidential, a document and all its versions stay so.

A document becomes confidential when it is marked so, or attached to a confidential agenda item
(at upload, later, or when the item itself is made confidential). Whatever made it so, the fact
is stored on every version of the document (``Document.confidential``), old and new, so that
detaching it, replacing it or making the item public again never opens an old copy to everyone.
Only an explicit, audited declassification (``services.documents.access``) lowers it.

Each change of confidentiality bumps ``Document.access_version``: it is part of every content
URL and ETag, so a copy kept under the old URL is never taken for the current one.

This lives with the agenda (below documents in the capability order) because attaching to items
is where documents most often become confidential; the documents capability listens
(``on_reclassified``) to tell the room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlmodel import Session, col, select

from ecabinet.services.kernel.context import CommandContext
from ecabinet.storage.models import AgendaItem, AgendaItemDocument, Document

# fn(session, ctx, the versions whose confidentiality changed): emits the events about them.
Listener = Callable[[Session, CommandContext, list[Document]], None]
_listeners: list[Listener] = []


def on_reclassified(fn: Listener) -> Listener:
    """Register ``fn`` to run in the transaction of every change of confidentiality."""
    _listeners.append(fn)
    return fn


def lineage(session: Session, document: Document) -> list[Document]:
    """Every version of ``document``, oldest first."""
    first = document
    seen = {document.id}
    while first.replaces_id is not None:
        older = session.get(Document, first.replaces_id)
        if older is None or older.id in seen:
            break
        seen.add(older.id)
        first = older
    versions = [first]
    while versions[-1].replaced_by_id is not None:
        newer = session.get(Document, versions[-1].replaced_by_id)
        if newer is None or newer.id in {v.id for v in versions}:
            break
        versions.append(newer)
    return versions


def set_confidential(
    session: Session, documents: Iterable[Document], confidential: bool,
    ctx: CommandContext | None = None,
) -> list[Document]:
    """Make the lineages of ``documents`` confidential (or not); return the versions that
    changed. With ``ctx`` the room is told (the listeners emit events in its transaction)."""
    changed: list[Document] = []
    done: set[int | None] = set()
    for document in documents:
        if document.id in done:
            continue
        for version in lineage(session, document):
            done.add(version.id)
            if version.confidential != confidential:
                version.confidential = confidential
                version.access_version += 1
                session.add(version)
                changed.append(version)
    if changed:
        session.flush()
        if ctx is not None:
            for listener in _listeners:
                listener(session, ctx, changed)
    return changed


def confide_to_item(
    session: Session, item: AgendaItem, document_ids: Iterable[int],
    ctx: CommandContext | None = None,
) -> list[Document]:
    """Documents attached to ``item``: confidential from now on when the item is."""
    if not item.confidential:
        return []
    ids = list(document_ids)
    docs = list(session.exec(select(Document).where(col(Document.id).in_(ids))).all())
    return set_confidential(session, docs, True, ctx)


def item_documents(session: Session, item_id: int) -> list[int]:
    """The ids of the documents attached to an item."""
    return list(session.exec(
        select(AgendaItemDocument.document_id).where(AgendaItemDocument.agenda_item_id == item_id)
    ).all())
