"""Rules of procedure of a body: its quorum and the majority its votes need by default."""

from __future__ import annotations

from enum import StrEnum


class Majority(StrEnum):
    """Majorities a body may choose as its default (a poll may override it)."""

    SIMPLE_CAST = "simple_cast"  # more yes than half of the votes cast
    SIMPLE_PRESENT = "simple_present"  # more yes than half of the members present
    SIMPLE_MEMBERS = "simple_members"  # more yes than half of all members
    TWO_THIRDS_CAST = "two_thirds_cast"
    TWO_THIRDS_PRESENT = "two_thirds_present"
    TWO_THIRDS_MEMBERS = "two_thirds_members"


MAJORITY_LABELS = {
    Majority.SIMPLE_CAST: "quá nửa số phiếu biểu quyết",
    Majority.SIMPLE_PRESENT: "quá nửa số thành viên có mặt",
    Majority.SIMPLE_MEMBERS: "quá nửa tổng số thành viên",
    Majority.TWO_THIRDS_CAST: "hai phần ba số phiếu biểu quyết",
    Majority.TWO_THIRDS_PRESENT: "hai phần ba số thành viên có mặt",
    Majority.TWO_THIRDS_MEMBERS: "hai phần ba tổng số thành viên",
}


def quorum_needed(members: int, numerator: int, denominator: int, *, strict: bool) -> int:
    """The fewest members present that make a quorum.

    ``strict``: present must exceed ``numerator/denominator`` of the members ("more than half":
    7 of 12); otherwise reach it ("at least two thirds": 8 of 12).
    """
    if members <= 0:
        return 0
    product = members * numerator
    if strict:
        return product // denominator + 1
    return -(-product // denominator)


def has_quorum(
    present: int, members: int, numerator: int, denominator: int, *, strict: bool
) -> bool:
    return members > 0 and present >= quorum_needed(members, numerator, denominator, strict=strict)


def quorum_label(numerator: int, denominator: int, *, strict: bool) -> str:
    """The rule as people read it, e.g. "quá 1/2 số thành viên" or "ít nhất 2/3 số thành viên"."""
    fraction = f"{numerator}/{denominator}"
    return f"{'quá' if strict else 'ít nhất'} {fraction} số thành viên"
