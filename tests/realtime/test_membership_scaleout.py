"""Live membership follows the database across two server processes (Redis, PostgreSQL).

The change is made through process A; the tablets it concerns are connected to B (and one to A).
The next event is sent at once through A, without waiting for anything: B must have moved its
sockets before it delivers that event, because the Redis channel delivers in order and B moves
them right after delivering ``membership.changed``.
"""

from __future__ import annotations

import pytest

from tests.realtime.client import Tablet
from tests.realtime.conftest import Cluster
from tests.realtime.office import (
    CHANGED,
    REDACTED,
    SECRET_TITLE,
    Office,
    after_change,
    secret_item,
    settled,
)

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]


async def joined(url: str, username: str, mid: int) -> Tablet:
    tablet = await Tablet.open(url, username)
    answer = await tablet.call("meeting.join", {"meeting_id": mid})
    assert answer["ok"], answer
    return tablet


async def test_a_removal_and_a_demotion_on_one_process_move_the_sockets_on_the_other(
    cluster: Cluster,
) -> None:
    mid = cluster.meeting_id
    chair = await joined(cluster.a.url, "chutich", mid)
    removed_b = await joined(cluster.b.url, "daibieu2", mid)
    removed_a = await joined(cluster.a.url, "daibieu2", mid)  # the same user's other device
    demoted = await joined(cluster.b.url, "daibieu1", mid)
    witness = await joined(cluster.b.url, "thuky", mid)
    await cluster.wait_subscribed()
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    secret = await secret_item(chair, mid)
    office = await Office.open(cluster.a.url, mid)

    await office.remove("daibieu2")
    await office.set_role("daibieu1", "observer")
    # At once, through A: B has the change before this event, in the channel's order.
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": secret}))["ok"]
    real = await witness.wait_for(lambda ev: ev["payload"].get("title") == SECRET_TITLE)
    seen = await demoted.wait_for(lambda ev: ev["seq"] == real["seq"])
    assert seen["payload"]["title"] == REDACTED
    assert SECRET_TITLE not in str(after_change(demoted))
    # And through B.
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    await witness.wait_for(lambda ev: ev["seq"] == real["seq"] + 1)
    await demoted.wait_for(lambda ev: ev["seq"] == real["seq"] + 1)
    await settled()
    for tablet in (removed_a, removed_b):
        told = await tablet.wait_for(lambda ev: ev["type"] == CHANGED)
        assert told["payload"] == {"reason": "participants"}
        assert after_change(tablet) == []
    refused = await removed_b.call("meeting.join", {"meeting_id": mid})
    assert refused["error"]["code"] == "meeting_not_found"
    await office.close()
    for tablet in (chair, removed_a, removed_b, demoted, witness):
        await tablet.close()


async def test_a_demoted_chair_on_the_other_process_leaves_the_staff_room(
    cluster: Cluster,
) -> None:
    mid = cluster.meeting_id
    new_chair = await joined(cluster.a.url, "daibieu2", mid)
    old_chair = await joined(cluster.b.url, "chutich", mid)
    secretary = await joined(cluster.b.url, "thuky", mid)
    voter = await joined(cluster.a.url, "daibieu1", mid)
    await cluster.wait_subscribed()
    assert (await old_chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    for tablet in (new_chair, old_chair, voter):
        assert (await tablet.call("attendance.check_in", {"meeting_id": mid}))["ok"]
    office = await Office.open(cluster.a.url, mid)
    await office.set_role("daibieu2", "chair")
    await office.set_role("chutich", "delegate")
    created = await new_chair.call("poll.create", {"meeting_id": mid, "question": "Thông qua?",
                                                   "kind": "yes_no_abstain"})
    assert created["ok"], created
    poll = {"meeting_id": mid, "poll_id": created["poll_id"]}
    assert (await new_chair.call("poll.open", poll))["ok"]
    pending = await secretary.wait_for(lambda ev: ev["type"] == "poll.pending")
    assert "Nguyễn Văn An" in {p["full_name"] for p in pending["payload"]["not_voted"]}
    assert (await voter.call("poll.cast", {**poll, "choice": ["yes"]}))["ok"]
    await secretary.wait_for(lambda ev: ev["type"] == "poll.pending" and ev is not pending)
    await old_chair.wait_for(lambda ev: ev["type"] == "poll.opened")
    await settled()
    staff_only = {"poll.draft", "poll.pending", "poll.result", "presence.changed"}
    assert [ev["type"] for ev in after_change(old_chair) if ev["type"] in staff_only] == []
    await office.close()
    for tablet in (new_chair, old_chair, secretary, voter):
        await tablet.close()


async def test_unpublishing_on_one_process_takes_delegates_out_on_the_other(
    cluster: Cluster,
) -> None:
    mid = cluster.meeting_id
    secretary = await joined(cluster.a.url, "thuky", mid)
    delegate = await joined(cluster.b.url, "daibieu1", mid)
    observer = await joined(cluster.b.url, "quansat", mid)
    await cluster.wait_subscribed()
    office = await Office.open(cluster.a.url, mid)
    await office.set_status("draft")
    await office.retitle("Phiên họp thử nghiệm (bản nháp mới)")
    await secretary.wait_for(lambda ev: ev["type"] == "meeting.updated")
    await settled()
    for tablet in (delegate, observer):
        told = await tablet.wait_for(lambda ev: ev["type"] == CHANGED)
        assert told["payload"] == {"reason": "status"}
        assert after_change(tablet) == []
    await office.close()
    for tablet in (secretary, delegate, observer):
        await tablet.close()
