"""Proxies: a delegate with a voting right carries the vote of another who is absent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Voter:
    """What the proxy rules need to know about a participant."""

    id: int
    can_vote: bool
    proxy_holder_id: int | None


def proxy_problem(participants: Sequence[Voter], giver_id: int, holder_id: int) -> str | None:
    """Why ``holder_id`` cannot carry ``giver_id``'s vote, or None when it can.

    Rules: both have a voting right; nobody carries their own vote; no chains (a holder has not
    given their own vote away, and a giver carries nobody else's vote).
    """
    by_id = {p.id: p for p in participants}
    giver, holder = by_id.get(giver_id), by_id.get(holder_id)
    if giver is None or holder is None:
        return "Người được ủy quyền không dự cuộc họp này (proxy holder is not a participant)."
    if giver_id == holder_id:
        return "Không thể tự ủy quyền cho chính mình (no self-proxy)."
    if not giver.can_vote:
        return "Người ủy quyền không có quyền biểu quyết (the giver has no voting right)."
    if not holder.can_vote:
        return "Người nhận ủy quyền phải có quyền biểu quyết (the holder must be a voter)."
    if holder.proxy_holder_id is not None:
        return (
            "Người nhận đã ủy quyền cho người khác, không được ủy quyền tiếp "
            "(no proxy chains: the holder has given their own vote away)."
        )
    if any(p.proxy_holder_id == giver_id for p in participants):
        return (
            "Người ủy quyền đang giữ phiếu của người khác, không được ủy quyền tiếp "
            "(no proxy chains: the giver carries someone else's vote)."
        )
    return None
