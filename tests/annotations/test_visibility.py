"""Who sees which annotation, per role, live and on joining; visibility changes move them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.annotations.helpers import (
    comparable,
    create,
    highlight_of,
    ink,
    joined,
    make_pdf,
    note,
    settles,
    store_document,
    visible,
)
from tests.conftest import LiveServer
from tests.realtime.client import Tablet
from tests.realtime.liveroom import user_ids

pytestmark = pytest.mark.anyio

TEXT = [[(72, 100, "Báo cáo tình hình kinh tế xã hội quý ba"),
         (72, 140, "Tổng thu ngân sách đạt chín mươi phần trăm kế hoạch")],
        [(72, 100, "Phụ lục số liệu chi tiết")]]
PEOPLE = ("chutich", "thuky", "daibieu1", "daibieu2", "quansat")


async def test_each_role_reads_what_it_may_live_and_on_joining(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    pdf = make_pdf(TEXT)
    public = store_document(app, mid, pdf, title="Báo cáo quý ba")
    secret = store_document(app, mid, pdf, title="Nhân sự", confidential=True)
    ids = user_ids(app)
    tablets: dict[str, Tablet] = {}
    parts: dict[str, list[dict[str, Any]]] = {}
    for name in PEOPLE:
        tablets[name], answer = await joined(live_server, name, mid)
        parts[name] = answer["snapshot"]["annotations"]
        assert parts[name] == []
    d1, d2, obs = tablets["daibieu1"], tablets["daibieu2"], tablets["quansat"]

    await create(d1, mid, public, 0, note(300, 300, "Ghi chú riêng"), uid="d1-private")
    await create(d1, mid, public, 0, highlight_of(pdf, 0, "Tổng thu ngân sách"), "shared",
                 uid="d1-shared")
    await create(d1, mid, public, 1, ink((80, 200), (120, 210), (160, 200)), "staff",
                 uid="d1-staff")
    await create(d1, mid, secret, 0, note(100, 400, "Về nhân sự"), "shared", uid="d1-secret")
    await create(d2, mid, public, 0, note(400, 120, "Đồng ý"), "shared", uid="d2-shared")
    await create(obs, mid, public, 0, note(50, 50, "Quan sát"), uid="obs-private")
    refused = await obs.call("annotation.create", {
        "meeting_id": mid, "document_id": public, "page": 0, "visibility": "shared",
        "data": note(60, 60, "chia sẻ")})
    assert refused["error"]["code"] == "visibility_not_allowed"

    d1_id, d2_id, obs_id = ids["daibieu1"], ids["daibieu2"], ids["quansat"]
    expected_keys = {
        "daibieu1": {f"{d1_id}:d1-private", f"{d1_id}:d1-shared", f"{d1_id}:d1-staff",
                     f"{d1_id}:d1-secret", f"{d2_id}:d2-shared"},
        "daibieu2": {f"{d1_id}:d1-shared", f"{d1_id}:d1-secret", f"{d2_id}:d2-shared"},
        "chutich": {f"{d1_id}:d1-shared", f"{d1_id}:d1-staff", f"{d1_id}:d1-secret",
                    f"{d2_id}:d2-shared"},
        "thuky": {f"{d1_id}:d1-shared", f"{d1_id}:d1-staff", f"{d1_id}:d1-secret",
                  f"{d2_id}:d2-shared"},
        "quansat": {f"{d1_id}:d1-shared", f"{d2_id}:d2-shared", f"{obs_id}:obs-private"},
    }
    for name in PEOPLE:
        fresh = await visible(live_server, name, mid)
        assert set(fresh) == expected_keys[name], name
        # What each device received live adds up to what a fresh join answers.
        await settles(tablets[name], parts[name], comparable(fresh))
    # Observers got the shared note on the confidential document as nothing at all.
    for envelope in obs.of_type("annotation.saved") + obs.of_type("annotation.saved.live"):
        assert all(a["document_id"] != secret for a in envelope["payload"]["annotations"])
    assert obs.of_type("annotation.saved") and obs.of_type("annotation.saved.live")
    # Private and staff annotations, and the contents of shared ones, travel outside the log;
    # shared ones are logged as references.
    assert all(e["seq"] is None for e in d1.events
               if e["type"].endswith((".own", ".staff", ".live")))
    assert all(e["seq"] is not None for e in d1.of_type("annotation.saved"))

    # The outsider does not even get into the meeting.
    outsider = await Tablet.open(live_server.url, "nguoingoai")
    answer = await outsider.call("meeting.join", {"meeting_id": mid})
    assert answer["error"]["code"] == "meeting_not_found"
    answer = await outsider.call("annotation.create", {
        "meeting_id": mid, "document_id": public, "page": 0, "data": note(1, 1, "x")})
    assert answer["error"]["code"] == "meeting_not_found"
    await outsider.close()

    # Visibility changes move the annotation live: shared -> staff, staff -> shared,
    # private -> shared -> private.
    moves = [("d1-shared", "staff"), ("d1-staff", "shared"), ("d1-private", "shared"),
             ("d1-private", "private")]
    versions: dict[str, int] = {"d1-shared": 1, "d1-staff": 1, "d1-private": 1}
    for uid, visibility in moves:
        ack = await d1.call("annotation.update", {"meeting_id": mid, "uid": uid,
                                                  "base_version": versions[uid],
                                                  "visibility": visibility})
        assert ack["ok"] and ack["stale"] is False, ack
        versions[uid] = ack["version"]
    after = {name: await visible(live_server, name, mid) for name in PEOPLE}
    assert f"{d1_id}:d1-shared" not in after["daibieu2"]
    assert f"{d1_id}:d1-shared" in after["chutich"] and f"{d1_id}:d1-shared" in after["thuky"]
    assert f"{d1_id}:d1-staff" in after["daibieu2"] and f"{d1_id}:d1-staff" in after["quansat"]
    assert f"{d1_id}:d1-private" not in after["daibieu2"]
    assert after["daibieu1"][f"{d1_id}:d1-private"]["visibility"] == "private"
    for name in PEOPLE:
        await settles(tablets[name], parts[name], comparable(after[name]))
    hidden = [a for e in d2.of_type("annotation.removed") for a in e["payload"]["annotations"]]
    assert {(a["uid"], a["reason"]) for a in hidden} == {("d1-shared", "hidden"),
                                                         ("d1-private", "hidden")}
    for tablet in tablets.values():
        await tablet.close()
