"""Rules of procedure of a body: the majority its votes need by default.

The other rule of procedure, the quorum, is ``domain.quorum``; how a vote is counted against a
majority, ``domain.voting``.
"""

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
