"""The annotations of one document, as one reader may read them (the HTTP read of the
``annotations`` snapshot part, and the fetch of what a logged ``annotation.saved`` names)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from ecabinet.services.accounts import SessionInfo
from ecabinet.services.annotations import readable
from ecabinet.services.documents import load_document


def document_annotations(
    session: Session, user: SessionInfo, document_id: int, ids: list[int] | None = None
) -> list[dict[str, Any]]:
    """The document's annotations the caller may read (``document_not_found`` for those who
    may not see the document), or only those of ``ids`` among them."""
    access = load_document(session, user, document_id)
    assert access.meeting.id is not None
    views = readable(session, access.actor, access.meeting.id, document_ids=[document_id],
                     ids=ids)
    return [v.model_dump(mode="json") for v in views]
