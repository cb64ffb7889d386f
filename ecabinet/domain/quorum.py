"""The quorum: are enough voting members present (or represented) for the body to decide?

The body's rule is a fraction of all voting members' weight that the members present must
exceed (``strict``, the default "more than half") or reach. Decisions taken here:

- Only voting members count, each with their weight (one member, one vote by default).
- A member who is absent but gave a proxy to a participant who *is* present counts as
  represented: their weight is added to the present weight. Proxies do not chain (an absent
  holder passes nothing on), and a member present in person never counts twice.
- No members, no quorum: a body or meeting whose voting members weigh nothing in total (none at
  all, or only members of weight 0) can never reach one, whatever its rule, because there is
  nobody to decide. ``required`` is then 1, a weight that cannot be present, so the one
  comparison ``counted >= required`` gives the answer everywhere (the body's page, the live
  quorum, the poll's check) and no caller needs a special case.
- Excused members are still members: being excused does not lower the required number.

This module is the one implementation of the quorum (the body's page, the attendance view and
the polls all use it); the majorities a vote needs are in ``domain.voting``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from fractions import Fraction

from ecabinet.domain.thresholds import fewest


@dataclass(frozen=True)
class QuorumRule:
    """Present weight must exceed (strict) or reach ``numerator/denominator`` of the total."""

    numerator: int = 1
    denominator: int = 2
    strict: bool = True

    def __post_init__(self) -> None:
        if self.denominator < 1 or self.numerator < 0 or self.numerator > self.denominator:
            raise ValueError(
                f"quorum fraction {self.numerator}/{self.denominator} must lie between 0 and 1"
            )
        if self.strict and self.numerator == self.denominator:
            raise ValueError("a strict quorum of the whole body can never be reached")

    def required(self, total: int) -> int:
        """The smallest present weight that satisfies the rule for ``total`` voting weight.

        With no voting weight (``total`` 0) the quorum cannot be reached: the answer is 1.
        """
        return fewest(Fraction(self.numerator, self.denominator), total, strict=self.strict)

    def describe(self) -> str:
        """The rule as people read it in the minutes."""
        fraction = f"{self.numerator}/{self.denominator}"
        if self.strict:
            return f"quá {fraction} tổng số thành viên có quyền biểu quyết"
        return f"ít nhất {fraction} tổng số thành viên có quyền biểu quyết"


@dataclass(frozen=True)
class Member:
    """A voting member: their participant id, vote weight and, when given, the proxy holder."""

    participant_id: int
    weight: int = 1
    proxy_holder_id: int | None = None


@dataclass(frozen=True)
class Quorum:
    total: int  # weight of all voting members
    present: int  # weight of voting members present in person
    represented: int  # weight of absent members whose proxy holder is present
    required: int
    reached: bool
    members_total: int
    members_present: int
    members_represented: int

    @property
    def counted(self) -> int:
        return self.present + self.represented

    @property
    def missing(self) -> int:
        """How much more weight the quorum needs (0 once reached)."""
        return 0 if self.reached else max(0, self.required - self.counted)


def compute(
    members: Iterable[Member], present_ids: Collection[int], rule: QuorumRule | None = None
) -> Quorum:
    """The quorum of ``members`` (voting members only) when ``present_ids`` are present.

    ``present_ids`` holds the participant ids present in person, voting or not: a proxy holder
    need not be a voting member to carry a vote.
    """
    rule = rule or QuorumRule()
    seen: set[int] = set()
    total = present = represented = 0
    heads_present = heads_represented = heads = 0
    for member in members:
        if member.participant_id in seen:
            raise ValueError(f"member {member.participant_id} listed twice")
        if member.weight < 0:
            raise ValueError(f"member {member.participant_id} has a negative weight")
        seen.add(member.participant_id)
        heads += 1
        total += member.weight
        if member.participant_id in present_ids:
            present += member.weight
            heads_present += 1
        elif (
            member.proxy_holder_id is not None
            and member.proxy_holder_id != member.participant_id
            and member.proxy_holder_id in present_ids
        ):
            represented += member.weight
            heads_represented += 1
    required = rule.required(total)
    reached = present + represented >= required  # never with total 0: required is then 1
    return Quorum(
        total=total,
        present=present,
        represented=represented,
        required=required,
        reached=reached,
        members_total=heads,
        members_present=heads_present,
        members_represented=heads_represented,
    )
