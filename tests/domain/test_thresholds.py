"""More than, or at least, a fraction: the arithmetic quorums and majorities share."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ecabinet.domain.thresholds import fewest

HALF, TWO_THIRDS = Fraction(1, 2), Fraction(2, 3)


@pytest.mark.parametrize(
    ("threshold", "whole", "strict", "needed"),
    [
        (HALF, 10, True, 6),  # more than half of 10
        (HALF, 10, False, 5),  # at least half
        (HALF, 11, True, 6),
        (TWO_THIRDS, 9, False, 6),  # exactly two thirds reaches
        (TWO_THIRDS, 9, True, 7),  # but does not exceed
        (TWO_THIRDS, 10, False, 7),
        (Fraction(0), 5, False, 0),  # a zero fraction is reached by nobody
        (Fraction(0), 5, True, 1),
        (Fraction(1), 5, False, 5),
    ],
)
def test_fewest(threshold: Fraction, whole: int, strict: bool, needed: int) -> None:
    assert fewest(threshold, whole, strict=strict) == needed


@pytest.mark.parametrize("threshold", [Fraction(0), HALF, TWO_THIRDS, Fraction(1)])
@pytest.mark.parametrize("strict", [True, False])
def test_nothing_is_never_enough(threshold: Fraction, strict: bool) -> None:
    assert fewest(threshold, 0, strict=strict) == 1


@pytest.mark.parametrize("whole", range(1, 40))
@pytest.mark.parametrize("threshold", [HALF, TWO_THIRDS, Fraction(3, 4)])
def test_the_answer_is_the_exact_boundary(whole: int, threshold: Fraction) -> None:
    def passes(count: int, strict: bool) -> bool:
        return count > threshold * whole if strict else count >= threshold * whole

    for strict in (True, False):
        needed = fewest(threshold, whole, strict=strict)
        assert passes(needed, strict) and not passes(needed - 1, strict)
