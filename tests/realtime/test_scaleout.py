"""Scale-out: two real server processes share rooms through Redis and one PostgreSQL database.

A command handled by one process reaches the tablets connected to the other, and a tablet that
drops off one process and comes back on the other gets exactly the events it missed.
"""

from __future__ import annotations

from typing import Any

import pytest

from ecabinet.realtime.server import build_manager
from tests.realtime.client import Tablet
from tests.realtime.conftest import Cluster

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]


def logged(tablet: Tablet) -> list[dict[str, Any]]:
    """The meeting's sequenced events a tablet received (presence and the like are not)."""
    return [ev for ev in tablet.events if ev["seq"] is not None]


def test_the_channel_setting_reaches_the_redis_manager() -> None:
    manager = build_manager("redis://127.0.0.1:6379/15", "ecabinet-elsewhere")
    assert manager.channel == "ecabinet-elsewhere"


@pytest.mark.slow  # two server processes
async def test_a_command_on_one_process_reaches_tablets_on_the_other(cluster: Cluster) -> None:
    mid = cluster.meeting_id
    chair = await Tablet.open(cluster.a.url, "chutich")
    chair_laptop = await Tablet.open(cluster.b.url, "chutich")
    delegate = await Tablet.open(cluster.b.url, "daibieu1")
    observer = await Tablet.open(cluster.b.url, "quansat")
    await cluster.wait_subscribed()
    for tablet in (chair, chair_laptop, delegate, observer):
        assert (await tablet.call("meeting.join", {"meeting_id": mid}))["ok"]

    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]  # handled by A
    for _ in range(2):
        assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    # The same chair drives from a laptop on B: the tablet on A follows too.
    assert (await chair_laptop.call("agenda.next", {"meeting_id": mid}))["ok"]
    for tablet in (chair, chair_laptop, delegate, observer):
        await tablet.wait_for(lambda ev: ev["seq"] == 4)
        events = logged(tablet)
        assert [ev["seq"] for ev in events] == [1, 2, 3, 4]
        assert [ev["type"] for ev in events] == ["meeting.status"] + ["agenda.current"] * 3
        assert events[-1]["payload"]["title"] == "Thu ngân sách"

    # Confidential titles stay redacted for the observer on the other process too.
    secret = next(
        i["id"]
        for i in (await chair.call("meeting.join", {"meeting_id": mid}))["snapshot"]["agenda"][
            "items"
        ]
        if i["confidential"]
    )
    assert (await chair.call("agenda.goto", {"meeting_id": mid, "item_id": secret}))["ok"]
    seen_by_delegate = await delegate.wait_for(lambda ev: ev["seq"] == 5)
    seen_by_observer = await observer.wait_for(lambda ev: ev["seq"] == 5)
    assert seen_by_delegate["payload"]["title"] == "Nhân sự lãnh đạo"
    assert seen_by_observer["payload"]["title"] == "Nội dung mật (confidential)"
    for tablet in (chair, chair_laptop, delegate, observer):
        await tablet.close()


@pytest.mark.slow  # two server processes
async def test_a_tablet_resyncs_on_the_other_process_with_exactly_the_missed_events(
    cluster: Cluster,
) -> None:
    mid = cluster.meeting_id
    chair = await Tablet.open(cluster.a.url, "chutich")
    witness = await Tablet.open(cluster.a.url, "daibieu2")  # never drops
    roaming = await Tablet.open(cluster.b.url, "daibieu1")
    await cluster.wait_subscribed()
    for tablet in (chair, witness):
        assert (await tablet.call("meeting.join", {"meeting_id": mid}))["ok"]
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    joined = await roaming.call("meeting.join", {"meeting_id": mid})
    assert joined["mode"] == "snapshot" and joined["seq"] == 1
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    await roaming.wait_for(lambda ev: ev["seq"] == 2)  # live, through Redis from A to B
    seen = logged(roaming)[-1]["seq"]
    await roaming.close()  # its access point goes away

    for _ in range(3):
        assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    await witness.wait_for(lambda ev: ev["seq"] == 5)

    back = await Tablet.open(cluster.a.url, "daibieu1")  # comes back through the other process
    answer = await back.call("meeting.join", {"meeting_id": mid, "since": seen})
    assert answer["ok"] and answer["mode"] == "events" and answer["seq"] == 5
    missed = answer["events"]
    assert [ev["seq"] for ev in missed] == [3, 4, 5]
    assert missed == logged(witness)[2:5]  # the very events the others got live, byte for byte
    assert missed[-1]["payload"]["title"] == "Chi ngân sách"

    # And it is live again on its new process: the next move reaches it once.
    assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    live = await back.wait_for(lambda ev: ev["seq"] == 6)
    assert live == await witness.wait_for(lambda ev: ev["seq"] == 6)
    assert [ev["seq"] for ev in logged(back)] == [6]
    # A stale or future sequence number is refused on either process, and changes nothing.
    for url in (cluster.a.url, cluster.b.url):
        probe = await Tablet.open(url, "daibieu2")
        future = await probe.call("meeting.join", {"meeting_id": mid, "since": 60})
        assert future["error"]["code"] == "unknown_seq"
        await probe.close()
    for tablet in (chair, witness, back):
        await tablet.close()
