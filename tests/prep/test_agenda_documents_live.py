"""Documents in agenda order, and tablets told about changes after publication (real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from ecabinet.pdf.papers import Paper, write_paper
from tests.conftest import LiveServer
from tests.prep.helpers import Callers, code
from tests.realtime.client import Tablet, sign_in


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("papers")
    out = []
    for index, title in enumerate(("Tờ trình", "Phụ lục", "Báo cáo mật")):
        path = folder / f"{index}.pdf"
        write_paper(Paper(f"{index}.pdf", title, 1 + index, "Mục thử", "Thư ký", False), path)
        out.append(path)
    return out


def upload(as_: Callers, m: str, path: Path, title: str, **fields: str) -> int:
    with path.open("rb") as handle:
        answer = as_.client.post(
            f"{m}/documents",
            headers=as_("thuky"),
            files={"file": (path.name, handle, "application/pdf")},
            data={"title": title, **fields},
        )
    assert answer.status_code == 201, answer.text
    doc_id: int = answer.json()["document"]["id"]
    return doc_id


def docs_of(agenda: dict[str, Any], title: str) -> list[str]:
    item = next(i for i in agenda["items"] if i["title"] == title)
    return [d["title"] for d in item["documents"]]


def test_documents_attach_reorder_detach_in_order(
    client: TestClient, room: dict[str, Any], papers: list[Path]
) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    a = f"{m}/agenda"
    ids = {i["title"]: i["id"] for i in as_.get("thuky", a).json()["items"]}
    first = upload(as_, m, papers[0], "Tờ trình", item_id=str(ids["Khai mạc"]))
    second = upload(as_, m, papers[1], "Phụ lục")
    secret = upload(as_, m, papers[2], "Báo cáo mật", confidential="true")
    docs = f"{a}/{ids['Khai mạc']}/documents"
    at_front = as_.post("thuky", docs, {"document_id": second, "position": 0})
    assert at_front.status_code == 201, at_front.text
    assert docs_of(at_front.json(), "Khai mạc") == ["Phụ lục", "Tờ trình"]
    assert code(as_.post("thuky", docs, {"document_id": second})) == "document_already_attached"
    assert code(as_.post("thuky", docs, {"document_id": 424242})) == "document_not_found"
    assert code(as_.post("thuky", docs, {"document_id": "x"})) == "invalid_payload"
    assert as_.post("daibieu1", docs, {"document_id": secret}).status_code == 403
    as_.post("thuky", docs, {"document_id": secret})
    assert docs_of(as_.get("thuky", a).json(), "Khai mạc") == ["Phụ lục", "Tờ trình", "Báo cáo mật"]
    # Observers do not see the confidential paper at all.
    assert docs_of(as_.get("quansat", a).json(), "Khai mạc") == ["Phụ lục", "Tờ trình"]
    order = as_.put("thuky", docs, {"document_ids": [secret, first, second]})
    assert docs_of(order.json(), "Khai mạc") == ["Báo cáo mật", "Tờ trình", "Phụ lục"]
    assert (
        code(as_.put("thuky", docs, {"document_ids": [first, second]})) == "invalid_document_order"
    )
    assert (
        code(as_.put("thuky", docs, {"document_ids": [first, first, second]}))
        == "invalid_document_order"
    )
    gone = as_.delete("thuky", f"{docs}/{first}")
    assert docs_of(gone.json(), "Khai mạc") == ["Báo cáo mật", "Phụ lục"]
    assert code(as_.delete("thuky", f"{docs}/{first}")) == "document_not_attached"
    # A document attached to a removed item stays in the meeting.
    as_.delete("thuky", f"{a}/{ids['Khai mạc']}")
    listed = as_.get("thuky", m).json()["documents"]
    assert {d["id"] for d in listed} == {first, second, secret}
    assert all(d["item_ids"] == [] for d in listed)


@pytest.mark.anyio
async def test_tablets_are_told_what_changed_after_publication(
    live_server: LiveServer, room: dict[str, Any], papers: list[Path]
) -> None:
    mid = room["meeting_id"]
    delegate = await Tablet.open(live_server.url, "daibieu1")
    observer = await Tablet.open(live_server.url, "quansat")
    for tablet in (delegate, observer):
        assert (await tablet.call("meeting.join", {"meeting_id": mid}))["ok"]
    token = await sign_in(live_server.url, "thuky")
    m = f"/api/meetings/{mid}"
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        agenda = (await http.get(f"{m}/agenda")).json()["items"]
        ids = {i["title"]: i["id"] for i in agenda}
        added = await http.post(f"{m}/agenda", json={"title": "Tờ trình bổ sung", "position": 1})
        assert added.status_code == 201
        with papers[0].open("rb") as handle:
            up = await http.post(
                f"{m}/documents",
                files={"file": ("a.pdf", handle)},
                data={"title": "Danh sách cán bộ", "item_id": str(ids["Nhân sự lãnh đạo"])},
            )
        assert up.status_code == 201, up.text
        moved = await http.post(f"{m}/agenda/{ids['Bế mạc']}/move", json={"position": 0})
        assert moved.status_code == 200
        people = (await http.get(f"{m}/participants")).json()["participants"]
        weight = next(p["id"] for p in people if p["username"] == "daibieu2")
        await http.patch(f"{m}/participants/{weight}", json={"vote_weight": 2})
        log = (await http.get(f"{m}/changes?since=0")).json()

    def last_seq(ev: dict[str, Any]) -> bool:
        return ev["type"] == "participants.changed"

    for tablet in (delegate, observer):
        await tablet.wait_for(last_seq)
        versions = [ev["payload"]["pack_version"] for ev in tablet.of_type("meeting.pack_version")]
        assert versions == [1, 2, 3, 4]
        seqs = [ev["seq"] for ev in tablet.events if ev["seq"] is not None]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    changed = delegate.of_type("agenda.changed")
    assert [ev["payload"]["pack_version"] for ev in changed] == [1, 3]
    numbers = [(i["number"], i["title"]) for i in changed[0]["payload"]["items"]]
    assert numbers[1] == ("2", "Tờ trình bổ sung")
    assert changed[0]["payload"]["changes"][0]["action"] == "item.added"
    assert changed[1]["payload"]["items"][0]["title"] == "Bế mạc"
    secret_item = next(i for i in changed[1]["payload"]["items"] if i["confidential"])
    assert secret_item["title"] == "Nhân sự lãnh đạo"
    assert [d["title"] for d in secret_item["documents"]] == ["Danh sách cán bộ"]
    # The observer's copy hides the confidential item and its paper.
    hidden = next(
        i for i in observer.of_type("agenda.changed")[1]["payload"]["items"] if i["confidential"]
    )
    assert hidden["title"] == "Nội dung mật (confidential)" and hidden["documents"] == []
    # Nor does it hear of the paper at all (issue #14): a placeholder holds its place in the log.
    added = delegate.of_type("document.added")[0]
    assert added["payload"]["document"]["title"] == "Danh sách cán bộ"
    assert observer.of_type("document.added") == []
    withheld = [ev for ev in observer.events if ev["seq"] == added["seq"]]
    assert [(ev["type"], ev["payload"]) for ev in withheld] == [("event.withheld", {})]
    roster = delegate.of_type("participants.changed")[0]["payload"]
    assert roster["pack_version"] == 4
    assert {p["username"]: p["vote_weight"] for p in roster["participants"]}["daibieu2"] == 2
    # The secretary's change log holds the same story.
    actions = [[c["action"] for c in v["changes"]] for v in log["versions"]]
    assert actions == [["item.added"], ["document.added"], ["item.moved"], ["participant.updated"]]
    # A tablet that rejoins from an old sequence number gets exactly the missed events.
    again = await delegate.call("meeting.join", {"meeting_id": mid, "since": 0})
    # Render progress and other unlogged events (seq null) are not replayed, by design.
    # An event committed after the join's read (a page finishing rendering) comes live instead.
    logged = [ev["seq"] for ev in delegate.events if ev["seq"] is not None]
    replayed = [e["seq"] for e in again["events"]]
    assert replayed == list(range(1, len(replayed) + 1))
    assert replayed == [seq for seq in logged if seq <= replayed[-1]]
    for tablet in (delegate, observer):
        await tablet.close()
