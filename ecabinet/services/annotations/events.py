"""What the annotation changes send: the views, the events and who gets which.

The meeting's event log is kept for as long as the meeting, and replayed to anyone who resyncs;
an annotation's text and geometry can stop being theirs to read long before that (its author
makes it private, or deletes it). So the log never holds contents: the logged
``annotation.saved`` carries only references (id, uid, author, document, version), and the
contents of a shared annotation go to the devices connected at that moment in
``annotation.saved.live``, outside the log. A device that resyncs gets the references and the
private ``annotations`` snapshot part, which holds exactly what it may read now; a device that
holds a reference without the contents fetches them over the same authorised read
(``GET /api/documents/{id}/annotations``). Removals carry references only and stay logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from ecabinet.domain import annotations as rules
from ecabinet.domain.annotations import Audience, Visibility
from ecabinet.protocol import Schema, event
from ecabinet.services.kernel.context import OutEvent
from ecabinet.storage.models import Annotation


class Author(Schema):
    user_id: int
    full_name: str


class AnnotationView(Schema):
    id: int
    uid: str
    document_id: int
    page: int  # 0-based
    kind: str  # ink, highlight, note, text
    visibility: str  # private, staff, shared
    data: dict[str, Any]
    author: Author
    version: int
    # Set when the document was replaced and this annotation found no place in the new version:
    # ``page`` and ``data`` then refer to that earlier version (its id), shown beside the new one.
    orphaned_from_document_id: int | None
    # Made on a version that has since been replaced: the server is carrying it over.
    carry_pending: bool
    created_at: datetime
    updated_at: datetime


class AnnotationsSaved(Schema):
    annotations: list[AnnotationView]


class SavedAnnotation(Schema):
    """A reference to an annotation at a version: no text, no geometry, nothing of its contents
    (what the event log keeps)."""

    id: int
    uid: str
    author_id: int
    document_id: int
    version: int


class AnnotationsChanged(Schema):
    annotations: list[SavedAnnotation]


class RemovedAnnotation(SavedAnnotation):
    reason: Literal["deleted", "hidden"]  # hidden: this audience no longer reads it


class AnnotationsRemoved(Schema):
    annotations: list[RemovedAnnotation]


_SAVED = "Annotations created or changed, as they now are (clients upsert by `id`, keeping the "
_REMOVED = "Annotations deleted (`reason` deleted) or no longer readable by this audience "
_OBSERVERS = " Observers do not get those on confidential documents."
event("annotation.saved", AnnotationsChanged, audience="meeting",
      sent_by="annotation.create, annotation.update, ink.keep, a replaced document",
      summary="Shared annotations were created or changed: references only (`id`, `uid`, "
      "`author_id`, `document_id`, `version`), never their contents, because the log is "
      "replayed to people who may no longer read them. The contents came just before in "
      "`annotation.saved.live`; a client that does not hold an annotation at that `version` "
      "fetches it with `GET /api/documents/{document_id}/annotations?ids=...` (after a resync, "
      "the `annotations` snapshot part already has it)." + _OBSERVERS)
event("annotation.saved.live", AnnotationsSaved, audience="meeting", logged=False,
      sent_by="annotation.create, annotation.update, ink.keep, a replaced document",
      summary=_SAVED + "higher `version`): the contents of shared annotations, to the devices "
      "connected now. Not logged: the log keeps the references of `annotation.saved`, which "
      "follows." + _OBSERVERS)
event("annotation.saved.staff", AnnotationsSaved, audience="staff", logged=False,
      sent_by="annotation.create, annotation.update, a replaced document",
      summary=_SAVED + "higher `version`): annotations whose visibility is `staff`. Also in the "
      "`annotations` snapshot part.")
event("annotation.saved.own", AnnotationsSaved, audience="user", logged=False,
      sent_by="annotation.create, annotation.update, a replaced document",
      summary=_SAVED + "higher `version`): the author's own private and staff annotations, to "
      "the author's devices. Also in the `annotations` snapshot part.")
event("annotation.removed", AnnotationsRemoved, audience="meeting",
      sent_by="annotation.delete, annotation.update (visibility narrowed)",
      summary=_REMOVED + "(`reason` hidden: it was shared and is not any more). When the "
      "annotation stays readable for some, the new state follows in a `saved` event.")
event("annotation.removed.staff", AnnotationsRemoved, audience="staff", logged=False,
      sent_by="annotation.delete, annotation.update (visibility narrowed)",
      summary=_REMOVED + "among the staff-visible annotations.")
event("annotation.removed.own", AnnotationsRemoved, audience="user", logged=False,
      sent_by="annotation.delete, annotation.update (staff made private)",
      summary=_REMOVED + "among the author's own private and staff annotations.")

# The contents each audience gets (the meeting's outside the log) ...
_SAVED_TYPES: Final = {
    Audience.MEETING: "annotation.saved.live",
    Audience.STAFF: "annotation.saved.staff",
    Audience.AUTHOR: "annotation.saved.own",
}
# ... and, for the meeting, the logged references that follow them.
LOGGED_SAVED: Final = "annotation.saved"
_REMOVED_TYPES: Final = {
    Audience.MEETING: "annotation.removed",
    Audience.STAFF: "annotation.removed.staff",
    Audience.AUTHOR: "annotation.removed.own",
}

Emit = Callable[..., OutEvent]  # emit(type, payload, *, user_id=None, observer_payload=None)
_Key = tuple[Audience, int | None]


def reference(view: AnnotationView) -> SavedAnnotation:
    """What the log may keep of an annotation."""
    return SavedAnnotation(id=view.id, uid=view.uid, author_id=view.author.user_id,
                           document_id=view.document_id, version=view.version)


@dataclass
class Outbox:
    """Collects the changes of one transaction into as few events as their audiences allow:
    removals first, then the annotations as they are now."""

    removed: dict[_Key, list[tuple[RemovedAnnotation, bool]]] = field(default_factory=dict)
    saved: dict[_Key, list[tuple[AnnotationView, bool]]] = field(default_factory=dict)

    def save(self, view: AnnotationView, *, secret: bool) -> None:
        for audience in rules.audiences(Visibility(view.visibility)):
            key = (audience, view.author.user_id if audience is Audience.AUTHOR else None)
            self.saved.setdefault(key, []).append((view, secret))

    def remove(self, view: AnnotationView, visibility: Visibility, reason: str, *,
               secret: bool) -> None:
        gone = RemovedAnnotation(
            **reference(view).model_dump(),
            reason="deleted" if reason == "deleted" else "hidden",
        )
        for audience in rules.audiences(visibility):
            key = (audience, view.author.user_id if audience is Audience.AUTHOR else None)
            self.removed.setdefault(key, []).append((gone, secret))

    def emit(self, emit: Emit) -> None:
        for (audience, user_id), gone in self.removed.items():
            _send(emit, _REMOVED_TYPES[audience], AnnotationsRemoved, gone, audience, user_id)
        for (audience, user_id), views in self.saved.items():
            _send(emit, _SAVED_TYPES[audience], AnnotationsSaved, views, audience, user_id)
            if audience is Audience.MEETING:
                refs = [(reference(view), secret) for view, secret in views]
                _send(emit, LOGGED_SAVED, AnnotationsChanged, refs, audience, None)


def _send(emit: Emit, type_: str, model: type[Schema], items: list[tuple[Any, bool]],
          audience: Audience, user_id: int | None) -> None:
    payload = model.model_validate({"annotations": [item for item, _secret in items]})
    hidden = None
    if audience is Audience.MEETING and any(secret for _item, secret in items):
        hidden = model.model_validate({"annotations": [i for i, secret in items if not secret]})
    emit(type_, payload, user_id=user_id, observer_payload=hidden)


def view_of(row: Annotation, author_name: str, *, carry_pending: bool = False) -> AnnotationView:
    assert row.id is not None
    return AnnotationView(
        id=row.id,
        uid=row.uid,
        document_id=row.document_id,
        page=row.page,
        kind=row.kind,
        visibility=row.visibility,
        data=row.data,
        author=Author(user_id=row.author_id, full_name=author_name),
        version=row.version,
        orphaned_from_document_id=row.orphaned_from_document_id,
        carry_pending=carry_pending,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
