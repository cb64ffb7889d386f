"""Pure rules of meeting preparation: agenda placement, proxies, quorum, calendar text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ecabinet.domain import agenda, lifecycle
from ecabinet.domain.proxies import Voter, proxy_problem
from ecabinet.domain.quorum import Member, QuorumRule, compute
from ecabinet.domain.roles import MeetingStatus as S
from ecabinet.services.meetings import ics


@dataclass
class Item:
    id: int | None
    parent_id: int | None
    position: int


TREE = [Item(1, None, 0), Item(2, None, 1), Item(3, 2, 0), Item(4, 2, 1), Item(5, None, 2)]


def test_placement_keeps_two_levels_and_no_cycles() -> None:
    assert agenda.placement_problem(TREE, None, None) is None
    assert agenda.placement_problem(TREE, None, 2) is None
    assert agenda.placement_problem(TREE, 5, 1) is None
    assert "at most 2 levels" in (agenda.placement_problem(TREE, None, 3) or "")
    assert "sub-items" in (agenda.placement_problem(TREE, 2, 1) or "")
    assert "own parent" in (agenda.placement_problem(TREE, 1, 1) or "")
    assert "unknown parent" in (agenda.placement_problem(TREE, None, 99) or "")


def test_insert_positions_and_subtree() -> None:
    assert agenda.insert_positions([1, 2, 5], 9, 0) == [9, 1, 2, 5]
    assert agenda.insert_positions([1, 2, 5], 9, None) == [1, 2, 5, 9]
    assert agenda.insert_positions([1, 2, 5], 9, 99) == [1, 2, 5, 9]
    assert agenda.insert_positions([1, 2, 5], 2, 0) == [2, 1, 5]
    assert agenda.subtree(TREE, 2) == [2, 3, 4]
    assert [n.number for n in agenda.ordered(TREE)] == ["1", "2", "2.1", "2.2", "3"]


PEOPLE = [Voter(1, True, None), Voter(2, True, None), Voter(3, False, None), Voter(4, True, 1)]


@pytest.mark.parametrize(
    ("giver", "holder", "rule"),
    [
        (2, 1, None),
        (2, 2, "no self-proxy"),
        (2, 3, "holder must be a voter"),
        (3, 1, "giver has no voting right"),
        (2, 4, "no proxy chains"),
        (1, 2, "no proxy chains"),  # 1 already carries 4's vote
        (2, 99, "not a participant"),
    ],
)
def test_proxy_rules(giver: int, holder: int, rule: str | None) -> None:
    problem = proxy_problem(PEOPLE, giver, holder)
    assert (problem is None) if rule is None else (rule in (problem or ""))


def test_quorum_fractions() -> None:
    # The body's page uses domain.quorum, the one quorum; a body without members has none.
    half, two_thirds = QuorumRule(1, 2, strict=True), QuorumRule(2, 3, strict=False)
    assert half.required(12) == 7
    assert half.required(13) == 7
    assert two_thirds.required(12) == 8
    assert half.required(0) == 1 and two_thirds.required(0) == 1
    body = [Member(i) for i in range(1, 13)]
    assert compute(body, set(range(1, 8)), half).reached
    assert not compute(body, set(range(1, 7)), half).reached
    assert not compute([], set(), half).reached
    assert half.describe() == "quá 1/2 tổng số thành viên có quyền biểu quyết"


def test_lifecycle_names_the_rule() -> None:
    assert lifecycle.transition_problem(S.DRAFT, S.PUBLISHED) is None
    assert "needs a chair" in (
        lifecycle.transition_problem(S.DRAFT, S.PUBLISHED, has_chair=False) or ""
    )
    assert "not allowed" in (lifecycle.transition_problem(S.DRAFT, S.CLOSED) or "")
    assert "not allowed" in (lifecycle.transition_problem(S.ARCHIVED, S.DRAFT) or "")
    assert not lifecycle.is_editable(S.ARCHIVED) and lifecycle.is_editable(S.CLOSED)


def test_ics_folding_never_splits_a_letter_and_stays_within_75_octets() -> None:
    line = "SUMMARY:" + "Phiên họp thường kỳ của Ủy ban nhân dân tỉnh Bình An " * 4
    folded = ics.fold(line)
    parts = folded.split("\r\n")
    assert len(parts) > 2
    assert all(len(p.encode("utf-8")) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line


def test_ics_escapes_text_and_quotes_parameters() -> None:
    assert ics.escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    assert ics.param_value('Nguyễn "An"') == "Nguyễn An"
    assert ics.param_value("Sở: Tài chính") == '"Sở: Tài chính"'
    assert ics.utc_stamp(datetime(2026, 12, 3, 1, 0, tzinfo=UTC)) == "20261203T010000Z"
