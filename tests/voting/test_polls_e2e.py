"""Polls end to end through real Socket.IO clients on a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from ecabinet.storage.models import Ballot, PollParticipation, SecretBallot
from tests.conftest import LiveServer
from tests.realtime.client import Tablet
from tests.voting.conftest import Room

pytestmark = pytest.mark.anyio
# Behaviour that does not depend on the database runs on SQLite only (the suite's time is
# shared); the kinds and rules, proxies and secret storage run on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# The voter roll: chutich 1, daibieu1 1 (+ daibieu4 1 by proxy), daibieu2 2, daibieu3 1.
# The pattern below: 3 for ("yes" / option 1), 1 against ("no" / option 2), 1 abstaining,
# daibieu4's proxy not used. Everyone is checked in, so present = members = 6 (weights).
PATTERNS: dict[str, dict[str, list[str]]] = {
    "yes_no_abstain": {"chutich": ["yes"], "daibieu2": ["yes"], "daibieu1": ["no"],
                       "daibieu3": ["abstain"]},
    "single": {"chutich": ["1"], "daibieu2": ["1"], "daibieu1": ["2"], "daibieu3": []},
    "multiple": {"chutich": ["1", "2"], "daibieu2": ["1"], "daibieu1": ["2", "3"],
                 "daibieu3": []},
}
# (majority, abstentions_count) -> outcome. Cast base: 4 (abstentions out) or 5 (in); present
# and members base: 6. Option 1 has 3; in the multiple poll option 2 has 2, option 3 has 1.
RULES = [
    ("simple_cast", False, "passed"),         # 3 > 4/2
    ("simple_cast", True, "passed"),          # 3 > 5/2
    ("two_thirds_cast", False, "passed"),     # 3 >= 8/3
    ("two_thirds_cast", True, "rejected"),    # 3 < 10/3
    ("simple_present", False, "rejected"),    # 3 = 6/2, not more
    ("two_thirds_present", False, "rejected"),
    ("simple_members", False, "rejected"),
    ("two_thirds_members", False, "rejected"),
]
OPTIONS = {"yes_no_abstain": [], "single": ["Phương án A", "Phương án B", "Phương án C"],
           "multiple": ["Ứng viên A", "Ứng viên B", "Ứng viên C"]}


@pytest.mark.slow
@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_every_kind_and_rule_decides_exactly(session_room: Room, secret: bool) -> None:
    r = session_room
    for kind, pattern in PATTERNS.items():
        for majority, abstentions, expected in RULES:
            poll_id = await r.open(
                question=f"{kind} / {majority} / {abstentions}", kind=kind,
                options=OPTIONS[kind], max_choices=2 if kind == "multiple" else 1,
                secret=secret, majority=majority, abstentions_count=abstentions)
            answers = await asyncio.gather(*(r.cast(u, poll_id, c) for u, c in pattern.items()))
            assert all(a["ok"] for a in answers), answers
            result = await r.finish(poll_id)
            case = (kind, majority, abstentions)
            assert result["outcome"] == expected, (case, result["reason"])
            votes = {o["id"]: o["votes"] for o in result["options"]}
            assert votes[result["options"][0]["id"]] == 3, case
            assert result["ballots"] == 4 and result["weight_cast"] == 5
            assert result["abstentions"] == 1
            assert result["base_votes"] == {"cast": 5 if abstentions else 4}.get(
                result["base"], 6)
            assert (result["votes"] is None) is secret
            if kind == "multiple" and expected == "passed":
                assert result["elected"] == ["1"]  # option 2 (2 of 4) does not reach more
    snapshot = (await r["daibieu3"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    assert len(snapshot["polls"]) == 3 * len(RULES)
    assert all(p["result"] is not None for p in snapshot["polls"])


async def wait_progress(tablet: Tablet, poll_id: int, voted: int) -> dict[str, Any]:
    return await tablet.wait_for(lambda e: e["type"] == "poll.progress"
                                 and e["payload"]["poll_id"] == poll_id
                                 and e["payload"]["voted"] == voted)


async def test_named_poll_with_a_proxy_progress_and_publication(session_room: Room) -> None:
    r = session_room
    poll_id = await r.open(question="Thông qua kế hoạch kinh doanh năm 2027?",
                           kind="yes_no_abstain", agenda_item_id=None)
    opened = await r["daibieu2"].wait_for(lambda e: e["type"] == "poll.opened")
    assert opened["seq"] is not None
    assert opened["payload"]["progress"] == {"poll_id": poll_id, "voted": 0, "eligible": 5,
                                             "voted_weight": 0, "eligible_weight": 6}
    # The staff see who has not voted; delegates never do.
    pending = await r["thuky"].wait_for(lambda e: e["type"] == "poll.pending")
    assert len(pending["payload"]["not_voted"]) == 5
    proxy = next(v for v in pending["payload"]["not_voted"]
                 if v["participant_id"] == r.pids["daibieu4"])
    assert proxy["proxy_holder_id"] == r.pids["daibieu1"]
    assert proxy["proxy_holder_name"] == "Lê Hoàng Minh"
    # Before voting, daibieu1's snapshot says for whom they vote.
    live = (await r["daibieu1"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    you = live["poll_live"]["you"]
    assert [(y["participant_id"], y["proxy"], y["voted"]) for y in you] == [
        (r.pids["daibieu1"], False, False), (r.pids["daibieu4"], True, False)]

    assert (await r.cast("chutich", poll_id, ["yes"]))["ok"]
    own = await r.cast("daibieu1", poll_id, ["yes"])
    assert own == {"ok": True, "poll_id": poll_id, "for_participant_id": r.pids["daibieu1"],
                   "changed": False}
    carried = await r.cast("daibieu1", poll_id, ["no"], for_participant_id=r.pids["daibieu4"])
    assert carried["ok"] and carried["for_participant_id"] == r.pids["daibieu4"]
    assert (await r.cast("daibieu2", poll_id, ["no"]))["ok"]
    progress = await wait_progress(r["daibieu3"], poll_id, 4)
    assert progress["seq"] is None and progress["payload"]["voted_weight"] == 5
    last = await r["thuky"].wait_for(lambda e: e["type"] == "poll.pending"
                                     and len(e["payload"]["not_voted"]) == 1)
    assert last["payload"]["not_voted"][0]["full_name"] == "Đặng Quốc Bảo"
    assert (await r.cast("daibieu3", poll_id, ["abstain"]))["ok"]
    await wait_progress(r["daibieu2"], poll_id, 5)

    # Nothing anyone received while the poll was open names a choice.
    for tablet in r.tablets.values():
        for ev in tablet.events:
            assert "'choice'" not in str(ev["payload"]), ev

    closed = await r.chair("poll.close", poll_id)
    assert closed["ok"] and closed["result"]["outcome"] == "rejected"  # 2 yes of 5
    ready = await r["thuky"].wait_for(lambda e: e["type"] == "poll.result")
    assert ready["payload"]["result"] == closed["result"]
    final = await r["daibieu2"].wait_for(lambda e: e["type"] == "poll.closed")
    assert final["payload"]["progress"]["voted"] == 5
    assert not r["daibieu2"].of_type("poll.result")  # delegates wait for the announcement
    early = await r["daibieu2"].call("meeting.join", {"meeting_id": r.mid})
    assert early["snapshot"]["polls"][0]["result"] is None

    published = await r.chair("poll.publish", poll_id)
    assert published["ok"]
    for name in ("daibieu2", "quansat", "thuky"):
        shown = await r[name].wait_for(lambda e: e["type"] == "poll.published")
        result = shown["payload"]["result"]
        assert result["outcome"] == "rejected" and result["passed"] is False
        assert "Không thông qua" in result["reason"]
    options = {o["id"]: (o["votes"], o["ballots"], o["percent"]) for o in result["options"]}
    assert options == {"yes": (2, 2, "40.00"), "no": (3, 2, "60.00"),
                       "abstain": (1, 1, "20.00")}
    named = {v["full_name"]: (v["choice"], v["weight"], v["cast_by_name"])
             for v in result["votes"]}
    assert named == {
        "Nguyễn Văn An": (["yes"], 1, None),
        "Lê Hoàng Minh": (["yes"], 1, None),
        "Hoàng Thị Lan": (["no"], 1, "Lê Hoàng Minh"),
        "Phạm Thị Thu Hà": (["no"], 2, None),
        "Đặng Quốc Bảo": (["abstain"], 1, None),
    }
    # Vietnamese list order: by given name (An, Bảo, Hà, Lan, Minh).
    assert [v["full_name"].split()[-1] for v in result["votes"]] == [
        "An", "Bảo", "Hà", "Lan", "Minh"]
    # The event log holds the result for the minutes.
    replay = await r["daibieu3"].call("meeting.join", {"meeting_id": r.mid, "since": 0})
    logged = [e["type"] for e in replay["events"] if e["type"].startswith("poll.")]
    assert logged == ["poll.opened", "poll.closed", "poll.published"]
    assert replay["events"][-1]["payload"]["result"]["votes"] == result["votes"]


@SQLITE_ONLY
async def test_a_ballot_may_change_until_the_close_when_the_poll_allows_it(
    session_room: Room
) -> None:
    r = session_room
    poll_id = await r.open(question="Chọn địa điểm", kind="single", allow_change=True,
                           options=["Hà Nội", "Đà Nẵng", "TP. Hồ Chí Minh"])
    first = await r.cast("daibieu2", poll_id, ["1"], client_id="thay-doi-phieu-1")
    again = await r.cast("daibieu2", poll_id, ["1"], client_id="thay-doi-phieu-1")
    assert first["ok"] and again == {**first, "duplicate": True}
    changed = await r.cast("daibieu2", poll_id, ["3"])
    assert changed["ok"] and changed["changed"] is True
    assert (await r.cast("daibieu3", poll_id, ["2"]))["ok"]
    await wait_progress(r["daibieu1"], poll_id, 2)
    snap = (await r["daibieu2"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    assert snap["poll_live"]["you"][0]["choice"] == ["3"]  # your own choice, named poll only
    result = await r.finish(poll_id)
    votes = {o["label"]: o["votes"] for o in result["options"]}
    assert votes == {"Hà Nội": 0, "Đà Nẵng": 1, "TP. Hồ Chí Minh": 2}
    assert result["outcome"] == "passed" and result["elected"] == ["3"]
    late = await r.cast("daibieu2", poll_id, ["1"])
    assert late["error"]["code"] == "poll_not_open"


async def test_secret_ballots_are_stored_apart_and_rekeyed_at_the_close(
    app: Any, session_room: Room, capsys: pytest.CaptureFixture[str]
) -> None:
    r = session_room
    poll_id = await r.open(question="Bầu Phó Chủ tịch (bỏ phiếu kín)", kind="single",
                           secret=True, options=["Ứng viên A", "Ứng viên B"])
    assert (await r.cast("chutich", poll_id, ["1"]))["ok"]
    assert (await r.cast("daibieu1", poll_id, ["2"]))["ok"]
    assert (await r.cast("daibieu1", poll_id, ["1"], for_participant_id=r.pids["daibieu4"]))["ok"]
    twice = await r.cast("chutich", poll_id, ["2"])
    assert twice["error"]["code"] == "already_voted"
    await wait_progress(r["daibieu2"], poll_id, 3)

    def rows(session: Any) -> tuple[list[Any], list[Any], list[Any]]:
        return (list(session.exec(select(SecretBallot).where(SecretBallot.poll_id == poll_id))),
                list(session.exec(select(PollParticipation)
                                  .where(PollParticipation.poll_id == poll_id))),
                list(session.exec(select(Ballot).where(Ballot.poll_id == poll_id))))

    secret_rows, taken_part, named = app.runtime.db.run_sync(rows)
    assert named == []  # nothing in the named table
    assert sorted(p.represented_participant_id for p in taken_part) == sorted(
        [r.pids["chutich"], r.pids["daibieu1"], r.pids["daibieu4"]])
    assert set(SecretBallot.model_fields) == {"key", "poll_id", "weight", "choice"}
    assert all(len(b.key) == 32 for b in secret_rows)
    before = {b.key for b in secret_rows}
    result = await r.finish(poll_id)
    assert result["votes"] is None
    assert {o["id"]: o["votes"] for o in result["options"]} == {"1": 2, "2": 1}
    after, _, _ = app.runtime.db.run_sync(rows)
    assert sorted((b.weight, b.choice) for b in after) == [(1, ["1"]), (1, ["1"]), (1, ["2"])]
    assert before.isdisjoint({b.key for b in after})  # rewritten under fresh keys
    # What tablets saw of the secret poll never named a choice, before or after.
    for tablet in r.tablets.values():
        for ev in tablet.events:
            assert "votes': [" not in str(ev["payload"])
    logged = capsys.readouterr()
    assert "choice" not in logged.out + logged.err  # the server's log lines
    if app.runtime.db.is_sqlite:  # no rowid: rows live in the order of their random keys
        with app.runtime.db.engine.connect() as conn, pytest.raises(
            sa.exc.OperationalError, match="rowid"
        ):
            conn.execute(sa.text("SELECT rowid FROM secret_ballot"))


@SQLITE_ONLY
async def test_observers_get_confidential_polls_redacted(session_room: Room,
                                                         voting_room: dict[str, Any]) -> None:
    r = session_room
    agenda = (await r["chutich"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    secret_item = next(i["id"] for i in agenda["agenda"]["items"] if i["confidential"])
    poll_id = await r.open(question="Miễn nhiệm ông Trần Văn X?", kind="single",
                           options=["Trần Văn X", "Nguyễn Thị Y"], agenda_item_id=secret_item)
    seen = await r["quansat"].wait_for(lambda e: e["type"] == "poll.opened")
    assert seen["payload"]["poll"]["question"] == "Nội dung mật (confidential)"
    assert [o["label"] for o in seen["payload"]["poll"]["options"]] == [
        "Phương án 1", "Phương án 2"]
    member = await r["daibieu2"].wait_for(lambda e: e["type"] == "poll.opened")
    assert member["payload"]["poll"]["question"] == "Miễn nhiệm ông Trần Văn X?"
    assert (await r.cast("daibieu2", poll_id, ["1"]))["ok"]
    observer_vote = await r.cast("quansat", poll_id, ["1"])
    assert observer_vote["error"]["code"] == "no_voting_right"
    await r.finish(poll_id)
    shown = await r["quansat"].wait_for(lambda e: e["type"] == "poll.published")
    assert shown["payload"]["result"]["votes"] is None
    assert "Trần Văn X" not in str(shown["payload"])
    full = await r["daibieu3"].wait_for(lambda e: e["type"] == "poll.published")
    assert full["payload"]["result"]["votes"][0]["full_name"] == "Phạm Thị Thu Hà"


@SQLITE_ONLY
async def test_a_tablet_that_drops_gets_progress_and_its_ballots_back(
    live_server: LiveServer, session_room: Room
) -> None:
    r = session_room
    poll_id = await r.open(question="Thông qua tờ trình?", kind="yes_no_abstain")
    seen = (await r["daibieu1"].call("meeting.join", {"meeting_id": r.mid}))["seq"]
    await r["daibieu1"].close()  # Wi-Fi gone
    assert (await r.cast("daibieu2", poll_id, ["yes"]))["ok"]
    back = await Tablet.open(live_server.url, "daibieu1")
    r.tablets["daibieu1"] = back
    answer = await back.call("meeting.join", {"meeting_id": r.mid, "since": seen})
    assert answer["mode"] == "events"
    live = answer["private"]["poll_live"]
    assert live["poll_id"] == poll_id and live["progress"]["voted"] == 1
    assert [y["voted"] for y in live["you"]] == [False, False]
    assert (await r.cast("daibieu1", poll_id, ["yes"]))["ok"]
    staff = await r["thuky"].call("meeting.join", {"meeting_id": r.mid, "since": seen})
    assert {v["full_name"] for v in staff["private"]["polls_staff"]["pending"]["not_voted"]} == {
        "Nguyễn Văn An", "Đặng Quốc Bảo", "Hoàng Thị Lan"}
    assert answer["private"]["polls_staff"] is None
