"""Participants with proxies, and agenda editing with consistent numbering (HTTP API)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.prep.helpers import Callers, code, items_of


def people(as_: Callers, m: str) -> dict[str, dict[str, Any]]:
    return {p["username"]: p for p in as_.get("thuky", f"{m}/participants").json()["participants"]}


def test_participants_roles_weights_and_their_rules(
    client: TestClient, room: dict[str, Any]
) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    added = as_.post(
        "thuky",
        f"{m}/participants",
        {"username": "nguoingoai", "role": "delegate", "vote_weight": 3},
    )
    assert added.status_code == 201, added.text
    pid = added.json()["participant_id"]
    assert added.json()["pack_version"] == 1
    row = people(as_, m)["nguoingoai"]
    assert (row["role"], row["can_vote"], row["vote_weight"]) == ("delegate", True, 3)
    assert as_.get("nguoingoai", m).status_code == 200  # now a participant of a published meeting
    assert (
        code(as_.post("thuky", f"{m}/participants", {"username": "nguoingoai", "role": "observer"}))
        == "participant_exists"
    )
    assert (
        code(as_.post("thuky", f"{m}/participants", {"username": "ai-do", "role": "delegate"}))
        == "unknown_user"
    )
    assert (
        code(
            as_.post("thuky", f"{m}/participants", {"username": "nguoingoai", "role": "president"})
        )
        == "invalid_payload"
    )
    assert (
        code(
            as_.post(
                "thuky",
                f"{m}/participants",
                {"username": "nguoingoai", "role": "delegate", "vote_weight": 0},
            )
        )
        == "invalid_payload"
    )
    assert (
        code(as_.patch("thuky", f"{m}/participants/{pid}", {"role": "observer", "can_vote": True}))
        == "observer_cannot_vote"
    )
    became = as_.patch("thuky", f"{m}/participants/{pid}", {"role": "observer"})
    assert became.status_code == 200 and people(as_, m)["nguoingoai"]["can_vote"] is False
    for username in ("chutich", "daibieu1", "quansat"):
        assert (
            as_.post(
                username, f"{m}/participants", {"username": "x1", "role": "delegate"}
            ).status_code
            == 403
        )
    assert as_.delete("nguoingoai", f"{m}/participants/{pid}").status_code == 403
    chair = people(as_, m)["chutich"]["id"]
    assert code(as_.delete("thuky", f"{m}/participants/{chair}")) == "chair_required"
    assert (
        code(as_.patch("thuky", f"{m}/participants/{chair}", {"role": "delegate"}))
        == "chair_required"
    )
    assert as_.delete("thuky", f"{m}/participants/{pid}").status_code == 200
    assert code(as_.delete("thuky", f"{m}/participants/{pid}")) == "participant_not_found"
    assert as_.get("nguoingoai", m).status_code == 404


def test_proxies_are_set_by_the_secretary_without_chains(
    client: TestClient, room: dict[str, Any]
) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    who = {u: p["id"] for u, p in people(as_, m).items()}
    proxy = f"{m}/participants/{who['daibieu2']}/proxy"
    refused = as_.put("daibieu2", proxy, {"holder_id": who["daibieu1"]})
    assert refused.status_code == 403
    for holder, rule in [
        (who["daibieu2"], "no self-proxy"),
        (who["quansat"], "holder must be a voter"),
        (who["thuky"], "holder must be a voter"),
        (99999, "not a participant"),
    ]:
        answer = as_.put("thuky", proxy, {"holder_id": holder})
        assert answer.status_code == 400 and code(answer) == "invalid_proxy"
        assert rule in answer.json()["error"]["message"]
    assert code(as_.put("thuky", proxy, {"holder_id": "một"})) == "invalid_payload"
    ok = as_.put("thuky", proxy, {"holder_id": who["daibieu1"]})
    assert ok.status_code == 200, ok.text
    assert people(as_, m)["daibieu2"]["proxy_holder_id"] == who["daibieu1"]
    chain = as_.put(
        "thuky", f"{m}/participants/{who['daibieu1']}/proxy", {"holder_id": who["chutich"]}
    )
    assert code(chain) == "invalid_proxy" and "chains" in chain.json()["error"]["message"]
    chain2 = as_.put(
        "thuky", f"{m}/participants/{who['chutich']}/proxy", {"holder_id": who["daibieu2"]}
    )
    assert code(chain2) == "invalid_proxy"
    # A holder cannot lose the vote or leave while carrying a proxy.
    assert (
        code(as_.patch("thuky", f"{m}/participants/{who['daibieu1']}", {"can_vote": False}))
        == "proxy_in_use"
    )
    assert code(as_.delete("thuky", f"{m}/participants/{who['daibieu1']}")) == "proxy_in_use"
    assert as_.delete("thuky", proxy).status_code == 200
    assert code(as_.delete("thuky", proxy)) == "no_proxy"
    assert people(as_, m)["daibieu2"]["proxy_holder_id"] is None


def test_agenda_insert_move_remove_keep_numbering(client: TestClient, room: dict[str, Any]) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    a = f"{m}/agenda"
    start = as_.get("thuky", a).json()
    assert items_of(start) == [
        ("1", "Khai mạc"),
        ("2", "Báo cáo tài chính"),
        ("2.1", "Thu ngân sách"),
        ("2.2", "Chi ngân sách"),
        ("3", "Nhân sự lãnh đạo"),
        ("4", "Bế mạc"),
    ]
    ids = {i["title"]: i["id"] for i in start["items"]}
    first = as_.post(
        "thuky",
        a,
        {"title": "Điểm danh", "position": 0, "planned_minutes": 5, "presenter": "Thư ký"},
    )
    assert first.status_code == 201, first.text
    assert items_of(first.json())[:2] == [("1", "Điểm danh"), ("2", "Khai mạc")]
    sub = as_.post(
        "thuky",
        a,
        {
            "title": "Nợ công",
            "parent_id": ids["Báo cáo tài chính"],
            "position": 1,
            "vote_planned": True,
        },
    )
    assert ("3.2", "Nợ công") in items_of(sub.json())
    deep = as_.post("thuky", a, {"title": "Quá sâu", "parent_id": ids["Thu ngân sách"]})
    assert deep.status_code == 400 and code(deep) == "invalid_agenda_position"
    assert "at most 2 levels" in deep.json()["error"]["message"]
    for bad in (
        {"title": ""},
        {"title": "X", "planned_minutes": -1},
        {"title": "X", "position": -1},
        {"title": "X", "colour": "đỏ"},
        {"presenter": "X"},
    ):
        assert code(as_.post("thuky", a, bad)) == "invalid_payload", bad
    assert as_.post("daibieu1", a, {"title": "Của đại biểu"}).status_code == 403
    assert as_.post("chutich", a, {"title": "Của chủ tọa"}).status_code == 403

    # Move a top-level item under another, then a sub-item to the top.
    moved = as_.post(
        "thuky", f"{a}/{ids['Bế mạc']}/move", {"parent_id": ids["Báo cáo tài chính"], "position": 0}
    )
    assert ("3.1", "Bế mạc") in items_of(moved.json())
    back = as_.post("thuky", f"{a}/{ids['Bế mạc']}/move", {"parent_id": None})
    assert items_of(back.json())[-1] == ("5", "Bế mạc")
    assert (
        code(
            as_.post(
                "thuky", f"{a}/{ids['Báo cáo tài chính']}/move", {"parent_id": ids["Khai mạc"]}
            )
        )
        == "invalid_agenda_position"
    )
    assert (
        code(as_.post("thuky", f"{a}/{ids['Khai mạc']}/move", {"parent_id": ids["Khai mạc"]}))
        == "invalid_agenda_position"
    )
    same = as_.post("thuky", f"{a}/{ids['Khai mạc']}/move", {"parent_id": None, "position": 1})
    assert same.json().get("unchanged") is True
    reorder = as_.post("thuky", f"{a}/{ids['Khai mạc']}/move", {"position": 0})
    assert items_of(reorder.json())[:2] == [("1", "Khai mạc"), ("2", "Điểm danh")]

    changed = as_.patch(
        "thuky",
        f"{a}/{ids['Khai mạc']}",
        {"title": "Khai mạc phiên họp", "planned_minutes": None, "confidential": True},
    )
    item = next(i for i in changed.json()["items"] if i["id"] == ids["Khai mạc"])
    assert (item["title"], item["planned_minutes"], item["confidential"]) == (
        "Khai mạc phiên họp",
        None,
        True,
    )
    assert code(as_.patch("thuky", f"{a}/{ids['Khai mạc']}", {"title": None})) == "invalid_payload"
    assert code(as_.patch("thuky", f"{a}/424242", {"title": "X"})) == "agenda_item_not_found"

    removed = as_.delete("thuky", f"{a}/{ids['Báo cáo tài chính']}")
    assert removed.status_code == 200
    assert items_of(removed.json()) == [
        ("1", "Khai mạc phiên họp"),
        ("2", "Điểm danh"),
        ("3", "Nhân sự lãnh đạo"),
        ("4", "Bế mạc"),
    ]
    assert code(as_.delete("thuky", f"{a}/{ids['Thu ngân sách']}")) == "agenda_item_not_found"
    # Positions are contiguous again under every parent.
    detail = as_.get("thuky", a).json()["items"]
    assert [i["number"] for i in detail] == ["1", "2", "3", "4"]
    # The observer sees the confidential items in place, without their titles.
    hidden = [i["title"] for i in as_.get("quansat", a).json()["items"]]
    assert hidden[0] == hidden[2] == "Nội dung mật (confidential)"


def test_changes_since_a_version_list_each_edit(client: TestClient, room: dict[str, Any]) -> None:
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    as_.post("thuky", f"{m}/agenda", {"title": "Tờ trình bổ sung"})
    as_.patch("thuky", m, {"place": "Hội trường B"})
    as_.post("thuky", f"{m}/participants", {"username": "nguoingoai", "role": "observer"})
    log = as_.get("thuky", f"{m}/changes?since=0").json()
    assert log["pack_version"] == 3
    assert [v["pack_version"] for v in log["versions"]] == [1, 2, 3]
    actions = [[c["action"] for c in v["changes"]] for v in log["versions"]]
    assert actions == [["item.added"], ["meeting.updated"], ["participant.added"]]
    assert log["versions"][0]["changes"][0]["title"] == "Tờ trình bổ sung"
    assert log["versions"][0]["by"]["full_name"] == "Trần Thị Bích Ngọc"
    later = as_.get("chutich", f"{m}/changes?since=2").json()
    assert [v["pack_version"] for v in later["versions"]] == [3]
    default = as_.get("thuky", f"{m}/changes").json()
    assert [v["pack_version"] for v in default["versions"]] == [2, 3]
