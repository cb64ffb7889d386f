"""The one access policy for document content, as the services apply it.

``may_have(actor, document, form)`` says whether the caller may have the document in that form
(its PDF, words, bookmarks, page images, a listing or event naming it, an export or a book) and
how: as stored, watermarked, left out (a placeholder in a collection) or hidden altogether. The
table itself is ``ecabinet.domain.access``; every read, export, CLI command and event that lets
document content or existence out goes through here. Confidentiality is the stored, sticky
``Document.confidential`` (``services.meetings.confidentiality``): by flag, by any confidential
item the document is or was attached to, and shared by all its versions.
"""

from __future__ import annotations

from collections.abc import Iterable

from ecabinet.core.errors import Forbidden, NotFound
from ecabinet.domain.access import Decision, Form, Grant, decide
from ecabinet.services.kernel.context import Actor
from ecabinet.storage.models import Document

__all__ = ["Decision", "Form", "Grant", "may_have", "require", "secret_ids", "visible"]


def may_have(actor: Actor, document: Document, form: Form) -> Decision:
    """What ``actor`` (already allowed to read the document's meeting) gets of ``document``
    in ``form``."""
    return decide(actor.role, is_admin=actor.is_admin, confidential=document.confidential,
                  form=form)


def require(actor: Actor, document: Document, form: Form) -> Decision:
    """``may_have``, raising when nothing of it may go out: ``NotFound``
    (``document_not_found``: the caller learns nothing) or ``Forbidden`` with the policy's
    code (``confidential_no_download``, ``confidential_images_only``,
    ``confidential_no_export``)."""
    decision = may_have(actor, document, form)
    if decision.grant is Grant.HIDDEN:
        raise NotFound(f"Không tìm thấy tài liệu #{document.id}.", code="document_not_found")
    if decision.grant is Grant.LEFT_OUT:
        raise Forbidden(decision.message, code=decision.code)
    return decision


def visible(actor: Actor, documents: Iterable[Document], form: Form = Form.LISTING,
            ) -> list[Document]:
    """The documents whose existence ``actor`` may learn (in ``form``)."""
    return [d for d in documents if may_have(actor, d, form).known]


def secret_ids(documents: Iterable[Document]) -> set[int]:
    """The ids of the confidential ones among ``documents``."""
    return {d.id for d in documents if d.confidential and d.id is not None}
