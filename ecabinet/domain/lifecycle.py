"""The meeting lifecycle: draft → published → in session → closed → archived.

An archived meeting is read-only: its agenda, documents, participants, polls and annotations no
longer change. ``check_editable`` is the one place that says so; every service that changes a
meeting's content calls it. A closed meeting still takes minutes and corrections. What happens
live in the room (the current item, presenting, the speaker queue, the timer, opening a poll and
voting) needs the meeting in session: ``check_in_session``.
"""

from __future__ import annotations

from ecabinet.core.errors import Conflict
from ecabinet.domain.roles import MeetingStatus

S = MeetingStatus
TRANSITIONS: dict[MeetingStatus, frozenset[MeetingStatus]] = {
    S.DRAFT: frozenset({S.PUBLISHED}),
    S.PUBLISHED: frozenset({S.IN_SESSION, S.DRAFT}),
    S.IN_SESSION: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.ARCHIVED, S.IN_SESSION}),
    S.ARCHIVED: frozenset(),
}
LABELS = {
    S.DRAFT: "bản nháp",
    S.PUBLISHED: "đã phát hành",
    S.IN_SESSION: "đang họp",
    S.CLOSED: "đã kết thúc",
    S.ARCHIVED: "đã lưu trữ",
}


def transition_problem(
    current: MeetingStatus, target: MeetingStatus, *, has_chair: bool = True
) -> str | None:
    """Why ``current`` cannot become ``target``, or None when it can."""
    if target not in TRANSITIONS[current]:
        return (
            f"Không thể chuyển cuộc họp từ '{LABELS[current]}' sang '{LABELS[target]}' "
            f"({current.value} → {target.value} is not allowed)."
        )
    if target in (S.PUBLISHED, S.IN_SESSION) and not has_chair:
        return "Cuộc họp phải có chủ tọa trước khi phát hành (a meeting needs a chair)."
    return None


def is_editable(status: MeetingStatus | str) -> bool:
    """Archived meetings are frozen; closed ones still take minutes and corrections."""
    return MeetingStatus(status) is not S.ARCHIVED


def check_editable(status: MeetingStatus | str) -> None:
    """Refuse (``meeting_archived``) to change a meeting in ``status`` when it is archived."""
    if not is_editable(status):
        raise Conflict(
            "Cuộc họp đã lưu trữ, không thể sửa (archived meetings are read-only).",
            code="meeting_archived",
            details={"status": MeetingStatus(status).value},
        )


def check_in_session(status: MeetingStatus | str) -> None:
    """Refuse (``meeting_not_in_session``) what only a meeting in session does."""
    if MeetingStatus(status) is not S.IN_SESSION:
        raise Conflict(
            "Cuộc họp chưa bắt đầu hoặc đã kết thúc (the meeting is not in session).",
            code="meeting_not_in_session",
        )
