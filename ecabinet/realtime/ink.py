"""The presenter's live ink and pointer over Socket.IO, outside the generic dispatcher.

A batch of points (``ink.draw``) is checked and fanned out without touching the database: the
sender comes from the socket's session, who may draw on which page from a per-meeting ``Stage``
cached in memory (``ecabinet.services.annotations.live_ink``), and the envelope goes straight to the
meeting's room, skipping the sender. The cost over a bare python-socketio broadcast is one
pydantic validation and a dictionary lookup per batch.

The cache is dropped when this process publishes ``present.changed`` or ``meeting.status``, and
trusted for at most ``STAGE_TTL`` seconds otherwise; a refused sender causes a fresh read at most
every ``RECHECK`` seconds, so someone just handed presenting draws at once. With several server
processes (Redis), a process learns of a handover made through another process within those
bounds: the old presenter's ink may still pass on it for up to ``STAGE_TTL`` seconds. That is
the trade-off for keeping the database off the hot path; the stored record (``ink.keep``) checks
the presenter in its transaction.

This process also keeps each presenter's recent strokes (``MAX_STROKES``) so that ``ink.keep``
can name a stroke instead of sending it again; the keep itself runs through the dispatcher
(idempotent, one transaction, logged ``annotation.saved``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ecabinet.core.clock import utcnow
from ecabinet.core.errors import EcabinetError, InvalidInput, RateLimited
from ecabinet.core.validation import validate
from ecabinet.domain import annotations as rules
from ecabinet.protocol import CommandSpec
from ecabinet.realtime.dispatch import Dispatcher, TokenBucket, error_ack, payload_size
from ecabinet.realtime.publisher import EVENT, meeting_room, members_room, publish
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.annotations.carry import AnnotationCarrier
from ecabinet.services.annotations.live_ink import (
    DRAW_ROLES,
    STAGE_TTL,
    InkClear,
    InkDraw,
    InkKeep,
    InkPoint,
    KeepStroke,
    Stage,
    keep_stroke,
    read_stage,
    refuse_stage,
    stroke_not_found,
)
from ecabinet.services.kernel.context import OutEvent

if TYPE_CHECKING:
    from ecabinet.runtime import Runtime

RECHECK: Final = 0.25  # seconds between fresh reads for a sender the cache refuses
STREAM_RATE: Final = 90.0  # ink messages a second per connection (a 60 Hz pen, with slack)
STREAM_BURST: Final = 180.0
MAX_STROKES: Final = 64  # recent strokes kept per presenter for ink.keep
MAX_MESSAGE: Final = 24 * 1024  # bytes: 512 points fit easily
INVALIDATING: Final = ("present.changed", "meeting.status")
KEEP_SPEC: Final = CommandSpec(
    "ink.keep", KeepStroke, DRAW_ROLES, "keep a live stroke", keep_stroke
)


@dataclass
class LiveStroke:
    document_id: int
    page: int
    colour: str
    width: float
    points: list[list[float]] = field(default_factory=list)
    done: bool = False


class InkStream:
    def __init__(self, runtime: Runtime, dispatcher: Dispatcher) -> None:
        self.runtime = runtime
        self.sio = runtime.sio
        self.dispatcher = dispatcher
        self.stages: dict[int, Stage] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.strokes: dict[tuple[int, int], OrderedDict[str, LiveStroke]] = {}
        self._reads: dict[int, asyncio.Task[Stage | None]] = {}
        # Bumped when presenting changes: a read begun before the change is not cached.
        self._generation: dict[int, int] = {}

    def register(self) -> None:
        self.sio.on("ink.draw", self.draw)
        self.sio.on("ink.point", self.point)
        self.sio.on("ink.clear", self.clear)
        self.sio.on("ink.keep", self.keep)

    def notice(self, events: list[OutEvent]) -> None:
        """Committed events on their way out: forget what presenting looked like."""
        for ev in events:
            if ev.type in INVALIDATING:
                self.stages.pop(ev.meeting_id, None)
                self._reads.pop(ev.meeting_id, None)
                self._generation[ev.meeting_id] = self._generation.get(ev.meeting_id, 0) + 1

    def forget(self, sid: str) -> None:
        self.buckets.pop(sid, None)

    # --- the hot path ----------------------------------------------------------------------

    async def _user(self, sid: str) -> SessionInfo:
        user: SessionInfo = (await self.sio.get_session(sid))["user"]
        return user

    def _limit(self, sid: str, data: Any) -> None:
        bucket = self.buckets.get(sid)
        if bucket is None:
            bucket = self.buckets[sid] = TokenBucket(STREAM_RATE, STREAM_BURST, STREAM_BURST)
        wait = bucket.take(time.monotonic())
        if wait:
            raise RateLimited("Gửi nét vẽ quá nhanh (too many ink messages).",
                              retry_after=wait, code="rate_limited")
        if payload_size(data) > MAX_MESSAGE:
            raise InvalidInput(
                f"Gói nét vẽ quá lớn (over {MAX_MESSAGE // 1024} KiB).", code="payload_too_large"
            )

    async def stage(self, meeting_id: int, user_id: int) -> Stage | None:
        now = time.monotonic()
        cached = self.stages.get(meeting_id)
        if cached is not None:
            age = now - cached.read_at
            if age < STAGE_TTL and (cached.may_draw(user_id) or age < RECHECK):
                return cached
        generation = self._generation.get(meeting_id, 0)
        reading = self._reads.get(meeting_id)
        if reading is None:
            reading = asyncio.get_running_loop().create_task(
                self.runtime.db.read(read_stage, meeting_id, now)
            )
            self._reads[meeting_id] = reading

            def done(task: asyncio.Task[Stage | None]) -> None:
                if self._reads.get(meeting_id) is task:
                    del self._reads[meeting_id]

            reading.add_done_callback(done)
        fresh = await asyncio.shield(reading)
        if self._generation.get(meeting_id, 0) == generation:
            if fresh is not None:
                self.stages[meeting_id] = fresh
            else:
                self.stages.pop(meeting_id, None)
        return fresh

    async def _send(self, stage: Stage, type_: str, payload: dict[str, Any], sid: str) -> None:
        envelope = {
            "meeting_id": stage.meeting_id,
            "seq": None,
            "type": type_,
            "payload": payload,
            "at": utcnow().isoformat(),
        }
        # Observers are not shown confidential documents, so not the ink drawn on them either.
        room = members_room(stage.meeting_id) if stage.confidential else meeting_room(
            stage.meeting_id)
        await self.sio.emit(EVENT, envelope, room=room, skip_sid=sid)
        self.runtime.metrics.events_sent.labels(type_).inc()

    @staticmethod
    def _on_page(stage: Stage, page: int, points: list[list[float]]) -> None:
        width, height = stage.page_size or (rules.LARGEST_PAGE, rules.LARGEST_PAGE)
        for x, y in points:
            if not (-rules.EDGE_SLACK <= x <= width + rules.EDGE_SLACK
                    and -rules.EDGE_SLACK <= y <= height + rules.EDGE_SLACK):
                raise InvalidInput(
                    f"Tọa độ ({x:g}, {y:g}) nằm ngoài trang {page + 1} (off the page).",
                    code="off_page",
                    details={"point": [x, y], "page_size": [width, height]},
                )

    def _remember(self, user_id: int, cmd: InkDraw) -> None:
        key = (cmd.meeting_id, user_id)
        strokes = self.strokes.setdefault(key, OrderedDict())
        live = strokes.get(cmd.stroke)
        if live is None or (live.document_id, live.page) != (cmd.document_id, cmd.page):
            live = strokes[cmd.stroke] = LiveStroke(cmd.document_id, cmd.page, cmd.colour,
                                                    cmd.width)
            while len(strokes) > MAX_STROKES:
                strokes.popitem(last=False)
        if len(live.points) + len(cmd.points) > rules.MAX_POINTS:
            raise InvalidInput(
                f"Nét vẽ quá dài: tối đa {rules.MAX_POINTS} điểm (too many points).",
                code="too_many_points",
                details={"max_points": rules.MAX_POINTS},
            )
        live.points.extend(cmd.points)
        live.colour, live.width, live.done = cmd.colour, cmd.width, cmd.done

    async def draw(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            user = await self._user(sid)
            self._limit(sid, data)
            cmd = validate(InkDraw, data)
            stage = await self.stage(cmd.meeting_id, user.user_id)
            refusal = refuse_stage(stage, user.user_id, cmd.document_id, cmd.page)
            if refusal is not None:
                raise refusal
            assert stage is not None
            self._on_page(stage, cmd.page, cmd.points)
            self._remember(user.user_id, cmd)
            payload = {
                "stroke": cmd.stroke, "n": cmd.n, "document_id": cmd.document_id,
                "page": cmd.page, "points": cmd.points, "colour": cmd.colour,
                "width": cmd.width, "done": cmd.done, "by": user.user_id,
            }
            await self._send(stage, "ink.stroke", payload, sid)
        except EcabinetError as exc:
            return error_ack(exc)
        return {"ok": True}

    async def point(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            user = await self._user(sid)
            self._limit(sid, data)
            cmd = validate(InkPoint, data)
            stage = await self.stage(cmd.meeting_id, user.user_id)
            refusal = refuse_stage(stage, user.user_id, cmd.document_id, cmd.page)
            if refusal is not None:
                raise refusal
            assert stage is not None
            if cmd.at is not None:
                self._on_page(stage, cmd.page, [cmd.at])
            payload = {"document_id": cmd.document_id, "page": cmd.page, "at": cmd.at,
                       "by": user.user_id}
            await self._send(stage, "ink.pointer", payload, sid)
        except EcabinetError as exc:
            return error_ack(exc)
        return {"ok": True}

    async def clear(self, sid: str, data: Any = None) -> dict[str, Any]:
        try:
            user = await self._user(sid)
            self._limit(sid, data)
            cmd = validate(InkClear, data)
            stage = await self.stage(cmd.meeting_id, user.user_id)
            refusal = refuse_stage(stage, user.user_id, None, None)
            if refusal is not None:
                raise refusal
            assert stage is not None
            strokes = self.strokes.get((cmd.meeting_id, user.user_id))
            if strokes is not None:
                for stroke in cmd.strokes if cmd.strokes is not None else list(strokes):
                    strokes.pop(stroke, None)
            payload = {"strokes": cmd.strokes, "by": user.user_id}
            await self._send(stage, "ink.cleared", payload, sid)
        except EcabinetError as exc:
            return error_ack(exc)
        return {"ok": True}

    async def keep(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Look the stroke up here, then run the keep as an ordinary command."""
        try:
            user = await self._user(sid)
            cmd = validate(InkKeep, data)
            held = self.strokes.get((cmd.meeting_id, user.user_id))
            live = held.get(cmd.stroke) if held is not None else None
            if live is None and (cmd.points is None or cmd.document_id is None
                                 or cmd.page is None):
                raise stroke_not_found(cmd.stroke)
            body = {
                "meeting_id": cmd.meeting_id,
                "client_id": cmd.client_id,
                "stroke": cmd.stroke,
                "uid": cmd.uid or f"ink-{cmd.stroke}",
                "document_id": cmd.document_id if live is None else live.document_id,
                "page": cmd.page if live is None else live.page,
                "points": cmd.points if cmd.points is not None else live.points if live else [],
                "colour": cmd.colour or (live.colour if live else "#E53935"),
                "width": cmd.width or (live.width if live else 3.0),
            }
        except EcabinetError as exc:
            return error_ack(exc)
        return await self.dispatcher.dispatch(KEEP_SPEC, sid, body)


def register(runtime: Runtime, dispatcher: Dispatcher) -> InkStream:
    """Serve the ink stream and start carrying annotations to replaced documents."""
    stream = InkStream(runtime, dispatcher)
    stream.register()

    async def publish_events(events: list[OutEvent]) -> None:
        await publish(runtime, events)

    carrier = AnnotationCarrier.over(runtime.db, runtime.settings.data_dir, publish_events)
    runtime.listeners.extend([stream.notice, carrier.notice])
    return stream
