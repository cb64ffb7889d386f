"""The voting rules, pure: kinds, valid choices, exact arithmetic, decisions and their reasons."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecabinet.domain import quorum as quorum_rules
from ecabinet.domain.procedure import Majority
from ecabinet.domain.voting import (
    RULES,
    YES_NO_OPTIONS,
    CastBallot,
    PollKind,
    PollSpec,
    PollStatus,
    Refusal,
    build_options,
    check_definition,
    check_quorum,
    check_transition,
    name_key,
    normalise_choice,
    percent,
    satisfies,
    tally,
    votes_needed,
)

YES_NO = PollSpec(PollKind.YES_NO_ABSTAIN, YES_NO_OPTIONS)


def everyone_present(total: int) -> quorum_rules.Quorum:
    members = [quorum_rules.Member(i, 1) for i in range(total)]
    return quorum_rules.compute(members, set(range(total)))


def ballots(**counts: int) -> list[CastBallot]:
    return [CastBallot((choice,)) for choice, n in counts.items() for _ in range(n)]


@pytest.mark.parametrize(("part", "whole", "shown"), [
    (1, 3, "33.33"), (2, 3, "66.67"), (1, 8, "12.50"), (1, 800, "0.13"), (1, 1600, "0.06"),
    (0, 7, "0.00"), (7, 7, "100.00"), (5, 0, "0.00"), (2, 7, "28.57"),
])
def test_percentages_are_rounded_half_up_from_exact_fractions(part: int, whole: int,
                                                              shown: str) -> None:
    assert percent(part, whole) == shown


@pytest.mark.parametrize(("majority", "base", "needed"), [
    (Majority.SIMPLE_CAST, 4, 3), (Majority.SIMPLE_CAST, 5, 3), (Majority.SIMPLE_CAST, 1, 1),
    (Majority.TWO_THIRDS_CAST, 6, 4), (Majority.TWO_THIRDS_CAST, 5, 4),
    (Majority.TWO_THIRDS_CAST, 3, 2), (Majority.SIMPLE_MEMBERS, 12, 7),
    (Majority.TWO_THIRDS_PRESENT, 100, 67), (Majority.SIMPLE_CAST, 0, 1),
])
def test_votes_needed(majority: Majority, base: int, needed: int) -> None:
    rule = RULES[majority]
    assert votes_needed(rule, base) == needed
    if base:
        assert satisfies(rule, needed, base) and not satisfies(rule, needed - 1, base)


def test_exactly_half_is_not_a_majority_and_exactly_two_thirds_is_enough() -> None:
    assert not satisfies(RULES[Majority.SIMPLE_CAST], 5, 10)
    assert satisfies(RULES[Majority.TWO_THIRDS_CAST], 6, 9)
    assert RULES[Majority.TWO_THIRDS_CAST].threshold == Fraction(2, 3)


def test_yes_no_abstain_with_and_without_abstentions() -> None:
    votes = ballots(yes=5, no=4, abstain=3)
    out = tally(YES_NO, votes, everyone_present(12))
    assert out.outcome == "passed" and out.base_votes == 9 and out.needed == 5
    assert "Thông qua: 5/9 phiếu tán thành (55.56%)" in out.reason
    counted = tally(PollSpec(PollKind.YES_NO_ABSTAIN, YES_NO_OPTIONS, abstentions_count=True),
                    votes, everyone_present(12))
    assert counted.outcome == "rejected" and counted.base_votes == 12 and counted.needed == 7
    assert counted.reason.startswith("Không thông qua: 5/12 phiếu tán thành (41.67%)")
    assert "(not adopted: 5 of 12, 7 needed)" in counted.reason


def test_majorities_of_present_and_of_all_members() -> None:
    members = [quorum_rules.Member(i, 1) for i in range(10)]
    present = quorum_rules.compute(members, set(range(7)))
    votes = ballots(yes=4, no=1)
    for majority, outcome, base in [(Majority.SIMPLE_CAST, "passed", 5),
                                    (Majority.SIMPLE_PRESENT, "passed", 7),
                                    (Majority.SIMPLE_MEMBERS, "rejected", 10),
                                    (Majority.TWO_THIRDS_PRESENT, "rejected", 7)]:
        out = tally(PollSpec(PollKind.YES_NO_ABSTAIN, YES_NO_OPTIONS, majority=majority),
                    votes, present)
        assert (out.outcome, out.base_votes) == (outcome, base), majority


def test_weights_and_proxies_count() -> None:
    members = [quorum_rules.Member(1, 5), quorum_rules.Member(2, 1), quorum_rules.Member(3, 1),
               quorum_rules.Member(4, 3, proxy_holder_id=2)]
    present = quorum_rules.compute(members, {1, 2})  # 4 is represented by 2
    assert (present.counted, present.total) == (9, 10)
    votes = [CastBallot(("no",), 5), CastBallot(("yes",), 1), CastBallot(("yes",), 3)]
    out = tally(PollSpec(PollKind.YES_NO_ABSTAIN, YES_NO_OPTIONS), votes, present)
    assert out.outcome == "rejected"
    assert [(o.id, o.votes, o.ballots) for o in out.options] == [
        ("yes", 4, 2), ("no", 5, 1), ("abstain", 0, 0)]
    assert out.weight_cast == 9 and out.ballots == 3


def test_no_quorum_at_the_close_voids_the_decision() -> None:
    members = [quorum_rules.Member(i, 1) for i in range(10)]
    few = quorum_rules.compute(members, {0, 1, 2})
    out = tally(YES_NO, ballots(yes=3), few)
    assert out.outcome == "no_quorum" and not out.passed and out.elected == ()
    assert "no quorum at the close" in out.reason
    with pytest.raises(Refusal) as refused:
        check_quorum(few)
    assert refused.value.code == "no_quorum"
    assert refused.value.details["required_weight"] == 6
    check_quorum(everyone_present(3))


def test_no_votes_is_not_a_decision() -> None:
    out = tally(YES_NO, ballots(abstain=4), everyone_present(4))
    assert out.outcome == "rejected" and out.base_votes == 0
    assert "không có phiếu hợp lệ" in out.reason


SINGLE = PollSpec(PollKind.SINGLE, build_options(PollKind.SINGLE, ["An", "Bình", "Chi"]))


def test_one_of_several_options() -> None:
    out = tally(SINGLE, [*ballots(**{"1": 4, "2": 2}), CastBallot(())], everyone_present(7))
    assert out.outcome == "passed" and out.elected == ("1",)
    assert "“An” 4 phiếu (66.67%)" in out.reason
    assert out.abstentions == 1 and out.base_votes == 6
    tie = tally(SINGLE, ballots(**{"1": 3, "2": 3}), everyone_present(6))
    assert tie.outcome == "rejected" and "“An”, “Bình” bằng phiếu nhau, 3 phiếu" in tie.reason
    split = tally(SINGLE, ballots(**{"1": 3, "2": 2, "3": 2}), everyone_present(7))
    assert split.outcome == "rejected" and "cao nhất “An” 3 phiếu" in split.reason


def test_up_to_k_of_several_options() -> None:
    options = build_options(PollKind.MULTIPLE, ["A", "B", "C", "D"])
    spec = PollSpec(PollKind.MULTIPLE, options, max_choices=2)
    votes = [CastBallot(("1", "2"))] * 4 + [CastBallot(("1", "3"))] * 3 + [CastBallot(("3",))]
    out = tally(spec, votes, everyone_present(8))
    # A 7, B 4, C 4 of 8 ballots: only A has more than half.
    assert out.elected == ("1",) and out.outcome == "passed"
    assert [o.percent for o in out.options] == ["87.50", "50.00", "50.00", "0.00"]
    three = [CastBallot(("1", "2"))] * 3 + [CastBallot(("1", "3"))] * 3 + [CastBallot(("2", "3"))]
    tie = tally(spec, three, everyone_present(7))
    # A 6, B 4, C 4 of 7: A in, one place left for B or C.
    assert tie.outcome == "tie" and tie.elected == ("1",)
    assert "còn 1 vị trí" in tie.reason
    clear = [CastBallot(("1", "2"))] * 3 + [CastBallot(("1", "3"))] * 2 + [CastBallot(("1", "2"))]
    done = tally(spec, clear, everyone_present(6))
    assert done.outcome == "passed" and done.elected == ("1", "2")


def test_choices_are_checked_and_put_in_option_order() -> None:
    spec = PollSpec(PollKind.MULTIPLE, build_options(PollKind.MULTIPLE, ["A", "B", "C"]),
                    max_choices=2)
    assert normalise_choice(spec, ["3", "1"]) == ("1", "3")
    assert normalise_choice(spec, []) == ()
    for choice, code in [(["1", "2", "3"], "too_many_choices"), (["1", "1"], "duplicate_choice"),
                         (["9"], "unknown_option"), (["yes"], "unknown_option")]:
        with pytest.raises(Refusal) as refused:
            normalise_choice(spec, choice)
        assert refused.value.code == code
    assert normalise_choice(YES_NO, ["abstain"]) == ("abstain",)
    for choice in ([], ["yes", "no"]):
        with pytest.raises(Refusal) as refused:
            normalise_choice(YES_NO, choice)
        assert refused.value.code == "choice_required"


def test_definitions_and_transitions() -> None:
    assert [o.id for o in build_options(PollKind.SINGLE, [" A ", "B"])] == ["1", "2"]
    assert build_options(PollKind.YES_NO_ABSTAIN, []) == YES_NO_OPTIONS
    for kind, labels, code in [(PollKind.SINGLE, ["A"], "too_few_options"),
                               (PollKind.SINGLE, ["A", "a"], "duplicate_option"),
                               (PollKind.SINGLE, ["A", ""], "empty_option"),
                               (PollKind.YES_NO_ABSTAIN, ["A", "B"], "options_not_allowed")]:
        with pytest.raises(Refusal) as refused:
            build_options(kind, labels)
        assert refused.value.code == code
    with pytest.raises(Refusal, match="secret ballot cannot be changed"):
        check_definition(PollKind.SINGLE, SINGLE.options, 1, secret=True, allow_change=True)
    with pytest.raises(Refusal):
        check_definition(PollKind.MULTIPLE, SINGLE.options, 4, secret=False, allow_change=False)
    check_transition(PollStatus.DRAFT, PollStatus.OPEN)
    check_transition(PollStatus.CLOSED, PollStatus.CANCELLED)
    for current, target in [(PollStatus.DRAFT, PollStatus.CLOSED),
                            (PollStatus.PUBLISHED, PollStatus.CANCELLED),
                            (PollStatus.CANCELLED, PollStatus.OPEN)]:
        with pytest.raises(Refusal) as refused:
            check_transition(current, target)
        assert refused.value.code == "invalid_poll_status"
    # A closed secret poll goes only to publication (issue #14): no cancel, no reopening.
    check_transition(PollStatus.CLOSED, PollStatus.PUBLISHED, secret=True)
    check_transition(PollStatus.OPEN, PollStatus.CANCELLED, secret=True)
    for target in (PollStatus.CANCELLED, PollStatus.OPEN):
        with pytest.raises(Refusal) as refused:
            check_transition(PollStatus.CLOSED, target, secret=True)
        assert refused.value.code == "secret_poll_closed"


def test_named_lists_follow_vietnamese_order() -> None:
    names = ["Trần Văn Ánh", "Nguyễn Văn An", "Lê Thị Ân", "Vũ Đức", "Ngô Dũng", "Phạm Bảo",
             "Hoàng Ba", "Đỗ Thị Ắc"]
    assert sorted(names, key=name_key) == [
        "Nguyễn Văn An", "Trần Văn Ánh", "Đỗ Thị Ắc", "Lê Thị Ân", "Hoàng Ba", "Phạm Bảo",
        "Ngô Dũng", "Vũ Đức"]


@given(yes=st.integers(0, 50), no=st.integers(0, 50), abstain=st.integers(0, 50),
       majority=st.sampled_from(list(Majority)), counted=st.booleans())
def test_one_more_yes_never_turns_a_decision_down(yes: int, no: int, abstain: int,
                                                  majority: Majority, counted: bool) -> None:
    spec = PollSpec(PollKind.YES_NO_ABSTAIN, YES_NO_OPTIONS, majority=majority,
                    abstentions_count=counted)
    present = everyone_present(151)
    before = tally(spec, ballots(yes=yes, no=no, abstain=abstain), present)
    after = tally(spec, ballots(yes=yes + 1, no=no, abstain=abstain), present)
    assert before.passed <= after.passed
    assert sum(o.votes for o in before.options) == yes + no + abstain == before.weight_cast
    # Percentages never decide: the decision is the exact comparison.
    assert before.passed == satisfies(spec.rule, yes, before.base_votes)
