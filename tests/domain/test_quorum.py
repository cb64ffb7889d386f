"""The quorum rule, fully: fractions, strictness, weights, proxies and the edge cases."""

from __future__ import annotations

import pytest

from ecabinet.domain.quorum import Member, Quorum, QuorumRule, compute

HALF = QuorumRule()  # more than half: the default
TWO_THIRDS = QuorumRule(2, 3, strict=False)


def members(n: int) -> list[Member]:
    return [Member(i) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("total", "required"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (10, 6), (11, 6), (0, 1)]
)
def test_default_rule_is_more_than_half(total: int, required: int) -> None:
    assert HALF.required(total) == required


@pytest.mark.parametrize(
    ("total", "required"), [(3, 2), (4, 3), (6, 4), (7, 5), (9, 6), (10, 7), (0, 1)]
)
def test_reaching_two_thirds_rounds_up(total: int, required: int) -> None:
    assert TWO_THIRDS.required(total) == required


def test_strict_two_thirds_needs_more_than_the_exact_fraction() -> None:
    strict = QuorumRule(2, 3, strict=True)
    assert strict.required(9) == 7  # 6 is exactly two thirds: not more
    assert strict.required(10) == 7  # 6.67 -> 7 is more


def test_half_is_not_more_than_half() -> None:
    q = compute(members(4), {1, 2})
    assert (q.present, q.required, q.reached) == (2, 3, False)
    q = compute(members(4), {1, 2, 3})
    assert q.reached and q.missing == 0


def test_non_strict_half_is_reached_by_exactly_half() -> None:
    q = compute(members(4), {1, 2}, QuorumRule(1, 2, strict=False))
    assert q.reached


def test_weights_count_not_heads() -> None:
    body = [Member(1, weight=5), Member(2), Member(3), Member(4)]  # total weight 8
    q = compute(body, {1})
    assert (q.total, q.present, q.required) == (8, 5, 5)
    assert q.reached and q.members_present == 1 and q.members_total == 4
    q = compute(body, {2, 3, 4})
    assert (q.present, q.reached, q.missing) == (3, False, 2)


def test_absent_member_with_a_present_proxy_holder_is_represented() -> None:
    body = [Member(1), Member(2), Member(3, proxy_holder_id=1), Member(4), Member(5)]
    q = compute(body, {1, 2})
    assert (q.present, q.represented, q.counted) == (2, 1, 3)
    assert q.reached and q.members_represented == 1


def test_proxy_of_an_absent_holder_counts_nothing() -> None:
    body = [Member(1), Member(2), Member(3, proxy_holder_id=4), Member(4)]
    q = compute(body, {1})
    assert (q.present, q.represented) == (1, 0)


def test_member_present_in_person_is_not_counted_twice() -> None:
    body = [Member(1), Member(2, proxy_holder_id=1), Member(3)]
    q = compute(body, {1, 2})
    assert (q.present, q.represented, q.counted) == (2, 0, 2)


def test_proxies_do_not_chain() -> None:
    # 3 gave to 2, 2 gave to 1; 2 and 3 absent: 2 is represented by 1, 3's holder is absent.
    body = [Member(1), Member(2, proxy_holder_id=1), Member(3, proxy_holder_id=2), Member(4)]
    q = compute(body, {1})
    assert (q.present, q.represented) == (1, 1)


def test_a_non_voting_holder_present_carries_the_proxy() -> None:
    body = [Member(1), Member(2, proxy_holder_id=99)]  # 99: present, but not a voting member
    q = compute(body, {99})
    assert (q.present, q.represented, q.reached) == (0, 1, False)
    q = compute(body, {1, 99})
    assert (q.counted, q.reached) == (2, True)


def test_self_proxy_is_ignored() -> None:
    q = compute([Member(1, proxy_holder_id=1), Member(2)], {2})
    assert q.represented == 0


def test_non_members_present_do_not_count() -> None:
    q = compute(members(3), {7, 8, 9})
    assert q.present == 0 and not q.reached


@pytest.mark.parametrize(
    "rule", [HALF, TWO_THIRDS, QuorumRule(1, 2, strict=False), QuorumRule(0, 1, strict=False)]
)
def test_no_voting_members_never_has_a_quorum(rule: QuorumRule) -> None:
    # Whatever the rule, nobody cannot decide: one weight is required and none can be present.
    assert rule.required(0) == 1
    assert compute([], set(), rule) == Quorum(0, 0, 0, 1, False, 0, 0, 0)
    assert not compute([], {1}, rule).reached
    q = compute([Member(1, weight=0), Member(2, weight=0)], {1, 2}, rule)
    assert (q.total, q.required, q.reached, q.missing) == (0, 1, False, 1)


def test_zero_weight_members_count_as_heads_only() -> None:
    q = compute([Member(1, weight=0), Member(2)], {1})
    assert (q.total, q.present, q.members_present, q.reached) == (1, 0, 1, False)


def test_everyone_present_reaches_any_valid_rule() -> None:
    for rule in (HALF, TWO_THIRDS, QuorumRule(3, 4, strict=True), QuorumRule(1, 1, False)):
        assert compute(members(7), set(range(1, 8)), rule).reached


def test_a_zero_fraction_needs_someone_only_when_strict() -> None:
    assert compute(members(3), set(), QuorumRule(0, 1, strict=False)).reached
    assert not compute(members(3), set(), QuorumRule(0, 1, strict=True)).reached
    assert compute(members(3), {1}, QuorumRule(0, 1, strict=True)).reached


@pytest.mark.parametrize(
    ("numerator", "denominator", "strict"),
    [(1, 0, True), (-1, 2, True), (3, 2, False), (1, 1, True), (2, 2, True)],
)
def test_impossible_rules_are_refused(numerator: int, denominator: int, strict: bool) -> None:
    with pytest.raises(ValueError):
        QuorumRule(numerator, denominator, strict)


def test_bad_member_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        compute([Member(1), Member(1)], set())
    with pytest.raises(ValueError, match="negative"):
        compute([Member(1, weight=-1)], set())


def test_rules_read_in_vietnamese() -> None:
    assert HALF.describe() == "quá 1/2 tổng số thành viên có quyền biểu quyết"
    assert TWO_THIRDS.describe().startswith("ít nhất 2/3")


def test_presence_accepts_any_collection() -> None:
    q = compute(iter(members(3)), frozenset({1, 2}))
    assert q.reached and q.counted == 2
