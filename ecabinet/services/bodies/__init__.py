"""Bodies (a committee, a People's Committee, a board), their members and rules of procedure.

Admins create and change bodies and their membership. A member is either a ``member`` (counts
for the quorum) or a ``secretary`` (prepares the body's meetings: a body secretary may create
meetings for the body and import packs for it, see ``bodies.meetings``). Members and admins can
read a body. The quorum rule itself is ``domain.quorum``; this module stores and shows it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ecabinet.core.text import nfc_trimmed
from ecabinet.domain import procedure, quorum
from ecabinet.domain.procedure import Majority
from ecabinet.protocol import Schema
from ecabinet.services import accounts, audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.storage.models import Body, BodyMember, User

MemberRole = Literal["member", "secretary"]


class QuorumRule(Schema):
    """Present members must exceed (``strict``) or reach ``numerator/denominator`` of members."""

    numerator: int = Field(default=1, ge=1, le=100)
    denominator: int = Field(default=2, ge=1, le=100)
    strict: bool = True

    @model_validator(mode="after")
    def _proper(self) -> QuorumRule:
        self.rule()  # the domain refuses a rule that could never be reached (a ValueError)
        return self

    def rule(self) -> quorum.QuorumRule:
        return quorum.QuorumRule(self.numerator, self.denominator, self.strict)


class BodyIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    quorum: QuorumRule = QuorumRule()
    default_majority: Majority = Majority.SIMPLE_CAST


class BodyPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    quorum: QuorumRule | None = None
    default_majority: Majority | None = None


class MemberIn(Schema):
    username: str = Field(min_length=2, max_length=64)
    title: str = Field(default="", max_length=200)
    role: MemberRole = "member"


def require_admin(user: SessionInfo) -> None:
    if not user.is_admin:
        raise Forbidden(
            "Chỉ quản trị viên được quản lý cơ quan (only admins manage bodies).",
            code="admin_required",
        )


def get_body(session: Session, body_id: int) -> Body:
    body = session.get(Body, body_id)
    if body is None:
        raise NotFound(f"Không tìm thấy cơ quan #{body_id}.", code="body_not_found")
    return body


def membership(session: Session, body_id: int, user_id: int) -> BodyMember | None:
    return session.exec(
        select(BodyMember).where(BodyMember.body_id == body_id, BodyMember.user_id == user_id)
    ).first()


def is_body_secretary(session: Session, body_id: int, user_id: int) -> bool:
    row = membership(session, body_id, user_id)
    return row is not None and row.role == "secretary"


def _check_name_free(session: Session, name: str, body_id: int | None = None) -> None:
    other = session.exec(select(Body).where(Body.name == name)).first()
    if other is not None and other.id != body_id:
        raise Conflict(f"Đã có cơ quan tên '{name}' (name taken).", code="body_name_taken")


def majority_label(rule: str) -> str:
    try:
        return procedure.MAJORITY_LABELS[Majority(rule)]
    except ValueError:
        return rule


def body_view(session: Session, body: Body, *, members: bool = True) -> dict[str, Any]:
    assert body.id is not None
    rows = session.exec(
        select(BodyMember, User)
        .join(User, User.id == BodyMember.user_id)  # type: ignore[arg-type]
        .where(BodyMember.body_id == body.id)
        .order_by(BodyMember.id)  # type: ignore[arg-type]
    ).all()
    voting = sum(1 for m, _u in rows if m.role == "member")
    rule = quorum.QuorumRule(body.quorum_numerator, body.quorum_denominator, body.quorum_strict)
    view: dict[str, Any] = {
        "id": body.id,
        "name": body.name,
        "description": body.description,
        "quorum": {
            "numerator": body.quorum_numerator,
            "denominator": body.quorum_denominator,
            "strict": body.quorum_strict,
            "label": rule.describe(),
            "members": voting,
            "needed": rule.required(voting),  # members count one each in the body's rule
        },
        "default_majority": body.default_majority,
        "default_majority_label": majority_label(body.default_majority),
        "member_count": len(rows),
    }
    if members:
        view["members"] = [
            {
                "user_id": u.id,
                "username": u.username,
                "full_name": u.full_name,
                "title": m.title,
                "role": m.role,
            }
            for m, u in rows
        ]
    return view


def list_bodies(session: Session, user: SessionInfo) -> list[dict[str, Any]]:
    """Admins see every body; other users the bodies they belong to."""
    query = select(Body).order_by(col(Body.name))
    if not user.is_admin:
        query = query.join(BodyMember, col(BodyMember.body_id) == col(Body.id)).where(
            BodyMember.user_id == user.user_id
        )
    return [body_view(session, b, members=False) for b in session.exec(query).all()]


def read_body(session: Session, user: SessionInfo, body_id: int) -> dict[str, Any]:
    body = get_body(session, body_id)
    if not user.is_admin and membership(session, body_id, user.user_id) is None:
        # Outsiders learn nothing, not even that the body exists.
        raise NotFound(f"Không tìm thấy cơ quan #{body_id}.", code="body_not_found")
    return body_view(session, body)


def create_body(session: Session, user: SessionInfo, data: BodyIn) -> dict[str, Any]:
    require_admin(user)
    name = nfc_trimmed(data.name)
    _check_name_free(session, name)
    body = Body(
        name=name,
        description=nfc_trimmed(data.description),
        quorum_numerator=data.quorum.numerator,
        quorum_denominator=data.quorum.denominator,
        quorum_strict=data.quorum.strict,
        default_majority=data.default_majority.value,
    )
    session.add(body)
    session.flush()
    return body_view(session, body)


def update_body(
    session: Session, user: SessionInfo, body_id: int, data: BodyPatch
) -> dict[str, Any]:
    require_admin(user)
    body = get_body(session, body_id)
    if data.name is not None:
        name = nfc_trimmed(data.name)
        _check_name_free(session, name, body_id)
        body.name = name
    if data.description is not None:
        body.description = nfc_trimmed(data.description)
    if data.quorum is not None:
        body.quorum_numerator = data.quorum.numerator
        body.quorum_denominator = data.quorum.denominator
        body.quorum_strict = data.quorum.strict
    if data.default_majority is not None:
        body.default_majority = data.default_majority.value
    session.add(body)
    session.flush()
    return body_view(session, body)


def add_member(session: Session, user: SessionInfo, body_id: int, data: MemberIn) -> dict[str, Any]:
    """Add a user to the body, or change the title and role of one who is already a member."""
    require_admin(user)
    body = get_body(session, body_id)
    account = accounts.get_user(session, data.username)
    if account is None or account.id is None:
        raise InvalidInput(
            f"Không có tài khoản '{data.username}' (unknown user).",
            code="unknown_user",
            details={"username": data.username},
        )
    row = membership(session, body_id, account.id) or BodyMember(
        body_id=body_id, user_id=account.id
    )
    before = row.role if row.id is not None else None
    row.title = nfc_trimmed(data.title)
    row.role = data.role
    session.add(row)
    session.flush()
    if before != row.role:
        audit.record(session, audit.ROLE_CHANGED, actor_id=user.user_id, subject=f"body:{body_id}",
                     details={"change": "member_role", "user_id": account.id,
                              "username": account.username, "before": before, "after": row.role})
    return body_view(session, body)


def remove_member(
    session: Session, user: SessionInfo, body_id: int, username: str
) -> dict[str, Any]:
    require_admin(user)
    body = get_body(session, body_id)
    account = accounts.get_user(session, username)
    row = membership(session, body_id, account.id) if account and account.id else None
    if row is None:
        raise NotFound(
            f"'{username}' không phải thành viên của cơ quan này (not a member).",
            code="member_not_found",
        )
    session.delete(row)
    session.flush()
    audit.record(session, audit.ROLE_CHANGED, actor_id=user.user_id, subject=f"body:{body_id}",
                 details={"change": "member_removed", "user_id": row.user_id,
                          "username": username, "before": row.role, "after": None})
    return body_view(session, body)


def find_body_by_name(session: Session, name: str) -> Body | None:
    return session.exec(select(Body).where(Body.name == nfc_trimmed(name))).first()
