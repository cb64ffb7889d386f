"""More than, or at least, a fraction of a whole: the one arithmetic of quorums and majorities.

"Quá 1/2" (strictly more than half) and "ít nhất 2/3" (at least two thirds) are counted the same
way whether the whole is the members' weight (``domain.quorum``) or the votes that count
(``domain.voting``). Exact fractions: a float would misjudge two thirds of 9.
"""

from __future__ import annotations

from fractions import Fraction


def fewest(threshold: Fraction, whole: int, *, strict: bool) -> int:
    """The smallest whole number that exceeds (``strict``) or reaches ``threshold`` of ``whole``.

    A whole of 0 (nobody, no votes) is never enough, whatever the threshold: the answer is then
    1, a count that cannot be found in nothing, so ``count >= fewest(...)`` is false.
    """
    if whole <= 0:
        return 1
    exact = threshold * whole
    if strict:
        return exact.numerator // exact.denominator + 1
    return -(-exact.numerator // exact.denominator)
