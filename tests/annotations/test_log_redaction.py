"""Issue #14, finding 7: an annotation that was shared and then made private or deleted is never
served again, with its text, to someone who resyncs: the event log carries references only."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from ecabinet.storage.models import Event
from tests.annotations.helpers import (
    REFERENCE_KEYS,
    create,
    device,
    ink,
    joined,
    make_pdf,
    note,
    store_document,
    visible,
)
from tests.conftest import LiveServer
from tests.realtime.client import Tablet, sign_in

pytestmark = pytest.mark.anyio

SECRET = unicodedata.normalize("NFC", "Bí mật XYZ")
TEXT = [[(72, 100, "Báo cáo nhân sự quý bốn"), (72, 140, "Đề xuất bổ nhiệm cán bộ")]]


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _log(app: Any, mid: int) -> list[Event]:
    def read(session: Session) -> list[Event]:
        return list(session.exec(select(Event).where(Event.meeting_id == mid)).all())

    rows: list[Event] = app.runtime.db.run_sync(read)
    return rows


async def _fetch(live_server: LiveServer, username: str, document_id: int,
                 ids: list[int]) -> httpx.Response:
    token = await sign_in(live_server.url, username)
    async with httpx.AsyncClient(base_url=live_server.url,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        query = ",".join(str(i) for i in ids)
        return await http.get(f"/api/documents/{document_id}/annotations?ids={query}")


async def test_a_shared_annotation_made_private_or_deleted_is_not_replayed(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    doc = store_document(app, mid, make_pdf(TEXT), title="Nhân sự")
    author, _ = await joined(live_server, "daibieu1", mid)
    reader, _ = await joined(live_server, "daibieu2", mid)
    observer, _ = await joined(live_server, "quansat", mid)

    hidden = await create(author, mid, doc, 0, note(300, 300, f"{SECRET} - riêng sau"), "shared",
                          uid="to-hide")
    gone = await create(author, mid, doc, 0, note(300, 400, f"{SECRET} - sẽ xóa"), "shared",
                        uid="to-delete")
    staff = await create(author, mid, doc, 0, note(300, 500, f"{SECRET} - cho thư ký"), "shared",
                         uid="to-staff")
    drawn = await create(author, mid, doc, 0, ink((80, 200), (120, 210)), "shared", uid="to-ink")
    kept = await create(author, mid, doc, 0, note(100, 600, "Công khai"), "shared", uid="kept")
    ids = [a["annotation"]["id"] for a in (hidden, gone, staff, drawn, kept)]

    # Connected, the other delegate (and the observer) read them at once.
    for tablet in (reader, observer):
        await tablet.wait_for(lambda e: any(
            a["uid"] == "kept" and "data" in a for a in e["payload"].get("annotations", ())))
        got = _contents(tablet)
        assert SECRET in got["to-hide"]["data"]["text"]
        assert got["to-ink"]["data"]["strokes"] == [[[80.0, 200.0], [120.0, 210.0]]]
    live_before = list(reader.events)

    for uid, change in (("to-hide", {"visibility": "private"}),
                        ("to-staff", {"visibility": "staff"}),
                        ("to-ink", {"data": ink((90, 200), (130, 215))})):
        ack = await author.call("annotation.update", {"meeting_id": mid, "uid": uid,
                                                      "base_version": 1, **change})
        assert ack["ok"], ack
    ack = await author.call("annotation.update", {"meeting_id": mid, "uid": "to-ink",
                                                  "base_version": 2, "visibility": "private"})
    assert ack["ok"], ack
    assert (await author.call("annotation.delete", {"meeting_id": mid, "uid": "to-delete"}))["ok"]
    await reader.wait_for(lambda e: e["type"] == "annotation.removed" and any(
        a["uid"] == "to-delete" for a in e["payload"]["annotations"]))

    for username in ("daibieu2", "quansat"):
        # Resync from the start of the log, and a fresh join: only references to what is gone.
        tablet = await device(live_server, username)
        replay = await tablet.call("meeting.join", {"meeting_id": mid, "since": 0})
        assert replay["ok"] and replay["mode"] == "events", replay
        fresh = await tablet.call("meeting.join", {"meeting_id": mid})
        await tablet.close()
        for answer in (replay, fresh):
            assert SECRET not in _dump(answer)
            assert "[90.0, 200.0]" not in _dump(answer) and "[80.0, 200.0]" not in _dump(answer)
        assert [a["uid"] for a in replay["private"]["annotations"]] == ["kept"]
        saved = [a for e in replay["events"] if e["type"] == "annotation.saved"
                 for a in e["payload"]["annotations"]]
        assert {a["uid"] for a in saved} == {"to-hide", "to-delete", "to-staff", "to-ink", "kept"}
        # Fetching what the references name serves only what may still be read.
        answer = await _fetch(live_server, username, doc, ids)
        assert answer.status_code == 200, answer.text
        assert [a["uid"] for a in answer.json()["annotations"]] == ["kept"]
        assert SECRET not in answer.text

    # The staff still read the one addressed to them, over the same read; the author all hers.
    answer = await _fetch(live_server, "thuky", doc, ids)
    assert {a["uid"] for a in answer.json()["annotations"]} == {"to-staff", "kept"}
    mine = await visible(live_server, "daibieu1", mid)
    assert {key.split(":", 1)[1] for key in mine} == {"to-hide", "to-staff", "to-ink", "kept"}
    # And nothing of any annotation's contents is in the stored log itself.
    rows = _log(app, mid)
    assert any(row.type == "annotation.saved" for row in rows)
    for row in rows:
        stored = _dump([row.payload, row.observer_payload])
        assert SECRET not in stored and "Công khai" not in stored, row.type
        assert "strokes" not in stored, row.type

    # The contents went live, outside the log; the logged twins carry references only.
    await reader.wait_for(lambda e: e["type"] == "annotation.saved" and any(
        a["uid"] == "kept" for a in e["payload"]["annotations"]))
    carried = {e["type"] for e in live_before if any(
        "data" in a for a in e["payload"].get("annotations", ()))}
    assert carried == {"annotation.saved.live"}
    assert all(e["seq"] is None for e in reader.of_type("annotation.saved.live"))
    refs = [a for e in reader.of_type("annotation.saved") for a in e["payload"]["annotations"]]
    assert {a["uid"] for a in refs} == {"to-hide", "to-delete", "to-staff", "to-ink", "kept"}
    assert all(set(a) == REFERENCE_KEYS for a in refs)
    for tablet in (author, reader, observer):
        await tablet.close()


def _contents(tablet: Tablet) -> dict[str, dict[str, Any]]:
    """The annotations' contents a device received, by uid (the latest version)."""
    found: dict[str, dict[str, Any]] = {}
    for envelope in tablet.events:
        for item in envelope["payload"].get("annotations", ()):
            if "data" in item and item["version"] >= found.get(item["uid"], {"version": 0})[
                    "version"]:
                found[item["uid"]] = item
    return found


async def test_fetching_by_ids_refuses_bad_ids_and_outsiders(
    live_server: LiveServer, room: dict[str, Any], app: Any
) -> None:
    mid = room["meeting_id"]
    pdf = make_pdf(TEXT)
    doc = store_document(app, mid, pdf, title="Nhân sự")
    secret = store_document(app, mid, pdf, title="Mật", confidential=True)
    author: Tablet = (await joined(live_server, "daibieu1", mid))[0]
    public = await create(author, mid, doc, 0, note(300, 300, "Chia sẻ"), "shared", uid="p")
    hush = await create(author, mid, secret, 0, note(300, 300, SECRET), "shared", uid="s")
    await author.close()
    public_id, secret_id = public["annotation"]["id"], hush["annotation"]["id"]

    for bad in ("abc", "1,,2", "-3", ",".join(["1"] * 201)):
        token = await sign_in(live_server.url, "daibieu2")
        async with httpx.AsyncClient(base_url=live_server.url,
                                     headers={"Authorization": f"Bearer {token}"}) as http:
            answer = await http.get(f"/api/documents/{doc}/annotations", params={"ids": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "invalid_payload"
        assert answer.json()["error"]["message"]
    # Ids of another document's annotations give nothing from this one.
    answer = await _fetch(live_server, "daibieu2", doc, [secret_id, public_id])
    assert [a["uid"] for a in answer.json()["annotations"]] == ["p"]
    # Observers do not learn that the confidential document exists; outsiders, the meeting.
    answer = await _fetch(live_server, "quansat", secret, [secret_id])
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "document_not_found"
    answer = await _fetch(live_server, "nguoingoai", doc, [public_id])
    assert answer.status_code == 404
    answer = await _fetch(live_server, "daibieu2", secret, [secret_id])
    assert [a["uid"] for a in answer.json()["annotations"]] == ["s"]
