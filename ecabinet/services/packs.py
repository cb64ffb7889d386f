"""Meeting packs: a folder holding ``meeting.yaml`` (meeting, participants, agenda) and files.

This module reads and validates the YAML into typed specs, reporting every problem at once (with
the line where YAML knows it), and imports a spec in the caller's single transaction.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, select

from ecabinet.domain.roles import MeetingRole
from ecabinet.errors import InvalidInput
from ecabinet.services import accounts
from ecabinet.storage.models import AgendaItem, Body, Meeting, Participant, User

PACK_FILE = "meeting.yaml"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeetingSpec(_Spec):
    title: str = Field(min_length=1, max_length=300)
    body: str | None = None
    place: str = ""
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @field_validator("title", "place", "description")
    @classmethod
    def _nfc(cls, value: str) -> str:
        return nfc(value.strip())


class ParticipantSpec(_Spec):
    user: str = Field(min_length=2, max_length=64)
    full_name: str | None = None
    role: MeetingRole
    vote: bool | None = None
    weight: int = Field(default=1, ge=1, le=1_000_000)
    proxy_holder: str | None = None


class DocumentSpec(_Spec):
    file: str
    title: str | None = None
    confidential: bool = False


class AgendaItemSpec(_Spec):
    title: str = Field(min_length=1, max_length=500)
    presenter: str = ""
    minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    description: str = ""
    confidential: bool = False
    vote: bool = False
    documents: list[DocumentSpec] = []
    items: list[AgendaItemSpec] = []


class PackSpec(_Spec):
    meeting: MeetingSpec
    participants: list[ParticipantSpec] = []
    agenda: list[AgendaItemSpec] = []


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def parse_pack(text: str, *, source: str = PACK_FILE) -> PackSpec:
    """Parse and validate ``meeting.yaml`` text; ``InvalidInput`` lists every problem found."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{source}: YAML không hợp lệ (malformed YAML)",
            code="invalid_pack",
            details=[{"file": source, "line": line, "message": str(exc).splitlines()[0]}],
        ) from None
    try:
        spec = PackSpec.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = [
            {
                "file": source,
                "line": _line_of(node, tuple(err["loc"])),
                "field": ".".join(str(p) for p in err["loc"]),
                "message": err["msg"],
            }
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise InvalidInput(
            f"{source}: {len(problems)} lỗi trong gói họp (problems in the pack)",
            code="invalid_pack",
            details=problems,
        ) from None
    _check_consistency(spec, source)
    return spec


def _check_consistency(spec: PackSpec, source: str) -> None:
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, p in enumerate(spec.participants):
        if p.user in seen:
            problems.append(
                {
                    "file": source,
                    "field": f"participants.{i}.user",
                    "message": f"người dự họp '{p.user}' bị lặp (duplicate participant)",
                }
            )
        seen.add(p.user)
    for i, p in enumerate(spec.participants):
        if p.proxy_holder is not None and p.proxy_holder not in seen:
            problems.append(
                {
                    "file": source,
                    "field": f"participants.{i}.proxy_holder",
                    "message": f"'{p.proxy_holder}' không dự họp (proxy holder not a participant)",
                }
            )

    def walk(items: list[AgendaItemSpec], path: str, depth: int) -> None:
        titles: set[str] = set()
        for i, item in enumerate(items):
            where = f"{path}.{i}"
            if depth > 2 or (depth == 2 and item.items):
                problems.append(
                    {
                        "file": source,
                        "field": where,
                        "message": "chương trình chỉ lồng tối đa 2 cấp (at most two levels)",
                    }
                )
            if item.title in titles:
                problems.append(
                    {
                        "file": source,
                        "field": where,
                        "message": f"mục '{item.title}' bị lặp (duplicate item)",
                    }
                )
            titles.add(item.title)
            walk(item.items, f"{where}.items", depth + 1)

    walk(spec.agenda, "agenda", 1)
    if problems:
        raise InvalidInput(
            f"{source}: {len(problems)} lỗi trong gói họp (problems in the pack)",
            code="invalid_pack",
            details=problems,
        )


def read_pack(folder: Path) -> PackSpec:
    path = folder / PACK_FILE
    if not path.is_file():
        raise InvalidInput(f"Không tìm thấy {PACK_FILE} trong {folder}", code="invalid_pack")
    return parse_pack(path.read_text(encoding="utf-8"), source=PACK_FILE)


def ensure_users(session: Session, spec: PackSpec, password: str) -> list[User]:
    """Create the pack's participants that have no account yet (the demo does this)."""
    created = []
    for p in spec.participants:
        if accounts.get_user(session, p.user) is None:
            created.append(accounts.create_user(session, p.user, password, p.full_name or p.user))
    return created


def import_pack(session: Session, spec: PackSpec) -> Meeting:
    """Create the meeting, its participants and agenda in the caller's transaction."""
    users: dict[str, int] = {}
    unknown = []
    for p in spec.participants:
        user = accounts.get_user(session, p.user)
        if user is None or user.id is None:
            unknown.append(p.user)
        else:
            users[p.user] = user.id
    if unknown:
        raise InvalidInput(
            "Người dùng chưa có tài khoản (unknown users): " + ", ".join(unknown),
            code="unknown_users",
            details=[{"field": "participants", "message": u} for u in unknown],
        )
    body_id = None
    if spec.meeting.body:
        name = nfc(spec.meeting.body.strip())
        body = session.exec(select(Body).where(Body.name == name)).first()
        if body is None:
            body = Body(name=name)
            session.add(body)
            session.flush()
        body_id = body.id
    m = spec.meeting
    meeting = Meeting(
        title=m.title,
        body_id=body_id,
        place=m.place,
        description=m.description,
        starts_at=m.starts_at,
        ends_at=m.ends_at,
    )
    session.add(meeting)
    session.flush()
    assert meeting.id is not None
    rows: dict[str, Participant] = {}
    for p in spec.participants:
        role = MeetingRole(p.role)
        can_vote = (
            p.vote if p.vote is not None else role in (MeetingRole.CHAIR, MeetingRole.DELEGATE)
        )
        row = Participant(
            meeting_id=meeting.id,
            user_id=users[p.user],
            role=role.value,
            can_vote=can_vote,
            vote_weight=p.weight,
        )
        session.add(row)
        rows[p.user] = row
    session.flush()
    for p in spec.participants:
        if p.proxy_holder:
            rows[p.user].proxy_holder_id = rows[p.proxy_holder].id
    _add_items(session, meeting.id, spec.agenda, parent_id=None)
    return meeting


def _add_items(
    session: Session, meeting_id: int, items: list[AgendaItemSpec], parent_id: int | None
) -> None:
    for position, item in enumerate(items):
        row = AgendaItem(
            meeting_id=meeting_id,
            parent_id=parent_id,
            position=position,
            title=nfc(item.title),
            presenter=nfc(item.presenter),
            description=nfc(item.description),
            planned_minutes=item.minutes,
            confidential=item.confidential,
            vote_planned=item.vote,
        )
        session.add(row)
        session.flush()
        _add_items(session, meeting_id, item.items, parent_id=row.id)
