"""Bad ballots, wrong roles, impossible transitions: an error ack with a stable code, and nothing
changes (no ballot, no receipt, no event)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from ecabinet.storage.models import (
    Ballot,
    CommandReceipt,
    Meeting,
    Poll,
    PollParticipation,
    SecretBallot,
)
from tests.conftest import LiveServer
from tests.realtime.client import Tablet
from tests.voting.conftest import Room

pytestmark = pytest.mark.anyio


def fingerprint(app: Any) -> tuple[Any, ...]:
    """Everything a refused command must leave alone."""

    def read(session: Any) -> tuple[Any, ...]:
        def count(model: Any) -> int:
            return int(session.execute(sa.select(sa.func.count()).select_from(model)).scalar())

        polls = session.execute(sa.select(Poll.id, Poll.status, Poll.question)
                                .order_by(Poll.id)).all()
        seqs = session.execute(sa.select(Meeting.last_seq)).scalars().all()
        return (count(Ballot), count(PollParticipation), count(SecretBallot),
                count(CommandReceipt), tuple(polls), tuple(seqs))

    result: tuple[Any, ...] = app.runtime.db.run_sync(read)
    return result


async def refused(app: Any, room: Room, user: str, name: str, payload: dict[str, Any],
                  code: str) -> None:
    before = fingerprint(app)
    answer = await room.call(user, name, payload)
    assert answer["ok"] is False, (name, payload, answer)
    assert answer["error"]["code"] == code, (name, payload, answer)
    assert answer["error"]["message"]
    assert fingerprint(app) == before, (name, payload)


@pytest.mark.slow
async def test_bad_ballots_are_refused_and_change_nothing(
    app: Any, live_server: LiveServer, session_room: Room
) -> None:
    r = session_room
    named = await r.open(question="Biểu quyết công khai", kind="yes_no_abstain")
    assert (await r.cast("daibieu2", named, ["yes"]))["ok"]
    ballot = {"poll_id": named, "choice": ["no"]}
    # Twice, by the same voter (another client id: a new command, not a retry).
    await refused(app, r, "daibieu2", "poll.cast", ballot, "already_voted")
    # No voting right: the secretary and the observer.
    await refused(app, r, "thuky", "poll.cast", ballot, "no_voting_right")
    await refused(app, r, "quansat", "poll.cast", ballot, "no_voting_right")
    # Options that do not exist, or not the right number of them.
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": named, "choice": ["maybe"]},
                  "unknown_option")
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": named, "choice": ["yes", "no"]},
                  "choice_required")
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": named, "choice": []},
                  "choice_required")
    # Proxies: not held, or given away.
    await refused(app, r, "daibieu2", "poll.cast",
                  {**ballot, "for_participant_id": r.pids["daibieu4"]}, "proxy_not_held")
    await refused(app, r, "daibieu3", "poll.cast",
                  {**ballot, "for_participant_id": r.pids["daibieu2"]}, "proxy_not_held")
    await refused(app, r, "daibieu3", "poll.cast",
                  {**ballot, "for_participant_id": 9999}, "proxy_not_held")
    giver = await Tablet.open(live_server.url, "daibieu4")
    r.tablets["daibieu4"] = giver
    assert (await giver.call("meeting.join", {"meeting_id": r.mid}))["ok"]
    await refused(app, r, "daibieu4", "poll.cast", ballot, "proxy_given")
    # Unknown polls and malformed payloads.
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": 4242, "choice": ["yes"]},
                  "poll_not_found")
    for bad in ({"poll_id": named, "choice": "yes"}, {"poll_id": named},
                {"poll_id": named, "choice": ["x" * 17]}, {"poll_id": 0, "choice": ["yes"]},
                {"poll_id": named, "choice": ["yes"], "weight": 100},
                {"poll_id": named, "choice": ["yes"], "for_participant_id": -1},
                {"poll_id": 2**40, "choice": ["yes"]},
                {"poll_id": named, "choice": ["yes"], "for_participant_id": 2**33}):
        await refused(app, r, "daibieu3", "poll.cast", bad, "invalid_payload")

    assert (await r.chair("poll.close", named))["ok"]
    multi = await r.open(question="Chọn tối đa hai", kind="multiple", options=["A", "B", "C"],
                         max_choices=2)
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": multi, "choice": ["1", "2", "3"]},
                  "too_many_choices")
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": multi, "choice": ["1", "1"]},
                  "duplicate_choice")
    await refused(app, r, "daibieu3", "poll.cast", {"poll_id": multi, "choice": ["4"]},
                  "unknown_option")
    assert (await r.cast("daibieu3", multi, []))["ok"]  # a blank ballot is a ballot

    # Closed, cancelled and draft polls take no ballot.
    assert (await r.chair("poll.close", multi))["ok"]
    await refused(app, r, "daibieu1", "poll.cast", {"poll_id": multi, "choice": ["1"]},
                  "poll_not_open")
    cancelled = await r.open(question="Sẽ bị hủy", kind="yes_no_abstain")
    assert (await r.chair("poll.cancel", cancelled))["ok"]
    await refused(app, r, "daibieu1", "poll.cast", {"poll_id": cancelled, "choice": ["yes"]},
                  "poll_not_open")
    draft = await r.create(question="Còn là bản nháp", kind="yes_no_abstain")
    await refused(app, r, "daibieu1", "poll.cast", {"poll_id": draft, "choice": ["yes"]},
                  "poll_not_open")
    # A poll left open when the session ends takes no more ballots, and can still be closed.
    late = await r.open(question="Còn mở khi kết thúc phiên", kind="yes_no_abstain")
    assert (await r.call("chutich", "meeting.end", {}))["ok"]
    await refused(app, r, "daibieu1", "poll.cast", {"poll_id": late, "choice": ["yes"]},
                  "meeting_not_in_session")
    assert (await r.chair("poll.close", late))["ok"]


async def test_only_the_chair_drives_a_poll_and_only_possible_polls(
    app: Any, session_room: Room
) -> None:
    r = session_room
    draft = await r.create(question="Ai được mở phiếu?", kind="yes_no_abstain")
    ref = {"poll_id": draft}
    for user in ("daibieu1", "quansat", "thuky"):
        for name in ("poll.open", "poll.close", "poll.publish", "poll.cancel"):
            await refused(app, r, user, name, ref, "forbidden_role")
    for user in ("daibieu1", "quansat"):
        await refused(app, r, user, "poll.create",
                      {"question": "Của đại biểu", "kind": "yes_no_abstain"}, "forbidden_role")
        await refused(app, r, user, "poll.update", {**ref, "question": "Sửa"}, "forbidden_role")
    # The secretary prepares drafts.
    drafted = await r.call("thuky", "poll.create",
                           {"question": "Thư ký chuẩn bị", "kind": "single",
                            "options": ["Một", "Hai"]})
    assert drafted["ok"]
    updated = await r.call("thuky", "poll.update",
                           {"poll_id": drafted["poll_id"], "options": ["Một", "Hai", "Ba"]})
    assert [o["label"] for o in updated["poll"]["options"]] == ["Một", "Hai", "Ba"]
    # Delegates never see drafts.
    snap = (await r["daibieu1"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    assert snap["polls"] == [] and snap["polls_staff"] is None
    staff = (await r["thuky"].call("meeting.join", {"meeting_id": r.mid}))["snapshot"]
    assert len(staff["polls_staff"]["drafts"]) == 2
    assert not r["daibieu1"].of_type("poll.draft")

    # Transitions that do not exist.
    await refused(app, r, "chutich", "poll.close", ref, "invalid_poll_status")
    await refused(app, r, "chutich", "poll.publish", ref, "invalid_poll_status")
    assert (await r.chair("poll.open", draft))["ok"]
    await refused(app, r, "chutich", "poll.open", ref, "invalid_poll_status")
    await refused(app, r, "chutich", "poll.update", {**ref, "question": "Muộn"},
                  "poll_not_editable")
    await refused(app, r, "chutich", "poll.open", {"poll_id": drafted["poll_id"]},
                  "poll_already_open")
    await refused(app, r, "chutich", "poll.open", {"poll_id": 777}, "poll_not_found")
    assert (await r.chair("poll.close", draft))["ok"]
    await refused(app, r, "chutich", "poll.cancel", {"poll_id": 777}, "poll_not_found")
    assert (await r.chair("poll.publish", draft))["ok"]
    await refused(app, r, "chutich", "poll.cancel", ref, "invalid_poll_status")
    await impossible_polls_are_refused(app, r)


IMPOSSIBLE = [
    ({"kind": "single", "options": ["Chỉ một"]}, "too_few_options"),
    ({"kind": "single", "options": ["A", "a"]}, "duplicate_option"),
    ({"kind": "single", "options": ["A", "   "]}, "invalid_payload"),
    ({"kind": "yes_no_abstain", "options": ["A", "B"]}, "options_not_allowed"),
    ({"kind": "multiple", "options": ["A", "B"], "max_choices": 3}, "invalid_max_choices"),
    ({"kind": "single", "options": ["A", "B"], "max_choices": 2}, "invalid_max_choices"),
    ({"kind": "yes_no_abstain", "secret": True, "allow_change": True}, "secret_no_change"),
    ({"kind": "yes_no_abstain", "agenda_item_id": 999}, "agenda_item_not_found"),
    ({"kind": "yes_no_abstain", "majority": "unanimity"}, "invalid_payload"),
    ({"kind": "ranked"}, "invalid_payload"),
    ({"kind": "yes_no_abstain", "question": ""}, "invalid_payload"),
    ({"kind": "single", "options": [f"P{i}" for i in range(101)]}, "invalid_payload"),
]


async def impossible_polls_are_refused(app: Any, session_room: Room) -> None:
    for poll, code in IMPOSSIBLE:
        await refused(app, session_room, "chutich", "poll.create",
                      {"question": "Câu hỏi", **poll}, code)
    draft = await session_room.create(question="Nháp", kind="single", options=["A", "B"])
    await refused(app, session_room, "chutich", "poll.update",
                  {"poll_id": draft, "kind": "multiple", "max_choices": 3}, "invalid_max_choices")
    await refused(app, session_room, "chutich", "poll.update",
                  {"poll_id": draft, "secret": True, "allow_change": True}, "secret_no_change")
    await refused(app, session_room, "chutich", "poll.update",
                  {"poll_id": draft, "kind": "yes_no_abstain", "options": ["A", "B"]},
                  "options_not_allowed")


async def test_no_poll_opens_without_a_quorum(app: Any, session_room: Room) -> None:
    r = session_room
    for user in ("daibieu2", "daibieu3"):
        assert (await r.call(user, "attendance.check_out", {}))["ok"]
    # Present: chutich 1 + daibieu1 1 + daibieu4 1 (by proxy) = 3 of 6: not more than half.
    draft = await r.create(question="Không đủ túc số", kind="yes_no_abstain")
    before = fingerprint(app)
    answer = await r.chair("poll.open", draft)
    assert answer["error"]["code"] == "no_quorum"
    assert answer["error"]["details"]["counted_weight"] == 3
    assert answer["error"]["details"]["required_weight"] == 4
    assert fingerprint(app) == before
    assert (await r.call("daibieu3", "attendance.check_in", {}))["ok"]
    assert (await r.chair("poll.open", draft))["ok"]
    # Quorum is checked again at the close: people leave, the vote is void.
    assert (await r.cast("daibieu1", draft, ["yes"]))["ok"]
    assert (await r.call("daibieu3", "attendance.check_out", {}))["ok"]
    closed = await r.chair("poll.close", draft)
    assert closed["result"]["outcome"] == "no_quorum"
    assert closed["result"]["passed"] is False
    assert "không đủ số thành viên" in closed["result"]["reason"]
