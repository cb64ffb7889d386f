"""The speaker queue's rules: who may be in it, its order, and a reorder's validity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ecabinet.domain.roles import MeetingRole

WAITING = "waiting"
SPEAKING = "speaking"
DONE = "done"
WITHDRAWN = "withdrawn"
REFUSED = "refused"
OPEN = frozenset({WAITING, SPEAKING})
# Observers follow the meeting; secretaries keep its record. Neither takes the floor.
SPEAKER_ROLES = frozenset({MeetingRole.CHAIR, MeetingRole.DELEGATE})


class RequestLike(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def position(self) -> int: ...
    @property
    def status(self) -> str: ...


def may_speak(role: MeetingRole | None) -> bool:
    return role in SPEAKER_ROLES


def waiting_order(requests: Sequence[RequestLike]) -> list[int]:
    """The waiting requests' ids in queue order (position, then arrival)."""
    waiting = [r for r in requests if r.status == WAITING and r.id is not None]
    waiting.sort(key=lambda r: (r.position, r.id or 0))
    return [r.id for r in waiting if r.id is not None]


def reorder_problem(current: Sequence[int], proposed: Sequence[int]) -> str | None:
    """Why ``proposed`` is not a new order of exactly the ``current`` waiting requests."""
    if len(set(proposed)) != len(proposed):
        return "Danh sách có yêu cầu bị lặp (a request is listed twice)."
    if set(proposed) != set(current):
        return (
            "Danh sách chờ đã thay đổi; hãy tải lại rồi sắp xếp lại "
            "(the queue changed: list exactly the waiting requests)."
        )
    return None


def next_position(positions: Sequence[int]) -> int:
    """The position of a new request: after every request already waiting."""
    return max(positions, default=-1) + 1
