"""Live membership follows the database, on one server process (two: test_membership_scaleout).

An open socket is moved to the rooms its user now belongs to, or out of the meeting, as soon as
a change of participants, roles or the meeting's status is published, and before any event
published after it: a removed participant, a delegate made observer, a demoted chair, and the
delegates of a meeting taken back to draft, each while their tablet stays connected.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from ecabinet.services import accounts
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.joining import JoinMeeting, join_actor, join_answer
from ecabinet.storage.models import Participant
from tests.conftest import LiveServer
from tests.realtime.client import Tablet
from tests.realtime.liveroom import close, join, started
from tests.realtime.office import (
    CHANGED,
    REDACTED,
    SECRET_TITLE,
    Office,
    after_change,
    goto_secret,
    settled,
)

pytestmark = pytest.mark.anyio


async def test_a_removed_participant_gets_nothing_more_of_the_meeting(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    chair, mid = await started(live_server, room)
    leaving, _ = await join(live_server, "daibieu2", mid)
    witness, _ = await join(live_server, "daibieu1", mid)
    office = await Office.open(live_server.url, mid)
    await office.remove("daibieu2")

    told = await leaving.wait_for(lambda ev: ev["type"] == CHANGED)
    assert told["seq"] is None and told["payload"] == {"reason": "participants"}
    # Not even the news of the removal itself: it was published after the move.
    changed = await witness.wait_for(lambda ev: ev["type"] == "participants.changed")
    assert changed["payload"]["changes"][0]["action"] == "participant.removed"
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    await goto_secret(chair, mid)
    await witness.wait_for(lambda ev: ev["payload"].get("title") == SECRET_TITLE)
    await settled()
    assert after_change(leaving) == []
    # The connection stays (the user may be in other meetings); the meeting refuses it.
    again = await leaving.call("meeting.join", {"meeting_id": mid})
    assert again["error"]["code"] == "meeting_not_found"
    await office.close()
    await close(chair, leaving, witness)


async def test_a_delegate_made_observer_gets_the_observers_payloads_from_then_on(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    chair, mid = await started(live_server, room)
    demoted, _ = await join(live_server, "daibieu1", mid)
    witness, _ = await join(live_server, "daibieu2", mid)
    office = await Office.open(live_server.url, mid)
    await office.set_role("daibieu1", "observer")

    await demoted.wait_for(lambda ev: ev["type"] == CHANGED)
    await goto_secret(chair, mid)
    real = await witness.wait_for(lambda ev: ev["payload"].get("title") == SECRET_TITLE)
    seen = await demoted.wait_for(lambda ev: ev["seq"] == real["seq"])
    assert seen["type"] == "agenda.current" and seen["payload"]["title"] == REDACTED
    assert SECRET_TITLE not in str(after_change(demoted))
    # Joining again (as the event asks) answers the meeting as an observer sees it.
    snapshot = (await demoted.call("meeting.join", {"meeting_id": mid}))["snapshot"]
    assert snapshot["meeting"]["you"]["role"] == "observer"
    assert SECRET_TITLE not in str(snapshot)
    await office.close()
    await close(chair, demoted, witness)


async def test_a_chair_made_delegate_leaves_the_staff_room(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    old_chair, mid = await started(live_server, room)
    secretary, _ = await join(live_server, "thuky", mid)
    new_chair, _ = await join(live_server, "daibieu2", mid)
    voter, _ = await join(live_server, "daibieu1", mid)
    for tablet in (old_chair, new_chair, voter):
        assert (await tablet.call("attendance.check_in", {"meeting_id": mid}))["ok"]
    office = await Office.open(live_server.url, mid)
    await office.set_role("daibieu2", "chair")
    await office.set_role("chutich", "delegate")
    await old_chair.wait_for(lambda ev: ev["type"] == CHANGED)
    await new_chair.wait_for(lambda ev: ev["type"] == CHANGED)

    created = await new_chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?",
                                                   "kind": "yes_no_abstain"})
    assert created["ok"], created
    poll = {"meeting_id": mid, "poll_id": created["poll_id"]}
    assert (await new_chair.call("poll.open", poll))["ok"]
    pending = await secretary.wait_for(lambda ev: ev["type"] == "poll.pending")
    assert {p["full_name"] for p in pending["payload"]["not_voted"]} >= {"Nguyễn Văn An"}
    await new_chair.wait_for(lambda ev: ev["type"] == "poll.pending")  # the new chair's now
    cast = await voter.call("poll.cast", {**poll, "choice": ["yes"]})
    assert cast["ok"], cast
    await secretary.wait_for(lambda ev: ev["type"] == "poll.pending"
                             and ev is not pending)  # the coalesced refresh after the cast
    await old_chair.wait_for(lambda ev: ev["type"] == "poll.opened")
    await settled()
    staff_only = {"poll.draft", "poll.pending", "poll.result", "presence.changed"}
    assert [ev["type"] for ev in after_change(old_chair) if ev["type"] in staff_only] == []
    await office.close()
    await close(old_chair, secretary, new_chair, voter)


async def test_unpublishing_takes_delegates_and_observers_out_of_the_meeting(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    mid = room["meeting_id"]
    secretary, _ = await join(live_server, "thuky", mid)
    delegate, _ = await join(live_server, "daibieu1", mid)
    observer, _ = await join(live_server, "quansat", mid)
    office = await Office.open(live_server.url, mid)
    await office.set_status("draft")

    for tablet in (delegate, observer):
        told = await tablet.wait_for(lambda ev: ev["type"] == CHANGED)
        assert told["payload"] == {"reason": "status"}
    await secretary.wait_for(lambda ev: ev["type"] == "meeting.status")
    await office.retitle("Phiên họp thử nghiệm (bản nháp mới)")
    await secretary.wait_for(lambda ev: ev["type"] == "meeting.updated")
    await settled()
    for tablet in (delegate, observer):
        assert after_change(tablet) == []
        again = await tablet.call("meeting.join", {"meeting_id": mid})
        assert again["error"]["code"] == "meeting_not_found"
    # The staff were told nothing of the kind: their place did not change.
    assert CHANGED not in [ev["type"] for ev in secretary.events]
    await office.close()
    await close(secretary, delegate, observer)


async def test_a_change_reaches_every_device_of_the_user_and_only_this_meeting(
    live_server: LiveServer, room: dict[str, Any]
) -> None:
    chair, mid = await started(live_server, room)
    phone, _ = await join(live_server, "daibieu1", mid)
    tablet, _ = await join(live_server, "daibieu1", mid)
    idle = await Tablet.open(live_server.url, "daibieu1")  # connected, not in the meeting
    office = await Office.open(live_server.url, mid)
    await office.remove("daibieu1")
    for device in (phone, tablet):
        await device.wait_for(lambda ev: ev["type"] == CHANGED)
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    moved = await chair.wait_for(lambda ev: ev["type"] == "agenda.current" and ev["seq"] > 2)
    assert moved["payload"]["number"] == "2"
    await settled()
    assert after_change(phone) == [] and after_change(tablet) == [] and idle.events == []
    me = await idle.call("whoami")
    assert me["ok"]
    await office.close()
    await close(chair, phone, tablet, idle)


def test_a_join_answer_is_built_only_for_the_place_the_rooms_were_chosen_for(
    app: Any, room: dict[str, Any]
) -> None:
    """A change landing between choosing a join's rooms and building its answer: no answer
    (the adapter leaves those rooms and joins again), rather than a delegate's snapshot for
    someone who is an observer by then."""
    db, mid = app.runtime.db, room["meeting_id"]
    account = db.run_sync(accounts.get_user, "daibieu1")
    user = SessionInfo(account.id, account.username, account.full_name, False, "vi", 0)
    cmd = JoinMeeting(meeting_id=mid)
    actor = db.run_sync(join_actor, user, cmd)
    assert actor.role == "delegate"
    assert db.run_sync(join_answer, user, actor, cmd)["mode"] == "snapshot"

    def demote(session: Session) -> None:
        row = session.exec(select(Participant).where(Participant.meeting_id == mid,
                                                     Participant.user_id == account.id)).one()
        row.role = "observer"
        session.add(row)

    db.run_sync(demote)
    assert db.run_sync(join_answer, user, actor, cmd) is None
    now = db.run_sync(join_actor, user, cmd)
    answer = db.run_sync(join_answer, user, now, cmd)
    assert answer["snapshot"]["meeting"]["you"]["role"] == "observer"
    assert SECRET_TITLE not in str(answer)
