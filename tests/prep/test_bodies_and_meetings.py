"""Bodies, meeting creation and editing, the lifecycle, and who reads what (HTTP API)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.prep.helpers import ROOM_USERS, Callers, code


def make_admin(make_user: Any) -> None:
    make_user("quantri", "Quản Trị Viên", is_admin=True)


def test_bodies_are_managed_by_admins_with_their_rules(
    client: TestClient, make_user: Any, room: dict[str, Any]
) -> None:
    make_admin(make_user)
    as_ = Callers(client)
    body = {
        "name": "Ban Kinh tế – Ngân sách",
        "quorum": {"numerator": 2, "denominator": 3, "strict": False},
        "default_majority": "two_thirds_present",
    }
    refused = as_.post("thuky", "/api/bodies", body)
    assert refused.status_code == 403 and code(refused) == "admin_required"
    made = as_.post("quantri", "/api/bodies", body)
    assert made.status_code == 201, made.text
    bid = made.json()["body"]["id"]
    # No members yet: no quorum can be reached, so one more than nobody is needed.
    assert made.json()["body"]["quorum"]["members"] == 0
    assert made.json()["body"]["quorum"]["needed"] == 1
    for bad, field in [
        ({**body, "name": "X", "quorum": {"numerator": 3, "denominator": 2}}, "quorum"),
        (
            {**body, "name": "X", "quorum": {"numerator": 1, "denominator": 1, "strict": True}},
            "quorum",
        ),
        ({**body, "name": "X", "default_majority": "most_shouting"}, "default_majority"),
        ({**body, "name": ""}, "name"),
        ({**body, "name": "X", "colour": "red"}, "colour"),
    ]:
        answer = as_.post("quantri", "/api/bodies", bad)
        assert answer.status_code == 400 and code(answer) == "invalid_payload", bad
        assert any(d["field"].startswith(field) for d in answer.json()["error"]["details"])
    assert code(as_.post("quantri", "/api/bodies", body)) == "body_name_taken"

    for username, role in [
        ("thuky", "secretary"),
        ("daibieu1", "member"),
        ("daibieu2", "member"),
        ("chutich", "member"),
    ]:
        added = as_.post(
            "quantri",
            f"/api/bodies/{bid}/members",
            {"username": username, "role": role, "title": "Ủy viên"},
        )
        assert added.status_code == 200, added.text
    assert code(as_.post("quantri", f"/api/bodies/{bid}/members", {"username": "khong-co"})) == (
        "unknown_user"
    )
    assert (
        as_.post("thuky", f"/api/bodies/{bid}/members", {"username": "quansat"}).status_code == 403
    )
    view = as_.get("daibieu1", f"/api/bodies/{bid}").json()["body"]
    assert view["quorum"] == {
        "numerator": 2,
        "denominator": 3,
        "strict": False,
        "label": "ít nhất 2/3 tổng số thành viên có quyền biểu quyết",
        "members": 3,
        "needed": 2,
    }
    assert {m["username"]: m["role"] for m in view["members"]}["thuky"] == "secretary"
    assert as_.get("nguoingoai", f"/api/bodies/{bid}").status_code == 404
    assert [b["id"] for b in as_.get("nguoingoai", "/api/bodies").json()["bodies"]] == []
    assert bid in [b["id"] for b in as_.get("daibieu1", "/api/bodies").json()["bodies"]]

    changed = as_.patch(
        "quantri", f"/api/bodies/{bid}", {"quorum": {"numerator": 1, "denominator": 2}}
    )
    assert changed.json()["body"]["quorum"]["needed"] == 2
    assert as_.patch("thuky", f"/api/bodies/{bid}", {"name": "Khác"}).status_code == 403
    gone = as_.delete("quantri", f"/api/bodies/{bid}/members/chutich")
    assert gone.json()["body"]["member_count"] == 3
    assert code(as_.delete("quantri", f"/api/bodies/{bid}/members/chutich")) == "member_not_found"


def test_who_creates_meetings_and_what_they_become(
    client: TestClient, make_user: Any, room: dict[str, Any]
) -> None:
    make_admin(make_user)
    as_ = Callers(client)
    bid = as_.post("quantri", "/api/bodies", {"name": "Hội đồng thử"}).json()["body"]["id"]
    for username, role in [("thuky", "secretary"), ("daibieu1", "member"), ("chutich", "member")]:
        as_.post("quantri", f"/api/bodies/{bid}/members", {"username": username, "role": role})
    meeting = {
        "title": "Họp thử",
        "body_id": bid,
        "starts_at": "2026-12-03T08:00:00+07:00",
        "ends_at": "2026-12-03T11:00:00+07:00",
    }
    # A plain member, an outsider and a secretary of no body cannot create.
    assert code(as_.post("daibieu1", "/api/meetings", meeting)) == "not_body_secretary"
    assert code(as_.post("nguoingoai", "/api/meetings", meeting)) == "not_body_secretary"
    assert (
        code(as_.post("thuky", "/api/meetings", {**meeting, "body_id": None}))
        == "not_body_secretary"
    )
    bad_times = as_.post(
        "thuky", "/api/meetings", {**meeting, "ends_at": "2026-12-03T07:00:00+07:00"}
    )
    assert code(bad_times) == "invalid_times"
    naive = as_.post("thuky", "/api/meetings", {**meeting, "starts_at": "2026-12-03T08:00:00"})
    assert code(naive) == "invalid_payload"
    made = as_.post("thuky", "/api/meetings", {**meeting, "invite_members": True})
    assert made.status_code == 201, made.text
    mid = made.json()["meeting"]["id"]
    detail = as_.get("thuky", f"/api/meetings/{mid}").json()
    assert detail["meeting"]["status"] == "draft" and detail["you"]["can_edit"]
    roles = {p["username"]: (p["role"], p["can_vote"]) for p in detail["participants"]}
    assert roles == {
        "thuky": ("secretary", False),
        "daibieu1": ("delegate", True),
        "chutich": ("delegate", True),
    }
    # Admins create for any body or none and do not become participants.
    free = as_.post("quantri", "/api/meetings", {"title": "Họp không cơ quan"})
    assert free.status_code == 201
    assert (
        as_.get("quantri", f"/api/meetings/{free.json()['meeting']['id']}").json()["participants"]
        == []
    )
    assert (
        code(as_.post("quantri", "/api/meetings", {"title": "X", "body_id": 999}))
        == "body_not_found"
    )


def test_updates_and_the_lifecycle_with_its_rules(
    client: TestClient, make_user: Any, room: dict[str, Any]
) -> None:
    make_admin(make_user)
    as_ = Callers(client)
    mid = as_.post("quantri", "/api/meetings", {"title": "Họp lập kế hoạch"}).json()["meeting"][
        "id"
    ]
    m = f"/api/meetings/{mid}"
    as_.post("quantri", f"{m}/participants", {"username": "thuky", "role": "secretary"})
    status = f"{m}/status"
    no_chair = as_.post("thuky", status, {"status": "published"})
    assert no_chair.status_code == 409 and code(no_chair) == "invalid_transition"
    assert "needs a chair" in no_chair.json()["error"]["message"]
    skip = as_.post("thuky", status, {"status": "closed"})
    assert (
        code(skip) == "invalid_transition" and "draft → closed" in skip.json()["error"]["message"]
    )
    assert code(as_.post("thuky", status, {"status": "cancelled"})) == "invalid_payload"
    as_.post("thuky", f"{m}/participants", {"username": "chutich", "role": "chair"})
    as_.post("thuky", f"{m}/participants", {"username": "daibieu1", "role": "delegate"})
    # The delegate cannot see the draft at all.
    assert as_.get("daibieu1", m).status_code == 404
    patched = as_.patch("thuky", m, {"place": "Phòng họp số 2", "title": "Ho\u0323p lập kế hoạch"})
    assert patched.json()["meeting"]["place"] == "Phòng họp số 2"
    assert patched.json()["meeting"]["title"] == "Họp lập kế hoạch"  # NFC
    assert code(as_.patch("thuky", m, {"title": None})) == "invalid_payload"
    assert (
        code(
            as_.patch(
                "thuky",
                m,
                {"starts_at": "2026-12-03T10:00:00+07:00", "ends_at": "2026-12-03T09:00:00+07:00"},
            )
        )
        == "invalid_times"
    )
    assert code(as_.patch("chutich", m, {"place": "X"})) == "forbidden_role"
    published = as_.post("thuky", status, {"status": "published"})
    assert published.json() == {"status": "published", "pack_version": 1}
    assert as_.get("daibieu1", m).status_code == 200
    assert code(as_.post("daibieu1", status, {"status": "in_session"})) == "forbidden_role"
    chair_publish = as_.post("chutich", status, {"status": "draft"})
    assert code(chair_publish) == "forbidden_transition"
    assert as_.post("chutich", status, {"status": "in_session"}).json()["status"] == "in_session"
    assert as_.post("chutich", status, {"status": "closed"}).json()["status"] == "closed"
    assert as_.post("thuky", status, {"status": "archived"}).json()["status"] == "archived"
    frozen = as_.patch("thuky", m, {"place": "Nơi khác"})
    assert frozen.status_code == 409 and code(frozen) == "meeting_archived"
    assert "read-only" in frozen.json()["error"]["message"]
    assert code(as_.post("thuky", f"{m}/agenda", {"title": "Mục muộn"})) == "meeting_archived"
    assert (
        code(as_.post("thuky", f"{m}/participants", {"username": "daibieu2", "role": "delegate"}))
        == "meeting_archived"
    )
    assert code(as_.post("quantri", status, {"status": "closed"})) == "invalid_transition"
    assert as_.get("daibieu1", m).json()["meeting"]["status"] == "archived"


def test_read_permissions_per_role(
    client: TestClient, make_user: Any, room: dict[str, Any]
) -> None:
    make_admin(make_user)
    as_ = Callers(client)
    m = f"/api/meetings/{room['meeting_id']}"
    seen = {}
    for username in (*ROOM_USERS, "quantri"):
        answer = as_.get(username, m)
        seen[username] = answer.status_code
        if answer.status_code != 200:
            assert code(answer) == "meeting_not_found"
            continue
        titles = [i["title"] for i in answer.json()["agenda"]["items"]]
        secret = "Nhân sự lãnh đạo" in titles
        assert secret == (username != "quansat"), username
    assert seen == {u: (404 if u == "nguoingoai" else 200) for u in (*ROOM_USERS, "quantri")}
    # Editing: the secretary and admins only.
    for username in (*ROOM_USERS, "quantri"):
        answer = as_.patch(username, m, {"description": f"sửa bởi {username}"})
        expected = (
            200 if username in ("thuky", "quantri") else (404 if username == "nguoingoai" else 403)
        )
        assert answer.status_code == expected, (username, answer.text)
    # The change log: staff only.
    for username in ROOM_USERS:
        answer = as_.get(username, f"{m}/changes?since=0")
        expected = (
            200 if username in ("thuky", "chutich") else (404 if username == "nguoingoai" else 403)
        )
        assert answer.status_code == expected, username
    assert code(as_.get("thuky", f"{m}/changes?since=abc")) == "invalid_payload"
    assert code(as_.get("thuky", f"{m}/changes?since=99")) == "unknown_pack_version"
