"""Annotations: ink, highlights, sticky notes and free text on a meeting's documents.

Each annotation has a ``uid`` its author's device chooses (so that an annotation made offline
keeps its identity when the device replays it), and a server ``version`` that every change
raises. Changes are last-writer-wins per field: an update names the fields it changes
(``visibility``, ``page`` and/or ``data``) and the version it was made from (``base_version``).
When that version is not the latest (another device changed the annotation meanwhile), the update
still applies - the last write to reach the server wins - and the ack says ``stale: true`` with
the annotation as it now is; fields the update does not name keep the other device's values. A
deleted annotation stays deleted: a later update answers ``annotation_deleted``.

Who hears of a change depends on the visibility (``ecabinet.domain.annotations``):

- ``private``: ``annotation.saved.own`` / ``annotation.removed.own`` to the author's devices;
- ``staff``: ``annotation.saved.staff`` to the chair and secretaries, and the ``.own`` event to the
  author's devices;
- ``shared``: ``annotation.saved.live`` with the contents to the devices connected now, then
  ``annotation.saved`` with references only, logged; ``annotation.removed``, logged (observers
  do not get annotations on confidential documents). The log never holds contents
  (``events``).

A change of visibility that narrows the readers first sends a removal (``reason: "hidden"``) to
the old audience, then the annotation to the new one, so every device that still reads it ends
with it. The private snapshot part ``annotations`` holds everything the user may read and is sent
again on every resync: clients apply it after the replayed events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Field, model_validator
from sqlalchemy import or_
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ecabinet.core.text import nfc
from ecabinet.domain import annotations as rules
from ecabinet.domain import lifecycle
from ecabinet.domain.annotations import Visibility
from ecabinet.domain.roles import MeetingRole
from ecabinet.protocol import Command, Schema, command
from ecabinet.protocol.roles import PARTICIPANTS
from ecabinet.services.annotations.events import AnnotationView, Outbox, view_of
from ecabinet.services.documents import may_see, secret_documents
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.storage.models import Annotation, Blob, Document, Meeting, User, utcnow

MAX_TEXT: Final = 10_000
MAX_FETCH: Final = 200  # annotation ids in one fetch


Coord = Annotated[float, Field(allow_inf_nan=False, ge=-100_000, le=100_000)]
Point = Annotated[list[Coord], Field(min_length=2, max_length=2)]
Rect = Annotated[list[Coord], Field(min_length=4, max_length=4)]
Colour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}$")]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(nfc)]
Uid = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _ordered(rect: list[float]) -> list[float]:
    x0, y0, x1, y1 = rect
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


class InkData(Schema):
    kind: Literal["ink"]
    strokes: list[Annotated[list[Point], Field(min_length=1)]] = Field(min_length=1)
    colour: Colour = "#D32F2F"
    width: float = Field(default=2.0, ge=0.25, le=48)
    opacity: float = Field(default=1.0, ge=0.05, le=1.0)


class HighlightData(Schema):
    kind: Literal["highlight"]
    rects: list[Rect] = Field(min_length=1, max_length=500)
    text: Text = ""  # the highlighted words: the anchor that follows the text to a new version
    comment: Text = ""
    colour: Colour = "#FFEB3B"

    @model_validator(mode="after")
    def _corners(self) -> HighlightData:
        self.rects = [_ordered(r) for r in self.rects]
        return self


class NoteData(Schema):
    kind: Literal["note"]
    at: Point
    text: Text = ""
    colour: Colour = "#FBC02D"


class TextData(Schema):
    kind: Literal["text"]
    rect: Rect
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(nfc)]
    font_size: float = Field(default=12.0, ge=4, le=96)
    colour: Colour = "#1565C0"

    @model_validator(mode="after")
    def _corners(self) -> TextData:
        self.rect = _ordered(self.rect)
        return self


AnnotationData = Annotated[
    InkData | HighlightData | NoteData | TextData, Field(discriminator="kind")
]
VisibilityName = Literal["private", "shared", "staff"]


class AnnotationCreate(Command):
    uid: Uid | None = None  # default: the command's client_id
    document_id: int = Field(ge=1)
    page: int = Field(ge=0, le=100_000)  # 0-based, like present.page
    visibility: VisibilityName = "private"
    data: AnnotationData


class AnnotationRef(Command):
    """Names one annotation: ``uid`` (the caller's own) or the server's ``id``."""

    uid: Uid | None = None
    id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_reference(self) -> AnnotationRef:
        if (self.uid is None) == (self.id is None):
            raise ValueError("give exactly one of uid and id")
        return self


class AnnotationUpdate(AnnotationRef):
    base_version: int = Field(ge=1)
    visibility: VisibilityName | None = None
    page: int | None = Field(default=None, ge=0, le=100_000)
    data: AnnotationData | None = None


class AnnotationDelete(AnnotationRef):
    base_version: int | None = Field(default=None, ge=1)


# --- reading -----------------------------------------------------------------------------------


def _observer(actor: Actor) -> bool:
    return actor.role is MeetingRole.OBSERVER


def _reads_staff(actor: Actor) -> bool:
    return actor.is_staff or actor.is_admin


def readable(
    session: Session, actor: Actor, meeting_id: int, *, document_ids: Iterable[int] | None = None,
    ids: Iterable[int] | None = None,
) -> list[AnnotationView]:
    """Every live annotation of the meeting the actor may read (on documents they may see),
    or those of them on ``document_ids`` and/or with the ``ids`` given. This is the one read
    that serves annotations' contents to anyone but their author's own acks."""
    clauses: list[Any] = [Annotation.author_id == actor.user_id,
                          Annotation.visibility == "shared"]
    if _reads_staff(actor):
        clauses.append(Annotation.visibility == "staff")
    query = (
        select(Annotation, User.full_name, Document)
        .where(Annotation.meeting_id == meeting_id, Annotation.deleted == False)  # noqa: E712
        .where(or_(*clauses))
        .where(Annotation.author_id == User.id, Annotation.document_id == Document.id)
        .order_by(col(Annotation.id))
    )
    if document_ids is not None:
        query = query.where(col(Annotation.document_id).in_(list(document_ids)))
    if ids is not None:
        query = query.where(col(Annotation.id).in_(list(ids)))
    rows = session.exec(query).all()
    secret = secret_documents(session, list({doc.id: doc for _r, _n, doc in rows}.values()))
    return [
        view_of(row, name, carry_pending=doc.replaced_by_id is not None)
        for row, name, doc in rows
        if may_see(actor, doc.id in secret)
    ]


def wanted_ids(raw: str | None) -> list[int] | None:
    """The annotation ids of a fetch (``"4,7"``), or None for all; ``invalid_payload`` for
    anything but up to ``MAX_FETCH`` positive integers."""
    if raw is None:
        return None
    parts = raw.split(",")
    if len(parts) > MAX_FETCH or not all(p.strip().isdecimal() for p in parts):
        raise InvalidInput(
            f"Tham số 'ids' phải là tối đa {MAX_FETCH} số nguyên dương, cách nhau bởi dấu phẩy "
            f"(ids: up to {MAX_FETCH} positive integers, comma-separated).",
            code="invalid_payload",
            details=[{"field": "ids",
                      "message": f"up to {MAX_FETCH} comma-separated positive integers"}],
        )
    ids = [int(p) for p in parts]
    if not all(0 < i < 2**31 for i in ids):
        raise InvalidInput(
            "Mã ghi chú phải là số nguyên dương (ids must be positive integers).",
            code="invalid_payload",
            details=[{"field": "ids", "message": "out of range"}],
        )
    return ids


@snapshot_part("annotations", private=True)
def annotations_part(session: Session, actor: Actor, meeting: Meeting) -> list[dict[str, Any]]:
    """Own annotations (any visibility), shared ones, and for the staff the staff ones."""
    assert meeting.id is not None
    return [v.model_dump(mode="json") for v in readable(session, actor, meeting.id)]


# --- checks ------------------------------------------------------------------------------------


def _check_visibility(actor: Actor, visibility: Visibility) -> None:
    if not rules.may_choose(visibility, observer=_observer(actor)):
        raise Forbidden(
            "Người quan sát chỉ ghi chú riêng được (observers keep private annotations only).",
            code="visibility_not_allowed",
            details={"visibility": visibility.value},
        )


def is_secret(session: Session, doc: Document) -> bool:
    """Confidential: marked so, or attached to a confidential agenda item."""
    return bool(secret_documents(session, [doc]))


def visible_document(session: Session, actor: Actor, meeting: Meeting,
                     document_id: int) -> tuple[Document, Blob | None, bool]:
    """A document of this meeting the actor may see, its blob and whether it is confidential;
    ``document_not_found`` otherwise (an observer learns nothing about a confidential one)."""
    doc = session.get(Document, document_id)
    if doc is None or doc.meeting_id != meeting.id:
        raise NotFound(
            f"Không có tài liệu #{document_id} trong cuộc họp này.", code="document_not_found"
        )
    secret = is_secret(session, doc)
    if not may_see(actor, secret):
        raise NotFound(
            f"Không có tài liệu #{document_id} trong cuộc họp này.", code="document_not_found"
        )
    return doc, session.get(Blob, doc.blob_sha256), secret


def check_geometry(kind: str, data: dict[str, Any], page: int, blob: Blob | None) -> None:
    """The page exists, the geometry is not too big and lies on the page."""
    count = blob.page_count if blob is not None else None
    if count is not None and page >= count:
        raise InvalidInput(
            f"Tài liệu chỉ có {count} trang (page {page} is out of range; pages count from 0).",
            code="page_out_of_range",
            details={"page": page, "page_count": count},
        )
    if kind == "ink":
        total = rules.point_count(kind, data)
        strokes = len(data["strokes"])
        if total > rules.MAX_POINTS or strokes > rules.MAX_STROKES:
            raise InvalidInput(
                f"Nét vẽ quá dài: tối đa {rules.MAX_POINTS} điểm và {rules.MAX_STROKES} nét "
                "(too many points).",
                code="too_many_points",
                details={"points": total, "strokes": strokes, "max_points": rules.MAX_POINTS,
                         "max_strokes": rules.MAX_STROKES},
            )
    size = rules.page_size(blob.page_sizes if blob else None, page)
    width, height = size or (rules.LARGEST_PAGE, rules.LARGEST_PAGE)
    outside = rules.off_page(kind, data, width, height)
    if outside is not None:
        raise InvalidInput(
            f"Tọa độ ({outside[0]:g}, {outside[1]:g}) nằm ngoài trang {page + 1} "
            f"({width:g} × {height:g} pt) (coordinates off the page).",
            code="off_page",
            details={"point": list(outside), "page_size": [width, height]},
        )


def _missing(reference: str) -> NotFound:
    return NotFound(f"Không tìm thấy ghi chú {reference}.", code="annotation_not_found")


def own_annotation(session: Session, ctx: CommandContext, ref: AnnotationRef) -> Annotation:
    """The caller's annotation named by ``ref`` (locked for the change)."""
    actor, meeting_id = ctx.actor, ctx.meeting.id
    if ref.uid is not None:
        row = session.exec(
            select(Annotation)
            .where(Annotation.author_id == actor.user_id, Annotation.uid == ref.uid)
            .with_for_update()
        ).first()
        if row is None or row.meeting_id != meeting_id:
            raise _missing(f"'{ref.uid}'")
        return row
    row = session.get(Annotation, ref.id, with_for_update=True)
    if row is None or row.meeting_id != meeting_id:
        raise _missing(f"#{ref.id}")
    if row.author_id != actor.user_id:
        doc = session.get(Document, row.document_id)
        readable_to_caller = (
            not row.deleted
            and doc is not None
            and may_see(actor, is_secret(session, doc))
            and rules.may_read(Visibility(row.visibility), row.author_id, actor.user_id,
                               viewer_is_staff=_reads_staff(actor))
        )
        if not readable_to_caller:
            raise _missing(f"#{ref.id}")
        raise Forbidden(
            "Chỉ người tạo ghi chú mới sửa hoặc xóa được (only the author may change an "
            "annotation).",
            code="not_author",
        )
    return row


def _deleted(row: Annotation) -> Conflict:
    return Conflict(
        "Ghi chú này đã bị xóa (the annotation was deleted).",
        code="annotation_deleted",
        details={"id": row.id, "uid": row.uid, "version": row.version},
    )


def _secret(session: Session, document_id: int) -> bool:
    doc = session.get(Document, document_id)
    return doc is not None and is_secret(session, doc)


def _pending(session: Session, document_id: int) -> bool:
    doc = session.get(Document, document_id)
    return bool(doc is not None and doc.replaced_by_id is not None)


def _answer(view: AnnotationView, **extra: Any) -> dict[str, Any]:
    return {"annotation": view.model_dump(mode="json"), "version": view.version, **extra}


# --- commands ----------------------------------------------------------------------------------

_GEOMETRY_ERRORS = ("document_not_found", "page_out_of_range", "too_many_points", "off_page")


def create(session: Session, ctx: CommandContext, *, uid: str, document_id: int, page: int,
           visibility: Visibility, data: dict[str, Any]) -> dict[str, Any]:
    """Create an annotation for the caller (or answer the one that already has ``uid``)."""
    actor, meeting = ctx.actor, ctx.meeting
    assert meeting.id is not None
    lifecycle.check_editable(meeting.status)
    _check_visibility(actor, visibility)
    existing = session.exec(
        select(Annotation).where(Annotation.author_id == actor.user_id, Annotation.uid == uid)
    ).first()
    if existing is not None:
        # Replayed by a device that did not get the first answer (with a new client id).
        if existing.meeting_id != meeting.id:
            raise Conflict(
                f"Mã ghi chú '{uid}' đã được dùng ở cuộc họp khác (uid already used).",
                code="uid_in_use",
            )
        if existing.deleted:
            raise _deleted(existing)
        view = view_of(existing, actor.full_name,
                       carry_pending=_pending(session, existing.document_id))
        return _answer(view, existing=True, stale=False)
    doc, blob, secret = visible_document(session, actor, meeting, document_id)
    check_geometry(data["kind"], data, page, blob)
    now = utcnow()
    row = Annotation(
        uid=uid, meeting_id=meeting.id, document_id=doc.id or 0, page=page,
        author_id=actor.user_id, kind=data["kind"], visibility=visibility.value, data=data,
        created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    view = view_of(row, actor.full_name, carry_pending=doc.replaced_by_id is not None)
    outbox = Outbox()
    outbox.save(view, secret=secret)
    outbox.emit(ctx.emit)
    return _answer(view, existing=False, stale=False)


@command(
    "annotation.create",
    AnnotationCreate,
    roles=PARTICIPANTS,
    summary="Create an annotation on a document page (`page` 0-based; coordinates in points "
    "from the top left of the page as displayed). `data` by `kind`: ink `{strokes: [[[x, y], "
    "...], ...], colour, width, opacity}` (at most 5,000 points), highlight `{rects: [[x0, y0, "
    "x1, y1], ...], text, comment, colour}` (rects from the page's word boxes, `text` the "
    "highlighted words), note `{at: [x, y], text, colour}`, text `{rect, text, font_size, "
    "colour}`. `uid` (default: the client id) is the device's own name for it: creating the "
    "same uid again answers the existing annotation (`existing: true`). Observers may only "
    "create private annotations. Ack: `{annotation, version, existing, stale}`.",
    errors=("visibility_not_allowed", *_GEOMETRY_ERRORS, "annotation_deleted", "uid_in_use",
            "meeting_archived"),
)
def annotation_create(session: Session, ctx: CommandContext, cmd: AnnotationCreate
                      ) -> dict[str, Any]:
    return create(session, ctx, uid=cmd.uid or cmd.client_id, document_id=cmd.document_id,
                  page=cmd.page, visibility=Visibility(cmd.visibility),
                  data=cmd.data.model_dump(mode="json"))


@command(
    "annotation.update",
    AnnotationUpdate,
    roles=PARTICIPANTS,
    summary="Change one's own annotation (by `uid` or `id`): any of `visibility`, `page` and "
    "`data` (same kind; a new place on the current version, which also settles an annotation "
    "kept from a previous version). Last writer wins per field: an update made from an older "
    "`base_version` still applies and answers `stale: true` with the annotation as it now is. "
    "Ack: `{annotation, version, stale}`.",
    errors=("annotation_not_found", "not_author", "annotation_deleted", "unknown_version",
            "empty_update", "kind_mismatch", "visibility_not_allowed", *_GEOMETRY_ERRORS,
            "meeting_archived"),
)
def annotation_update(session: Session, ctx: CommandContext, cmd: AnnotationUpdate
                      ) -> dict[str, Any]:
    lifecycle.check_editable(ctx.meeting.status)
    if cmd.visibility is None and cmd.page is None and cmd.data is None:
        raise InvalidInput(
            "Không có gì để thay đổi (give visibility, page or data).", code="empty_update"
        )
    row = own_annotation(session, ctx, cmd)
    if row.deleted:
        raise _deleted(row)
    if cmd.base_version > row.version:
        raise InvalidInput(
            f"Phiên bản {cmd.base_version} không tồn tại (the annotation is at {row.version}).",
            code="unknown_version",
            details={"version": row.version},
        )
    stale = cmd.base_version < row.version
    before = Visibility(row.visibility)
    after = Visibility(cmd.visibility) if cmd.visibility is not None else before
    _check_visibility(ctx.actor, after)
    changed = after is not before
    if cmd.data is not None or cmd.page is not None:
        data = cmd.data.model_dump(mode="json") if cmd.data is not None else row.data
        if data["kind"] != row.kind:
            raise InvalidInput(
                f"Không đổi được loại ghi chú ({row.kind} → {data['kind']}) (kind mismatch).",
                code="kind_mismatch",
            )
        page = cmd.page if cmd.page is not None else row.page
        _doc, blob, _secret_doc = visible_document(session, ctx.actor, ctx.meeting,
                                                   row.document_id)
        check_geometry(row.kind, data, page, blob)
        if data != row.data or page != row.page or row.orphaned_from_document_id is not None:
            row.data, row.page = data, page
            row.orphaned_from_document_id = None  # placed on the current version again
            changed = True
    if not changed:
        view = view_of(row, ctx.actor.full_name,
                       carry_pending=_pending(session, row.document_id))
        return _answer(view, stale=stale, unchanged=True)
    row.visibility = after.value
    row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    view = view_of(row, ctx.actor.full_name, carry_pending=_pending(session, row.document_id))
    secret = _secret(session, row.document_id)
    outbox = Outbox()
    if rules.narrows(before, after):
        outbox.remove(view, before, "hidden", secret=secret)
    outbox.save(view, secret=secret)
    outbox.emit(ctx.emit)
    return _answer(view, stale=stale)


@command(
    "annotation.delete",
    AnnotationDelete,
    roles=PARTICIPANTS,
    summary="Delete one's own annotation (by `uid` or `id`). Deleting it again answers "
    "`already: true`. Ack: `{deleted, version, already}`.",
    errors=("annotation_not_found", "not_author", "meeting_archived"),
)
def annotation_delete(session: Session, ctx: CommandContext, cmd: AnnotationDelete
                      ) -> dict[str, Any]:
    lifecycle.check_editable(ctx.meeting.status)
    row = own_annotation(session, ctx, cmd)
    if row.deleted:
        return {"deleted": True, "version": row.version, "already": True}
    row.deleted = True
    row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    view = view_of(row, ctx.actor.full_name)
    outbox = Outbox()
    outbox.remove(view, Visibility(row.visibility), "deleted",
                  secret=_secret(session, row.document_id))
    outbox.emit(ctx.emit)
    return {"deleted": True, "version": row.version, "already": False}


def author_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.full_name).where(col(User.id).in_(ids))).all()
    return {uid: name for uid, name in rows if uid is not None}
