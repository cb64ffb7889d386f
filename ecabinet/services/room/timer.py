"""The current agenda item's timer, driven by the chair.

The state lives in ``Meeting.live_state["timer"]`` as planned seconds, seconds used before the
last start and the start instant; clients compute the remaining time themselves from the
server's clock (the snapshot part ``timer`` carries ``server_time`` to correct their offset, and
is re-sent on every resync for that reason). A stored timer applies to its own item only: after
``agenda.current`` moves to another item, that item's timer is idle at 0 with its planned time
until ``timer.start``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator
from sqlmodel import Session

from ecabinet.core.errors import Conflict
from ecabinet.domain import lifecycle
from ecabinet.domain.timer import ItemTimer
from ecabinet.protocol import Command, Schema, command, event
from ecabinet.protocol.roles import CHAIR
from ecabinet.services import room
from ecabinet.services.kernel.context import Actor, CommandContext
from ecabinet.services.kernel.snapshot import snapshot_part
from ecabinet.services.room.helpers import set_live
from ecabinet.storage.models import AgendaItem, Meeting, utcnow

KEY = "timer"


class TimerState(Schema):
    item_id: int | None
    planned_seconds: int | None  # null: no planned time, the timer counts up
    elapsed_seconds: float  # used before `started_at` (all of it while paused)
    started_at: str | None  # ISO instant, set while running
    running: bool


class TimerChanged(TimerState):
    action: Literal["start", "pause", "extend", "reset"]


event(
    "timer.changed",
    TimerChanged,
    audience="meeting",
    sent_by="timer.start, timer.pause, timer.extend, timer.reset",
    summary="The current item's timer changed. Remaining seconds = `planned_seconds` - "
    "(`elapsed_seconds` + (server now - `started_at`) while running); correct the local clock "
    "with `server_time` of the snapshot part `timer` (`{server_time, timer}`, also in every "
    "resync answer's `private`). A timer for another item than the current one no longer "
    "applies: after `agenda.current` the new item's timer is idle with its planned minutes.",
)


def planned_of(session: Session, item_id: int | None) -> int | None:
    item = session.get(AgendaItem, item_id) if item_id is not None else None
    if item is None or item.planned_minutes is None:
        return None
    return item.planned_minutes * 60


def effective(session: Session, meeting: Meeting) -> ItemTimer:
    """The stored timer when it is the current item's, else that item's idle timer."""
    stored = (meeting.live_state or {}).get(KEY)
    if stored and stored.get("item_id") == meeting.current_item_id:
        return ItemTimer.from_json(stored)
    return ItemTimer(meeting.current_item_id, planned_of(session, meeting.current_item_id))


def state_of(timer: ItemTimer) -> TimerState:
    return TimerState(
        item_id=timer.item_id,
        planned_seconds=timer.planned_seconds,
        elapsed_seconds=timer.elapsed_seconds,
        started_at=timer.started_at.isoformat() if timer.started_at else None,
        running=timer.running,
    )


@snapshot_part("timer", private=True)  # re-sent on resync: it carries the server's clock
def timer_part(session: Session, actor: Actor, meeting: Meeting) -> dict[str, Any]:
    return {
        "server_time": utcnow().isoformat(),
        "timer": state_of(effective(session, meeting)).model_dump(mode="json"),
    }


class TimerCommand(Command):
    pass


class TimerExtend(Command):
    seconds: int = Field(ge=-3600, le=3600, description="Seconds to add (negative: take away).")

    @field_validator("seconds")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("seconds must not be 0")
        return value


class TimerReset(Command):
    planned_seconds: int | None = Field(
        default=None, ge=0, le=24 * 3600, description="New planned time; default: the item's."
    )


def _change(ctx: CommandContext, action: str, timer: ItemTimer) -> dict[str, Any]:
    set_live(ctx.meeting, KEY, timer.to_json())
    ctx.session.add(ctx.meeting)
    state = state_of(timer)
    ctx.emit("timer.changed", TimerChanged(**state.model_dump(), action=action))
    return {"timer": state.model_dump(mode="json"), "server_time": utcnow().isoformat()}


def _current(session: Session, ctx: CommandContext) -> ItemTimer:
    lifecycle.check_in_session(ctx.meeting.status)
    if ctx.meeting.current_item_id is None:
        raise Conflict(
            "Chưa có mục nào của chương trình đang được thảo luận (no current agenda item).",
            code="no_current_item",
        )
    return effective(session, ctx.meeting)


TIMER_ERRORS = ("no_current_item", "meeting_not_in_session")


@command(
    "timer.start",
    TimerCommand,
    roles=CHAIR,
    summary="Start (or resume) the current item's timer. Ack: `{timer, server_time}`.",
    errors=("timer_running", *TIMER_ERRORS),
)
def timer_start(session: Session, ctx: CommandContext, cmd: TimerCommand) -> dict[str, Any]:
    timer = _current(session, ctx)
    if timer.running:
        raise Conflict("Đồng hồ đang chạy (the timer is already running).", code="timer_running")
    return _change(ctx, "start", timer.start(utcnow()))


@command(
    "timer.pause",
    TimerCommand,
    roles=CHAIR,
    summary="Pause the current item's timer, keeping the time used. Ack: `{timer, server_time}`.",
    errors=("timer_not_running", *TIMER_ERRORS),
)
def timer_pause(session: Session, ctx: CommandContext, cmd: TimerCommand) -> dict[str, Any]:
    timer = _current(session, ctx)
    if not timer.running:
        raise Conflict("Đồng hồ không chạy (the timer is not running).", code="timer_not_running")
    return _change(ctx, "pause", timer.pause(utcnow()))


@command(
    "timer.extend",
    TimerExtend,
    roles=CHAIR,
    summary="Add `seconds` (negative: take away) to the current item's planned time; without a "
    "planned time, allow `seconds` more from now. Ack: `{timer, server_time}`.",
    errors=TIMER_ERRORS,
)
def timer_extend(session: Session, ctx: CommandContext, cmd: TimerExtend) -> dict[str, Any]:
    timer = _current(session, ctx)
    return _change(ctx, "extend", timer.extend(cmd.seconds, utcnow()))


@command(
    "timer.reset",
    TimerReset,
    roles=CHAIR,
    summary="Stop the current item's timer and set the time used to 0, with the item's planned "
    "minutes or `planned_seconds`. Ack: `{timer, server_time}`.",
    errors=TIMER_ERRORS,
)
def timer_reset(session: Session, ctx: CommandContext, cmd: TimerReset) -> dict[str, Any]:
    timer = _current(session, ctx)
    planned = cmd.planned_seconds
    if planned is None:
        planned = planned_of(session, ctx.meeting.current_item_id)
    return _change(ctx, "reset", timer.reset(planned))


@room.on_item_change
def _pause_on_move(ctx: CommandContext, previous: int | None) -> None:
    """Leaving an item stops its clock, so coming back to it resumes from the time used."""
    stored = (ctx.meeting.live_state or {}).get(KEY)
    if stored and stored.get("item_id") == previous and stored.get("started_at"):
        set_live(ctx.meeting, KEY, ItemTimer.from_json(stored).pause(utcnow()).to_json())
        ctx.session.add(ctx.meeting)


@room.on_session_end
def _pause_on_close(ctx: CommandContext) -> None:
    _pause_on_move(ctx, ctx.meeting.current_item_id)
