"""The presenter's live ink and pointer: declarations, who may draw, and keeping a stroke.

While the presenter draws on the page shown to the room, the strokes reach the following tablets
as a stream (``ink.draw`` → ``ink.stroke``), and the pointer likewise (``ink.point`` →
``ink.pointer``). Nothing of it is stored: the events are outside the log and a tablet that joins
later sees only what is drawn from then on. ``ink.keep`` turns a finished stroke into a shared ink
annotation, which is stored and sent like any other (``annotation.saved.live``, and the
reference ``annotation.saved`` in the log).

The stream is served by ``ecabinet.realtime.ink`` outside the generic dispatcher: no database
transaction per batch of points. Who may draw (the chair, or the participant the chair handed
presenting to: the rule of ``present.page``) and what page is shown are read from the database
when a meeting's first batch arrives and then kept in memory, refreshed when this process
publishes ``present.changed`` and at the latest every ``STAGE_TTL`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import Field
from sqlmodel import Session, select

from ecabinet.core.errors import Conflict, Forbidden, InvalidInput
from ecabinet.domain import annotations as rules
from ecabinet.domain.annotations import Visibility
from ecabinet.domain.roles import MeetingRole, MeetingStatus
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import MEMBERS
from ecabinet.services.annotations import Colour, Point, Uid, create
from ecabinet.services.kernel.context import CommandContext
from ecabinet.services.room import presenting
from ecabinet.storage.models import Blob, Document, Meeting, Participant

MAX_BATCH_POINTS: Final = 512  # points in one ink.draw message
STAGE_TTL: Final = 2.0  # seconds a cached "who may draw on what" is trusted
DRAW_ROLES: Final = MEMBERS
# At most 60 characters, so that "ink-" + the stroke id makes a valid annotation uid.
StrokeId = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.:-]+$")]


class InkDraw(Schema):
    """One batch of a live stroke (not a stored command: no client id, not idempotent)."""

    meeting_id: int = Field(ge=1)
    stroke: StrokeId  # the sender's id for the stroke
    n: int = Field(ge=0, le=1_000_000)  # the batch's number in the stroke, from 0
    document_id: int = Field(ge=1)
    page: int = Field(ge=0, le=100_000)
    points: list[Point] = Field(max_length=MAX_BATCH_POINTS)  # the points since the last batch
    colour: Colour = "#E53935"
    width: float = Field(default=3.0, ge=0.25, le=48)
    done: bool = False  # the pen was lifted: the stroke is complete


class InkPoint(Schema):
    meeting_id: int = Field(ge=1)
    document_id: int = Field(ge=1)
    page: int = Field(ge=0, le=100_000)
    at: Point | None  # null hides the pointer


class InkClear(Schema):
    meeting_id: int = Field(ge=1)
    strokes: list[StrokeId] | None = Field(default=None, max_length=1000)  # null: every stroke


class InkKeep(Command):
    stroke: StrokeId
    uid: Uid | None = None  # the annotation's uid (default: "ink-" + stroke)
    # The stroke itself, for one this server process no longer holds (after a restart).
    document_id: int | None = Field(default=None, ge=1)
    page: int | None = Field(default=None, ge=0, le=100_000)
    points: list[Point] | None = None
    colour: Colour | None = None
    width: float | None = Field(default=None, ge=0.25, le=48)


class InkStroke(Schema):
    stroke: str
    n: int
    document_id: int
    page: int
    points: list[list[float]]
    colour: str
    width: float
    done: bool
    by: int  # the presenter's user id


class InkPointer(Schema):
    document_id: int
    page: int
    at: list[float] | None
    by: int


class InkCleared(Schema):
    strokes: list[str] | None  # null: every live stroke
    by: int


class InkKept(Schema):
    stroke: str
    annotation_id: int


_STREAM = "Not logged, not stored; observers do not get it for confidential documents."
event("ink.stroke", InkStroke, audience="meeting", logged=False, sent_by="ink.draw",
      summary="A batch of the presenter's live stroke on the presented page: append `points` "
      "to stroke `stroke` (batches numbered `n` from 0; `done` when the pen is lifted). "
      + _STREAM)
event("ink.pointer", InkPointer, audience="meeting", logged=False, sent_by="ink.point",
      summary="Where the presenter points on the presented page (`at` null: hide it). "
      + _STREAM)
event("ink.cleared", InkCleared, audience="meeting", logged=False, sent_by="ink.clear",
      summary="The presenter wiped live strokes (`strokes` null: all of them). " + _STREAM)
event("ink.kept", InkKept, audience="meeting", logged=False, sent_by="ink.keep",
      summary="A live stroke was kept as the shared ink annotation `annotation_id` (its "
      "`annotation.saved.live` comes first): replace the live stroke with the annotation.")

_NOT_PRESENTER = (
    "Chỉ người đang trình bày mới vẽ được lên trang trình chiếu (only the presenter may draw)."
)
_DRAW_ERRORS = ("not_presenter", "not_presenting", "not_presented_page", "off_page",
                "too_many_points", "rate_limited")


@command("ink.draw", InkDraw, roles=DRAW_ROLES, custom=True,
         summary="Stream a batch of a live stroke to the room (the presenter only: the chair, "
         "or the participant given presenting), on the page being presented; up to 512 points "
         "a batch and 5,000 a stroke. Send it without an ack for speed, or with one to learn of "
         "refusals (`{ok}`). Up to 90 messages a second per connection. Nothing is stored.",
         errors=_DRAW_ERRORS)
def _draw_doc(*_args: Any) -> None:
    """Served by ``ecabinet.realtime.ink``."""


@command("ink.point", InkPoint, roles=DRAW_ROLES, custom=True,
         summary="Move (or hide, `at` null) the presenter's pointer on the presented page. "
         "Same rules as `ink.draw`.",
         errors=_DRAW_ERRORS)
def _point_doc(*_args: Any) -> None:
    """Served by ``ecabinet.realtime.ink``."""


@command("ink.clear", InkClear, roles=DRAW_ROLES, custom=True,
         summary="Wipe the presenter's live strokes on the tablets (`strokes` null: all).",
         errors=("not_presenter", "not_presenting", "rate_limited"))
def _clear_doc(*_args: Any) -> None:
    """Served by ``ecabinet.realtime.ink``."""


@dataclass(frozen=True)
class Stage:
    """What the ink stream needs to know about a meeting, cached between batches."""

    meeting_id: int
    in_session: bool
    chair_users: frozenset[int]  # the chair may always draw
    holder: int | None  # the participant given presenting (user id), while handed over
    document_id: int | None
    page: int | None
    page_size: tuple[float, float] | None
    confidential: bool
    read_at: float = 0.0

    def may_draw(self, user_id: int) -> bool:
        return user_id in self.chair_users or user_id == self.holder


def read_stage(session: Session, meeting_id: int, now: float) -> Stage | None:
    """The meeting's presenting state as the ink stream uses it (``None``: no such meeting)."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    full, _hidden = presenting.view(session, meeting)
    chairs = session.exec(
        select(Participant.user_id).where(
            Participant.meeting_id == meeting_id, Participant.role == MeetingRole.CHAIR.value
        )
    ).all()
    holder = full.presenter.user_id if full.presenter is not None and full.handed_over else None
    size = None
    if full.document_id is not None and full.page is not None:
        doc = session.get(Document, full.document_id)
        blob = session.get(Blob, doc.blob_sha256) if doc is not None else None
        size = rules.page_size(blob.page_sizes if blob else None, full.page)
    return Stage(
        meeting_id=meeting_id,
        in_session=meeting.status == MeetingStatus.IN_SESSION.value,
        chair_users=frozenset(chairs),
        holder=holder,
        document_id=full.document_id,
        page=full.page,
        page_size=size,
        confidential=full.confidential,
        read_at=now,
    )


def refuse_stage(stage: Stage | None, user_id: int, document_id: int | None,
                 page: int | None) -> Forbidden | Conflict | None:
    """Why ``user_id`` may not draw on (document, page) now; ``None`` when they may."""
    if stage is None or not stage.may_draw(user_id):
        return Forbidden(_NOT_PRESENTER, code="not_presenter")
    if not stage.in_session or stage.document_id is None:
        return Conflict("Không có trang nào đang trình chiếu (nothing is presented).",
                        code="not_presenting")
    if document_id is not None and (document_id, page) != (stage.document_id, stage.page):
        return Conflict(
            "Chỉ vẽ được trên trang đang trình chiếu (draw on the presented page).",
            code="not_presented_page",
            details={"document_id": stage.document_id, "page": stage.page},
        )
    return None


# --- keeping a stroke --------------------------------------------------------------------------


class KeepStroke(Command):
    """``ink.keep`` as the dispatcher runs it, once the stroke's points are known."""

    stroke: StrokeId
    uid: Uid
    document_id: int = Field(ge=1)
    page: int = Field(ge=0)
    points: list[Point] = Field(min_length=1)
    colour: Colour
    width: float = Field(ge=0.25, le=48)


@command("ink.keep", InkKeep, roles=DRAW_ROLES, custom=True,
         summary="Keep a finished live stroke (`stroke`, as drawn with `ink.draw`) as a shared "
         "ink annotation on the page it was drawn on; the presenter only. The server holds the "
         "presenter's recent strokes; for one it no longer holds (a restart) send "
         "`document_id`, `page` and `points` too. Idempotent by client id and by `uid` "
         "(default `ink-<stroke>`). Ack: `{annotation, version, existing}`.",
         errors=("not_presenter", "stroke_not_found", "document_not_found", "page_out_of_range",
                 "off_page", "too_many_points", "meeting_archived"))
def _keep_doc(*_args: Any) -> None:
    """Served by ``ecabinet.realtime.ink`` through the dispatcher (``keep_stroke``)."""


def keep_stroke(session: Session, ctx: CommandContext, cmd: KeepStroke) -> dict[str, Any]:
    """The transaction of ``ink.keep``: the presenter's stroke becomes a shared annotation."""
    assert ctx.meeting.id is not None
    stage = read_stage(session, ctx.meeting.id, 0.0)
    if stage is None or not stage.may_draw(ctx.actor.user_id):
        raise Forbidden(_NOT_PRESENTER, code="not_presenter")
    data = {"kind": "ink", "strokes": [cmd.points], "colour": cmd.colour, "width": cmd.width,
            "opacity": 1.0}
    answer = create(session, ctx, uid=cmd.uid, document_id=cmd.document_id, page=cmd.page,
                    visibility=Visibility.SHARED, data=data)
    ctx.emit("ink.kept", InkKept(stroke=cmd.stroke, annotation_id=answer["annotation"]["id"]))
    return answer


def stroke_not_found(stroke: str) -> InvalidInput:
    return InvalidInput(
        f"Không còn nét vẽ '{stroke}' trên máy chủ; hãy gửi kèm các điểm (send its points).",
        code="stroke_not_found",
    )
