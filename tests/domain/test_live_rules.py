"""The item timer's arithmetic and the speaker queue's rules (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ecabinet.domain import speakers
from ecabinet.domain.roles import MeetingRole
from ecabinet.domain.timer import ItemTimer

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_timer_counts_only_while_running() -> None:
    t = ItemTimer(7, planned_seconds=600)
    assert not t.running and t.elapsed(at(100)) == 0 and t.remaining(at(100)) == 600
    t = t.start(at(0))
    assert t.running and t.elapsed(at(90)) == 90 and t.remaining(at(90)) == 510
    t = t.pause(at(120))
    assert not t.running and t.elapsed(at(999)) == 120
    t = t.start(at(200))
    assert t.elapsed(at(230)) == 150
    assert t.start(at(300)) is t  # starting a running timer changes nothing
    assert t.pause(at(230)).pause(at(500)).elapsed_seconds == 150


def test_timer_goes_negative_when_over_time() -> None:
    t = ItemTimer(1, planned_seconds=60).start(at(0))
    assert t.remaining(at(90)) == -30


def test_extend_adds_to_the_plan_or_gives_time_from_now() -> None:
    t = ItemTimer(1, planned_seconds=300).start(at(0))
    assert t.extend(120, at(10)).planned_seconds == 420
    assert t.extend(-400, at(10)).planned_seconds == 0
    open_ended = ItemTimer(1).start(at(0))
    assert open_ended.remaining(at(50)) is None
    extended = open_ended.extend(60, at(50))
    assert extended.planned_seconds == 110 and extended.remaining(at(50)) == 60


def test_reset_keeps_the_item_and_forgets_the_time() -> None:
    t = ItemTimer(3, planned_seconds=60).start(at(0)).pause(at(30)).reset(900)
    assert t == ItemTimer(3, planned_seconds=900)


def test_timer_round_trips_through_json() -> None:
    t = ItemTimer(4, planned_seconds=600, elapsed_seconds=12.5).start(at(3))
    assert ItemTimer.from_json(t.to_json()) == t
    assert ItemTimer.from_json({"item_id": None}) == ItemTimer(None)


def test_a_clock_going_back_never_counts_negative_time() -> None:
    assert ItemTimer(1, elapsed_seconds=5, started_at=at(10)).elapsed(at(0)) == 5


class Row:
    def __init__(self, id: int, position: int, status: str = speakers.WAITING) -> None:
        self.id, self.position, self.status = id, position, status


def test_waiting_order_is_by_position_then_arrival() -> None:
    rows = [Row(5, 1), Row(3, 0), Row(4, 1), Row(9, 0, speakers.DONE), Row(2, 2)]
    assert speakers.waiting_order(rows) == [3, 4, 5, 2]


def test_reorder_must_list_exactly_the_waiting_requests() -> None:
    assert speakers.reorder_problem([1, 2, 3], [3, 1, 2]) is None
    assert speakers.reorder_problem([1, 2, 3], [3, 1]) is not None
    assert speakers.reorder_problem([1, 2, 3], [3, 1, 2, 4]) is not None
    assert speakers.reorder_problem([1, 2, 3], [3, 3, 1, 2]) is not None
    assert speakers.reorder_problem([], []) is None


def test_who_may_speak_and_where_new_requests_go() -> None:
    assert speakers.may_speak(MeetingRole.CHAIR) and speakers.may_speak(MeetingRole.DELEGATE)
    assert not speakers.may_speak(MeetingRole.OBSERVER)
    assert not speakers.may_speak(MeetingRole.SECRETARY) and not speakers.may_speak(None)
    assert speakers.next_position([]) == 0 and speakers.next_position([0, 4, 2]) == 5
