"""The presenter's live ink and pointer: a stream to the room, only from the presenter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.annotations.helpers import joined, make_pdf, store_document, visible
from tests.conftest import LiveServer
from tests.realtime.client import Tablet
from tests.realtime.liveroom import participants, user_ids

pytestmark = pytest.mark.anyio

PAGES = [[(72, 100, "Sơ đồ quy hoạch khu công nghiệp")], [(72, 100, "Trang hai")]]


async def stream(tablet: Tablet, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Stream commands carry no client id (they are not stored)."""
    answer: dict[str, Any] = await tablet.sio.call(name, payload, timeout=10)
    return answer


def batch(mid: int, doc: int, stroke: str, n: int, points: list[list[float]], *,
          page: int = 0, done: bool = False) -> dict[str, Any]:
    return {"meeting_id": mid, "stroke": stroke, "n": n, "document_id": doc, "page": page,
            "points": points, "colour": "#1E88E5", "width": 4, "done": done}


async def test_presenter_ink_streams_to_the_room_and_can_be_kept(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    doc = store_document(app, mid, make_pdf(PAGES), title="Quy hoạch")
    secret = store_document(app, mid, make_pdf(PAGES), title="Mật", confidential=True)
    ids, people = user_ids(app), participants(app, mid)
    chair, _ = await joined(live_server, "chutich", mid)
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    d1, _ = await joined(live_server, "daibieu1", mid)
    d2, _ = await joined(live_server, "daibieu2", mid)
    observer, _ = await joined(live_server, "quansat", mid)
    # Nothing is presented yet: nobody may draw.
    refused = await stream(chair, "ink.draw", batch(mid, doc, "s0", 0, [[10, 10]]))
    assert refused["error"]["code"] == "not_presenting"
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                              "page": 0}))["ok"]

    # The chair draws a stroke in three batches; the database is not asked once per batch.
    reads = 0
    real_read = app.runtime.db.read

    async def counting_read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await real_read(fn, *args, **kwargs)

    app.runtime.db.read = counting_read
    try:
        strokes = [[[100, 100], [110, 105]], [[120, 110]], [[130, 120], [140, 130]]]
        for n, points in enumerate(strokes):
            answer = await stream(chair, "ink.draw",
                                  batch(mid, doc, "s1", n, points, done=n == 2))
            assert answer == {"ok": True}
        for n in range(3, 40):
            assert (await stream(chair, "ink.point", {"meeting_id": mid, "document_id": doc,
                                                      "page": 0, "at": [n, n]}))["ok"]
    finally:
        app.runtime.db.read = real_read
    assert reads <= 1
    for tablet in (d1, d2, observer):
        await tablet.wait_for(lambda e: e["type"] == "ink.pointer" and e["payload"]["at"]
                              == [39, 39])
        got = tablet.of_type("ink.stroke")
        assert [e["payload"]["n"] for e in got] == [0, 1, 2]
        assert [e["payload"]["points"] for e in got] == strokes
        assert got[-1]["payload"]["done"] is True and got[0]["payload"]["by"] == ids["chutich"]
        assert all(e["seq"] is None for e in got)
    assert chair.of_type("ink.stroke") == []  # not echoed to the sender

    # Only the presenter draws, on the presented page, on the page itself.
    for name in ("ink.draw", "ink.point"):
        body = (batch(mid, doc, "x", 0, [[5, 5]]) if name == "ink.draw"
                else {"meeting_id": mid, "document_id": doc, "page": 0, "at": [5, 5]})
        assert (await stream(d1, name, body))["error"]["code"] == "not_presenter"
        assert (await stream(observer, name, body))["error"]["code"] == "not_presenter"
    wrong_page = await stream(chair, "ink.draw", batch(mid, doc, "x", 0, [[5, 5]], page=1))
    assert wrong_page["error"]["code"] == "not_presented_page"
    off = await stream(chair, "ink.draw", batch(mid, doc, "x", 0, [[5, 900]]))
    assert off["error"]["code"] == "off_page"
    bad = await stream(chair, "ink.draw", {**batch(mid, doc, "x", 0, [[5, 5]]), "client_id": 1})
    assert bad["error"]["code"] == "invalid_payload"
    long = [[float(i % 500), 200.0] for i in range(500)]
    for n in range(10):
        assert (await stream(chair, "ink.draw", batch(mid, doc, "long", n, long)))["ok"]
    too_long = await stream(chair, "ink.draw", batch(mid, doc, "long", 10, long))
    assert too_long["error"]["code"] == "too_many_points"

    # Keeping the finished stroke makes a shared, logged ink annotation.
    kept = await chair.call("ink.keep", {"meeting_id": mid, "stroke": "s1"})
    assert kept["ok"], kept
    annotation = kept["annotation"]
    assert annotation["visibility"] == "shared" and annotation["kind"] == "ink"
    assert annotation["data"]["strokes"] == [[p for part in strokes for p in part]]
    live = await d2.wait_for(lambda e: e["type"] == "annotation.saved.live")
    assert live["payload"]["annotations"][0]["data"] == annotation["data"]
    saved = await d2.wait_for(lambda e: e["type"] == "annotation.saved")
    assert saved["seq"] is not None and saved["payload"]["annotations"][0]["uid"] == "ink-s1"
    assert "data" not in saved["payload"]["annotations"][0]  # the log keeps references only
    await d2.wait_for(lambda e: e["type"] == "ink.kept" and e["payload"]["stroke"] == "s1")
    assert f"{ids['chutich']}:ink-s1" in await visible(live_server, "quansat", mid)
    unknown = await chair.call("ink.keep", {"meeting_id": mid, "stroke": "never"})
    assert unknown["error"]["code"] == "stroke_not_found"
    not_presenter = await d2.call("ink.keep", {"meeting_id": mid, "stroke": "p", "document_id":
                                               doc, "page": 0, "points": [[1, 1]]})
    assert not_presenter["error"]["code"] == "not_presenter"

    # Handed presenting, a delegate draws at once; taken back, no more.
    assert (await chair.call("present.handover", {"meeting_id": mid,
                                                  "participant_id": people["daibieu1"]}))["ok"]
    assert (await stream(d1, "ink.draw", batch(mid, doc, "d", 0, [[50, 50]])))["ok"]
    assert (await stream(d2, "ink.draw", batch(mid, doc, "d", 0, [[50, 50]])))["error"][
        "code"] == "not_presenter"
    await d2.wait_for(lambda e: e["type"] == "ink.stroke" and e["payload"]["by"] == ids[
        "daibieu1"])
    assert (await chair.call("present.reclaim", {"meeting_id": mid}))["ok"]
    assert (await stream(d1, "ink.draw", batch(mid, doc, "d", 1, [[60, 60]])))["error"][
        "code"] == "not_presenter"
    cleared = await stream(chair, "ink.clear", {"meeting_id": mid, "strokes": None})
    assert cleared["ok"]
    await d2.wait_for(lambda e: e["type"] == "ink.cleared")

    # On a confidential document, observers get no ink.
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": secret,
                                              "page": 0}))["ok"]
    assert (await stream(chair, "ink.draw", batch(mid, secret, "c", 0, [[70, 70]])))["ok"]
    await d1.wait_for(lambda e: e["type"] == "ink.stroke" and e["payload"]["stroke"] == "c")
    assert (await chair.call("present.page", {"meeting_id": mid, "document_id": doc,
                                              "page": 1}))["ok"]
    assert (await stream(chair, "ink.draw", batch(mid, doc, "after", 0, [[80, 80]],
                                                  page=1)))["ok"]
    await observer.wait_for(lambda e: e["type"] == "ink.stroke"
                            and e["payload"]["stroke"] == "after")
    assert all(e["payload"]["document_id"] != secret for e in observer.of_type("ink.stroke"))

    # A flood is cut off by the per-connection budget.
    flood = await asyncio.gather(*(
        stream(chair, "ink.point", {"meeting_id": mid, "document_id": doc, "page": 1,
                                    "at": [1, 1]}) for _ in range(260)))
    assert any(not a["ok"] and a["error"]["code"] == "rate_limited" for a in flood)
    for tablet in (chair, d1, d2, observer):
        await tablet.close()
