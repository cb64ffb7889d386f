"""What moving on and closing the session do to timers, turns, presence periods and screens."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from ecabinet.storage.models import Attendance, SpeakerRequest
from tests.conftest import LiveServer
from tests.realtime.liveroom import add_document, join, started

pytestmark = pytest.mark.anyio


async def test_moving_on_pauses_the_timer_and_ends_the_turn(live_server: LiveServer, app: Any,
                                                            room: dict[str, Any]) -> None:
    chair, mid = await started(live_server, room)
    delegate, _ = await join(live_server, "daibieu1", mid)
    assert (await chair.call("timer.start", {"meeting_id": mid}))["ok"]
    asked = await delegate.call("speaker.request", {"meeting_id": mid})
    assert asked["ok"], asked
    assert (await chair.call("speaker.grant", {"meeting_id": mid}))["ok"]
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    back = await chair.call("agenda.previous", {"meeting_id": mid})
    assert back["ok"]
    timer = (await chair.call("meeting.join", {"meeting_id": mid}))["snapshot"]["timer"]["timer"]
    assert timer["running"] is False and timer["elapsed_seconds"] > 0

    def turns(session: Session) -> list[SpeakerRequest]:
        return list(session.exec(select(SpeakerRequest)).all())

    [turn] = app.runtime.db.run_sync(turns)
    assert turn.status == "done" and turn.ended_at is not None
    await delegate.wait_for(lambda e: e["type"] == "speaker.queue"
                            and e["payload"]["speaking"] is None)
    await chair.close()
    await delegate.close()


async def test_closing_the_session_ends_periods_and_clears_the_screens(
    live_server: LiveServer, app: Any, room: dict[str, Any]
) -> None:
    chair, mid = await started(live_server, room)
    doc = add_document(app, mid)
    delegate, _ = await join(live_server, "daibieu1", mid)
    assert (await delegate.call("attendance.check_in", {"meeting_id": mid}))["ok"]
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                              "page": 1}))["ok"]
    assert (await chair.call("meeting.end", {"meeting_id": mid}))["ok"]
    shown = await delegate.wait_for(lambda e: e["type"] == "present.changed"
                                    and e["payload"]["document_id"] is None)
    status = await delegate.wait_for(lambda e: e["type"] == "meeting.status")
    assert shown["seq"] < status["seq"]

    def periods(session: Session) -> list[Attendance]:
        return list(session.exec(select(Attendance)).all())

    assert [p.checked_out_at is not None for p in app.runtime.db.run_sync(periods)] == [True]
    await chair.close()
    await delegate.close()
