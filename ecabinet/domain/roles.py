"""Roles and the permission predicates that depend only on them."""

from __future__ import annotations

from enum import StrEnum


class MeetingRole(StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    DELEGATE = "delegate"
    OBSERVER = "observer"


class MeetingStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    IN_SESSION = "in_session"
    CLOSED = "closed"
    ARCHIVED = "archived"


STAFF_ROLES = frozenset({MeetingRole.CHAIR, MeetingRole.SECRETARY})


def can_edit_meeting(role: MeetingRole | None, *, is_admin: bool) -> bool:
    """Secretaries and admins prepare a meeting; nobody else changes its pack."""
    return is_admin or role is MeetingRole.SECRETARY


def can_read_meeting(role: MeetingRole | None, status: MeetingStatus, *, is_admin: bool) -> bool:
    """Staff read drafts; delegates and observers see a meeting once it is published."""
    if is_admin or role in STAFF_ROLES:
        return True
    if role is None:
        return False
    return status is not MeetingStatus.DRAFT


def can_see_confidential(role: MeetingRole | None, *, is_admin: bool) -> bool:
    """Observers never see confidential items or documents."""
    return is_admin or (role is not None and role is not MeetingRole.OBSERVER)
