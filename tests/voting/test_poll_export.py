"""Results over HTTP as JSON and CSV: who may read which result when."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from ecabinet.core import csvsafe
from ecabinet.storage.models import AgendaItem, CommandReceipt, Meeting, User
from tests.conftest import sign_in
from tests.voting.conftest import command, start_with_everyone_in


def auth(client: TestClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_in(client, username)}"}


def prepare(app: Any, room: dict[str, Any]) -> dict[str, int]:
    """A published named poll, a closed secret one, a draft, and a published confidential one."""
    app.runtime.db.run_sync(start_with_everyone_in, room["meeting_id"])

    def run(user: str, name: str, **payload: Any) -> dict[str, Any]:
        return command(app, room, user, name, payload)

    def confidential_item(session: Any) -> int:
        item = session.exec(select(AgendaItem).where(
            AgendaItem.meeting_id == room["meeting_id"], AgendaItem.confidential)).one()
        return int(item.id)

    named = run("chutich", "poll.create", question="Thông qua báo cáo tài chính?",
                kind="yes_no_abstain")["poll_id"]
    run("chutich", "poll.open", poll_id=named)
    run("chutich", "poll.cast", poll_id=named, choice=["yes"])
    run("daibieu1", "poll.cast", poll_id=named, choice=["yes"])
    run("daibieu1", "poll.cast", poll_id=named, choice=["no"],
        for_participant_id=room["participants"]["daibieu4"])
    run("daibieu2", "poll.cast", poll_id=named, choice=["yes"])
    run("chutich", "poll.close", poll_id=named)
    run("chutich", "poll.publish", poll_id=named)

    secret = run("chutich", "poll.create", question="Bầu thư ký (kín)", kind="single",
                 secret=True, options=["Ứng viên A", "Ứng viên B"])["poll_id"]
    run("chutich", "poll.open", poll_id=secret)
    run("daibieu2", "poll.cast", poll_id=secret, choice=["2"])
    run("daibieu3", "poll.cast", poll_id=secret, choice=["1"])
    run("chutich", "poll.close", poll_id=secret)

    item = app.runtime.db.run_sync(confidential_item)
    hidden = run("chutich", "poll.create", question="Kỷ luật ông Lê Văn K?", kind="single",
                 options=["Khiển trách", "Cảnh cáo"], agenda_item_id=item)["poll_id"]
    run("chutich", "poll.open", poll_id=hidden)
    run("daibieu2", "poll.cast", poll_id=hidden, choice=["1"])
    run("chutich", "poll.close", poll_id=hidden)
    run("chutich", "poll.publish", poll_id=hidden)

    draft = run("thuky", "poll.create", question="Bản nháp", kind="yes_no_abstain")["poll_id"]
    return {"named": named, "secret": secret, "hidden": hidden, "draft": draft}


def url(room: dict[str, Any], poll_id: int, ext: str = "json") -> str:
    return f"/api/meetings/{room['meeting_id']}/polls/{poll_id}/result.{ext}"


def test_results_are_exported_to_whom_may_read_them(app: Any, client: TestClient,
                                                     voting_room: dict[str, Any]) -> None:
    polls = prepare(app, voting_room)
    chair, delegate = auth(client, "chutich"), auth(client, "daibieu3")
    observer, outsider = auth(client, "quansat"), auth(client, "nguoingoai")

    doc = client.get(url(voting_room, polls["named"]), headers=delegate)
    assert doc.status_code == 200, doc.text
    assert "attachment" in doc.headers["content-disposition"]
    body = doc.json()
    assert body["poll"]["question"] == "Thông qua báo cáo tài chính?"
    result = body["result"]
    assert result["outcome"] == "passed"
    assert {o["id"]: o["votes"] for o in result["options"]} == {"yes": 4, "no": 1, "abstain": 0}
    assert {v["full_name"] for v in result["votes"]} == {
        "Nguyễn Văn An", "Lê Hoàng Minh", "Hoàng Thị Lan", "Phạm Thị Thu Hà"}

    # A closed, unpublished result: the staff read it, the others wait.
    assert client.get(url(voting_room, polls["secret"]), headers=chair).status_code == 200
    assert client.get(url(voting_room, polls["secret"]),
                      headers=auth(client, "thuky")).status_code == 200
    waiting = client.get(url(voting_room, polls["secret"]), headers=delegate)
    assert waiting.status_code == 409
    assert waiting.json()["error"]["code"] == "result_not_available"
    # Drafts do not exist for delegates; no result for anyone yet.
    gone = client.get(url(voting_room, polls["draft"]), headers=delegate)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "poll_not_found"
    assert client.get(url(voting_room, polls["draft"]), headers=chair).status_code == 409
    assert client.get(url(voting_room, 9999), headers=chair).status_code == 404
    # Outsiders learn nothing; anonymous callers must sign in.
    denied = client.get(url(voting_room, polls["named"]), headers=outsider)
    assert denied.status_code == 404 and denied.json()["error"]["code"] == "meeting_not_found"
    assert client.get(url(voting_room, polls["named"])).status_code == 401

    # Observers: confidential items without the question, labels, reason or names.
    redacted = client.get(url(voting_room, polls["hidden"]), headers=observer).json()
    assert redacted["poll"]["question"] == "Nội dung mật (confidential)"
    assert "Lê Văn K" not in str(redacted) and "Khiển trách" not in str(redacted)
    assert redacted["result"]["votes"] is None
    full = client.get(url(voting_room, polls["hidden"]), headers=delegate).json()
    assert full["result"]["options"][0]["label"] == "Khiển trách"

    listed = client.get(f"/api/meetings/{voting_room['meeting_id']}/polls", headers=delegate)
    seen = {p["poll"]["id"]: p["result"] is not None for p in listed.json()["polls"]}
    assert seen == {polls["named"]: True, polls["secret"]: False, polls["hidden"]: True}
    staff = client.get(f"/api/meetings/{voting_room['meeting_id']}/polls", headers=chair).json()
    assert len(staff["polls"]) == 4


    the_csv_sheet(client, voting_room, polls)
    receipts_hold_no_choice(app)


def the_csv_sheet(client: TestClient, voting_room: dict[str, Any], polls: dict[str, int]) -> None:
    sheet = client.get(url(voting_room, polls["named"], "csv"), headers=auth(client, "thuky"))
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert rows[0] == ["Cuộc họp", "Phiên họp Hội đồng quản trị"]
    assert rows[4][:2] == ["Kết quả", "THÔNG QUA"]
    header = rows.index(["Mã phương án", "Phương án", "Số phiếu (theo trọng số)", "Số người",
                         "Tỷ lệ (%)", "Đạt"])
    assert rows[header + 1] == ["yes", "Tán thành", "4", "3", "80.00", "có"]
    named = rows.index(["Người biểu quyết", "Trọng số", "Lựa chọn", "Bỏ phiếu thay bởi"])
    assert ["Hoàng Thị Lan", "1", "Không tán thành", "Lê Hoàng Minh"] in rows[named + 1:]
    secret = client.get(url(voting_room, polls["secret"], "csv"), headers=auth(client, "thuky"))
    text = secret.content.decode("utf-8-sig")
    assert "Bỏ phiếu kín" in text and "Người biểu quyết" not in text


def receipts_hold_no_choice(app: Any) -> None:
    """The stored answers of casts (named and secret alike) never repeat the choice."""

    def receipts(session: Any) -> list[dict[str, Any]]:
        return [r.response for r in session.exec(
            select(CommandReceipt).where(CommandReceipt.command == "poll.cast"))]

    stored = app.runtime.db.run_sync(receipts)
    assert len(stored) == 7
    assert all(set(r) == {"poll_id", "for_participant_id", "changed"} for r in stored)


# Text people type that a spreadsheet would run as a formula (issue #14, finding 15).
FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(1)"]


def test_csv_cells_that_would_be_formulas_are_neutralised(
    app: Any, client: TestClient, voting_room: dict[str, Any]
) -> None:
    def rename(session: Any) -> None:
        for username, name in (("daibieu1", FORMULAS[0]), ("daibieu4", FORMULAS[3]),
                               ("daibieu2", "-1")):
            user = session.exec(select(User).where(User.username == username)).one()
            user.full_name = name
            session.add(user)
        meeting = session.get(Meeting, voting_room["meeting_id"])
        meeting.title = "=1+1"
        session.add(meeting)

    app.runtime.db.run_sync(rename)
    app.runtime.db.run_sync(start_with_everyone_in, voting_room["meeting_id"])

    def run(user: str, name: str, **payload: Any) -> dict[str, Any]:
        return command(app, voting_room, user, name, payload)

    poll = run("chutich", "poll.create", question="@cmd", kind="single",
               options=FORMULAS)["poll_id"]
    run("chutich", "poll.open", poll_id=poll)
    run("daibieu1", "poll.cast", poll_id=poll, choice=["1"])
    run("daibieu1", "poll.cast", poll_id=poll, choice=["4"],
        for_participant_id=voting_room["participants"]["daibieu4"])
    run("daibieu2", "poll.cast", poll_id=poll, choice=["1"])
    run("chutich", "poll.close", poll_id=poll)
    run("chutich", "poll.publish", poll_id=poll)

    sheet = client.get(url(voting_room, poll, "csv"), headers=auth(client, "thuky"))
    assert sheet.status_code == 200, sheet.text
    text = sheet.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    # No cell a spreadsheet reads starts a formula.
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (row, cell)
    assert rows[0] == ["Cuộc họp", "'=1+1"]
    assert rows[1] == ["Câu hỏi", "'@cmd"]
    header = rows.index(["Mã phương án", "Phương án", "Số phiếu (theo trọng số)", "Số người",
                         "Tỷ lệ (%)", "Đạt"])
    options = rows[header + 1:header + 5]
    assert [o[1] for o in options] == ["'" + f for f in FORMULAS]
    # Counts and weights stay numbers, in their own columns, and are written bare.
    assert [o[2:4] for o in options] == [["3", "2"], ["0", "0"], ["0", "0"], ["1", "1"]]
    named = rows.index(["Người biểu quyết", "Trọng số", "Lựa chọn", "Bỏ phiếu thay bởi"])
    votes = sorted(rows[named + 1:])
    assert votes == sorted([
        ["'" + FORMULAS[0], "1", "'" + FORMULAS[0], ""],
        ["'" + FORMULAS[3], "1", "'" + FORMULAS[3], "'" + FORMULAS[0]],
        ["'-1", "2", "'" + FORMULAS[0], ""],
    ])
    assert '"\'=HYPERLINK(""http://x"")",1,' in text  # the raw sheet: a text cell, then 1


def test_the_csv_rule_follows_owasp() -> None:
    for text in [*FORMULAS, "=1+1", "\tx", "\rx", "  =1+1", "\u00a0@x", "-"]:
        assert csvsafe.neutral(text) == "'" + text, text
    for value in ["Nguyễn Văn An", "80.00", "(phiếu trắng)", "", "a=b", "'quoted", 3, -2, None]:
        assert csvsafe.neutral(value) == value, value
