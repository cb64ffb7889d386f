"""Who may open which screen, and what each screen starts from.

The browser pages are shells around the live data; what they need from the server is who the
reader is in the meeting, and whether they may open that screen at all: the delegate tablet for
anyone who may read the meeting, the chair console for its chair and secretaries (and admins),
the preparation page for its secretaries and chair (read-only for the chair) and admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session

from ecabinet.core.errors import Forbidden
from ecabinet.protocol.roles import CHAIR_AND_SECRETARY
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor, load_actor
from ecabinet.services.meetings import list_my_meetings
from ecabinet.storage.models import Meeting

Face = Literal["tablet", "chair", "prepare"]


@dataclass(frozen=True)
class Screen:
    meeting: Meeting
    actor: Actor
    role: str | None  # the reader's role in the meeting (None: an admin from outside)
    can_edit: bool  # the preparation page: may change the meeting, not only read it


def open_screen(session: Session, user: SessionInfo, meeting_id: int, face: Face) -> Screen:
    """The meeting as ``user`` opens it on ``face``; ``meeting_not_found`` for those who may
    not see the meeting, ``forbidden_role`` for a screen that is not theirs."""
    meeting, actor = load_actor(session, user, meeting_id)
    role = actor.role.value if actor.role else None
    if face == "chair" and not (role in CHAIR_AND_SECRETARY or actor.is_admin):
        raise Forbidden(
            "Chỉ chủ tọa và thư ký mở được bàn điều khiển (only the chair and secretaries).",
            code="forbidden_role",
        )
    if face == "prepare" and not (actor.is_admin or role in ("secretary", "chair")):
        raise Forbidden(
            "Chỉ thư ký chuẩn bị được cuộc họp (only secretaries prepare meetings).",
            code="forbidden_role",
        )
    return Screen(meeting, actor, role, actor.is_admin or role == "secretary")


def home(session: Session, user: SessionInfo) -> dict[str, Any]:
    """The reader's meetings in session, upcoming and past (the latest first), and whether
    they prepare meetings at all."""
    meetings = list_my_meetings(session, user.user_id, is_admin=user.is_admin)
    groups = {
        "in_session": [m for m in meetings if m["status"] == "in_session"],
        "upcoming": [m for m in meetings if m["status"] in ("draft", "published")],
        "past": [m for m in meetings if m["status"] in ("closed", "archived")],
    }
    groups["past"].reverse()
    can_prepare = user.is_admin or any(m["role"] == "secretary" for m in meetings)
    return {"groups": groups, "can_prepare": can_prepare}


def meetings_to_prepare(session: Session, user: SessionInfo) -> list[dict[str, Any]]:
    """The meetings ``user`` prepares: as their secretary, or all of theirs for an admin."""
    meetings = list_my_meetings(session, user.user_id, is_admin=user.is_admin)
    return [m for m in meetings if user.is_admin or m["role"] == "secretary"]
