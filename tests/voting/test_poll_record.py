"""A counted result stays in the meeting's record (issue #14, finding 8).

The attack: the chair watches who has voted, closes a secret poll right after the one member it
wants to spy on, reads the totals, cancels the poll and opens it again. A closed secret poll can
therefore be neither cancelled nor reopened; a closed named poll may still be cancelled, but its
result goes into the log with the cancellation.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from ecabinet.storage.models import Poll, SecretBallot
from tests.voting.conftest import Room
from tests.voting.test_poll_refusals import refused

pytestmark = pytest.mark.anyio
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def stored_poll(app: Any, poll_id: int) -> tuple[str, Any]:
    def read(session: Any) -> tuple[str, Any]:
        poll = session.get(Poll, poll_id)
        return poll.status, poll.result

    found: tuple[str, Any] = app.runtime.db.run_sync(read)
    return found


async def logged_polls(room: Room, username: str) -> list[tuple[str, dict[str, Any]]]:
    """The poll events of the meeting's log, as a tablet replaying it from the start gets them."""
    replay = await room[username].call("meeting.join", {"meeting_id": room.mid, "since": 0})
    assert replay["ok"], replay
    return [(e["type"], e["payload"]) for e in replay["events"] if e["type"].startswith("poll.")]


async def test_a_closed_secret_poll_cannot_be_cancelled_or_reopened(
    app: Any, session_room: Room
) -> None:
    r = session_room
    poll_id = await r.open(question="Bầu Trưởng ban kiểm soát (bỏ phiếu kín)", kind="single",
                           secret=True, options=["Ứng viên A", "Ứng viên B"])
    # The chair sees who has not voted yet; the member spied on votes first.
    assert (await r.cast("daibieu2", poll_id, ["2"]))["ok"]
    await r["chutich"].wait_for(
        lambda e: e["type"] == "poll.pending" and e["payload"]["poll_id"] == poll_id
        and r.pids["daibieu2"] not in {v["participant_id"] for v in e["payload"]["not_voted"]})
    closed = await r.chair("poll.close", poll_id)
    assert closed["ok"] and closed["result"]["ballots"] == 1
    stored = stored_poll(app, poll_id)
    assert stored == ("closed", closed["result"])

    # Neither cancelled nor reopened: a clear refusal, nothing changes, no event.
    for name in ("poll.cancel", "poll.open"):
        await refused(app, r, "chutich", name, {"poll_id": poll_id}, "secret_poll_closed")
        assert stored_poll(app, poll_id) == stored
    answer = await r.chair("poll.cancel", poll_id)
    assert "không thể hủy hay mở lại" in answer["error"]["message"]
    assert not any(e["type"] == "poll.cancelled" for t in r.tablets.values() for e in t.events)

    # The close is in the log for everyone (with its count), and publishing is the way on.
    logged = await logged_polls(r, "daibieu3")
    assert [t for t, _ in logged] == ["poll.opened", "poll.closed"]
    assert logged[1][1]["progress"]["voted"] == 1
    assert (await r.chair("poll.publish", poll_id))["ok"]
    logged = await logged_polls(r, "daibieu3")
    assert logged[-1][0] == "poll.published"
    assert logged[-1][1]["result"] == closed["result"]
    await refused(app, r, "chutich", "poll.cancel", {"poll_id": poll_id}, "invalid_poll_status")


@SQLITE_ONLY
async def test_a_named_poll_cancelled_after_its_close_keeps_its_result_in_the_record(
    app: Any, session_room: Room
) -> None:
    r = session_room
    agenda = (await r["chutich"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    item = next(i["id"] for i in agenda["agenda"]["items"] if i["confidential"])
    poll_id = await r.open(question="Kỷ luật ông Lê Văn K?", kind="single",
                           options=["Khiển trách", "Cảnh cáo"], agenda_item_id=item)
    assert (await r.cast("daibieu2", poll_id, ["1"]))["ok"]
    assert (await r.cast("daibieu3", poll_id, ["2"]))["ok"]
    closed = await r.chair("poll.close", poll_id)
    assert closed["ok"]
    cancelled = await r.chair("poll.cancel", poll_id)
    assert cancelled["ok"] and cancelled["status"] == "cancelled"
    assert stored_poll(app, poll_id) == ("cancelled", closed["result"])  # not erased

    # Everyone gets the result with the cancellation; observers without the confidential parts.
    member = await r["daibieu1"].wait_for(lambda e: e["type"] == "poll.cancelled")
    assert member["seq"] is not None
    assert member["payload"]["previous_status"] == "closed"
    assert member["payload"]["result"] == closed["result"]
    observer = await r["quansat"].wait_for(lambda e: e["type"] == "poll.cancelled")
    assert observer["payload"]["result"]["votes"] is None
    assert "Khiển trách" not in str(observer["payload"])
    logged = await logged_polls(r, "daibieu3")
    assert [t for t, _ in logged] == ["poll.opened", "poll.closed", "poll.cancelled"]
    assert logged[-1][1]["result"] == closed["result"]

    # A snapshot and the export show it too.
    snap = (await r["daibieu1"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    assert snap["polls"][0]["result"] == closed["result"]
    tablet = r["daibieu1"]
    async with httpx.AsyncClient(base_url=tablet.base_url) as http:
        doc = await http.get(f"/api/meetings/{r.mid}/polls/{poll_id}/result.json",
                             headers={"Authorization": f"Bearer {tablet.token}"})
    assert doc.status_code == 200, doc.text
    assert doc.json()["result"] == closed["result"]

    # A poll cancelled before any count has no result to record.
    draft = await r.create(question="Hoãn nội dung", kind="yes_no_abstain")
    assert (await r.chair("poll.cancel", draft))["ok"]
    nothing = await r["daibieu1"].wait_for(
        lambda e: e["type"] == "poll.cancelled" and e["payload"]["poll_id"] == draft)
    assert nothing["payload"]["result"] is None


async def test_an_open_secret_poll_cancelled_has_its_ballots_rekeyed(
    app: Any, session_room: Room
) -> None:
    r = session_room
    poll_id = await r.open(question="Bầu thư ký (kín)", kind="yes_no_abstain", secret=True)
    for user, choice in (("daibieu1", "yes"), ("daibieu2", "no"), ("daibieu3", "yes")):
        assert (await r.cast(user, poll_id, [choice]))["ok"]

    def rows(session: Any) -> list[SecretBallot]:
        return list(session.exec(select(SecretBallot).where(SecretBallot.poll_id == poll_id)))

    before = app.runtime.db.run_sync(rows)
    assert (await r.chair("poll.cancel", poll_id))["ok"]
    after = app.runtime.db.run_sync(rows)
    # Kept (they count for nothing), but no longer in the order they were written.
    assert sorted((b.weight, b.choice) for b in after) == sorted(
        (b.weight, b.choice) for b in before)
    assert {b.key for b in before}.isdisjoint({b.key for b in after})
