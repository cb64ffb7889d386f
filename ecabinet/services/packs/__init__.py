"""Meeting packs: a folder holding ``meeting.yaml`` (meeting, participants, agenda) and files.

This module reads and validates the YAML into typed specs, reporting every problem at once (with
the file and line where there is one), and imports a spec in the caller's single transaction.
Opening zips, preparing the files and exporting live in services/pack_io.py.

The format (every text field is normalised to NFC)::

    meeting:
      title: ...                      # required
      body: Ủy ban nhân dân tỉnh ...  # by name
      place: ..., description: ...
      starts_at: 2026-12-03T08:00:00+07:00
      ends_at: 2026-12-03T11:30:00+07:00
    participants:
      - {user: chutich, full_name: Nguyễn Văn An, role: chair}        # chair, secretary,
      - {user: daibieu1, role: delegate, vote: true, weight: 1}         # delegate, observer
      - {user: daibieu2, role: delegate, proxy_holder: daibieu1}
    documents:                        # meeting documents on no agenda item
      - {file: documents/phu-luc.pdf, title: Phụ lục}
    agenda:
      - title: ...
        presenter: ..., minutes: 30, description: ..., confidential: false, vote: true
        documents:
          - {file: documents/to-trinh.pdf, title: Tờ trình, confidential: false}
        items:                        # one more level at most
          - title: ...
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, select

from ecabinet.core.errors import InvalidInput
from ecabinet.domain.roles import MeetingRole
from ecabinet.services import accounts
from ecabinet.storage.models import AgendaItem, Body, Meeting, Participant, User

if TYPE_CHECKING:
    from ecabinet.services.documents import PreparedFile

PACK_FILE = "meeting.yaml"
Loc = tuple[str | int, ...]


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

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-03T08:00:00+07:00")
        return value


class ParticipantSpec(_Spec):
    user: str = Field(min_length=2, max_length=64)
    full_name: str | None = None
    role: MeetingRole
    vote: bool | None = None
    weight: int = Field(default=1, ge=1, le=1_000_000)
    proxy_holder: str | None = None


class DocumentSpec(_Spec):
    file: str = Field(min_length=1, max_length=500)
    title: str | None = Field(default=None, max_length=300)
    confidential: bool = False

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(nfc(value.strip()).replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError("a path inside the pack, such as documents/to-trinh.pdf")
        return str(path)


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
    documents: list[DocumentSpec] = []
    agenda: list[AgendaItemSpec] = []


class LoadedPack:
    """A parsed ``meeting.yaml``: the spec and the YAML tree that knows every value's line."""

    def __init__(self, spec: PackSpec, node: yaml.Node | None, source: str) -> None:
        self.spec = spec
        self.node = node
        self.source = source

    def problem(self, loc: Loc, message: str, **extra: Any) -> dict[str, Any]:
        return {
            "file": self.source,
            "line": _line_of(self.node, loc),
            "field": ".".join(str(p) for p in loc),
            "message": message,
            **extra,
        }


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


def pack_error(problems: list[dict[str, Any]], source: str = PACK_FILE) -> InvalidInput:
    """One error that lists every problem found."""
    problems.sort(key=lambda p: (p.get("line") or 0, p.get("field", "")))
    return InvalidInput(
        f"{source}: {len(problems)} lỗi trong gói họp (problems in the pack)",
        code="invalid_pack",
        details=problems,
    )


def load_pack(text: str, *, source: str = PACK_FILE) -> LoadedPack:
    """Parse and validate the schema; ``InvalidInput`` lists every schema problem with its line.

    Consistency (duplicates, proxies, depth) is checked by ``consistency_problems``.
    """
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
    if data is not None and not isinstance(data, dict):
        raise InvalidInput(
            f"{source}: cần một bảng với khóa 'meeting' (expected a mapping)",
            code="invalid_pack",
            details=[{"file": source, "line": 1, "message": "expected a mapping at the top"}],
        )
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
        raise pack_error(problems, source) from None
    return LoadedPack(spec, node, source)


def document_specs(spec: PackSpec) -> Iterator[tuple[Loc, DocumentSpec, AgendaItemSpec | None]]:
    """Every document entry with its location in the YAML and its agenda item (None: meeting)."""
    for i, doc in enumerate(spec.documents):
        yield ("documents", i), doc, None

    def walk(
        items: list[AgendaItemSpec], path: Loc
    ) -> Iterator[tuple[Loc, DocumentSpec, AgendaItemSpec | None]]:
        for i, item in enumerate(items):
            for j, doc in enumerate(item.documents):
                yield (*path, i, "documents", j), doc, item
            yield from walk(item.items, (*path, i, "items"))

    yield from walk(spec.agenda, ("agenda",))


def consistency_problems(pack: LoadedPack) -> list[dict[str, Any]]:
    """Duplicate participants or items, unknown proxy holders, chains, too deep an agenda."""
    spec = pack.spec
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, p in enumerate(spec.participants):
        if p.user.strip().lower() in seen:
            problems.append(
                pack.problem(
                    ("participants", i, "user"),
                    f"người dự họp '{p.user}' bị lặp (duplicate participant)",
                )
            )
        seen.add(p.user.strip().lower())
    by_user = {p.user.strip().lower(): p for p in spec.participants}
    for i, p in enumerate(spec.participants):
        if p.proxy_holder is None:
            continue
        holder = by_user.get(p.proxy_holder.strip().lower())
        loc: Loc = ("participants", i, "proxy_holder")
        if holder is None:
            problems.append(
                pack.problem(
                    loc, f"'{p.proxy_holder}' không dự họp (proxy holder not a participant)"
                )
            )
        elif holder is p:
            problems.append(pack.problem(loc, "không thể tự ủy quyền (no self-proxy)"))
        elif holder.proxy_holder is not None:
            problems.append(
                pack.problem(loc, f"'{p.proxy_holder}' đã ủy quyền cho người khác (no chains)")
            )

    def walk(items: list[AgendaItemSpec], path: Loc, depth: int) -> None:
        titles: set[str] = set()
        for i, item in enumerate(items):
            where: Loc = (*path, i)
            if depth > 2 or (depth == 2 and item.items):
                problems.append(
                    pack.problem(where, "chương trình chỉ lồng tối đa 2 cấp (at most two levels)")
                )
            title = nfc(item.title.strip())
            if title in titles:
                problems.append(
                    pack.problem((*where, "title"), f"mục '{item.title}' bị lặp (duplicate item)")
                )
            titles.add(title)
            files: set[str] = set()
            for j, doc in enumerate(item.documents):
                if doc.file in files:
                    problems.append(
                        pack.problem(
                            (*where, "documents", j, "file"),
                            f"tệp '{doc.file}' bị lặp trong mục (duplicate document)",
                        )
                    )
                files.add(doc.file)
            walk(item.items, (*where, "items"), depth + 1)

    walk(spec.agenda, ("agenda",), 1)
    meeting_files: set[str] = set()
    for j, doc in enumerate(spec.documents):
        if doc.file in meeting_files:
            problems.append(
                pack.problem(
                    ("documents", j, "file"), f"tệp '{doc.file}' bị lặp (duplicate document)"
                )
            )
        meeting_files.add(doc.file)
    m = spec.meeting
    if m.starts_at and m.ends_at and m.ends_at <= m.starts_at:
        problems.append(
            pack.problem(("meeting", "ends_at"), "giờ kết thúc phải sau giờ bắt đầu (ends_at)")
        )
    return problems


def file_problems(pack: LoadedPack, folder: Path) -> list[dict[str, Any]]:
    """Document files that are missing from the pack folder (or lead outside it)."""
    root = folder.resolve()
    problems = []
    for loc, doc, _item in document_specs(pack.spec):
        path = (folder / doc.file).resolve()
        if not path.is_relative_to(root):
            problems.append(pack.problem((*loc, "file"), f"'{doc.file}' nằm ngoài gói (outside)"))
        elif not path.is_file():
            problems.append(
                pack.problem(
                    (*loc, "file"),
                    f"không tìm thấy tệp '{doc.file}' (missing file)",
                    document=doc.file,
                )
            )
    return problems


def user_problems(session: Session, pack: LoadedPack) -> list[dict[str, Any]]:
    """Participants that have no account."""
    return [
        pack.problem(
            ("participants", i, "user"),
            f"người dùng '{p.user}' chưa có tài khoản (unknown user)",
        )
        for i, p in enumerate(pack.spec.participants)
        if accounts.get_user(session, p.user) is None
    ]


def parse_pack(text: str, *, source: str = PACK_FILE) -> PackSpec:
    """Parse and validate ``meeting.yaml`` text; ``InvalidInput`` lists every problem found."""
    pack = load_pack(text, source=source)
    problems = consistency_problems(pack)
    if problems:
        raise pack_error(problems, source)
    return pack.spec


def read_pack(folder: Path) -> PackSpec:
    return read_loaded(folder).spec


def read_loaded(folder: Path) -> LoadedPack:
    """``meeting.yaml`` of a pack folder, schema-checked (see ``check_pack`` for the rest)."""
    path = folder / PACK_FILE
    if not path.is_file():
        raise InvalidInput(
            f"Không tìm thấy {PACK_FILE} trong gói (no {PACK_FILE} in the pack).",
            code="invalid_pack",
            details=[{"file": PACK_FILE, "line": None, "message": "missing file"}],
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{PACK_FILE} phải là văn bản UTF-8 (must be UTF-8 text).",
            code="invalid_pack",
            details=[{"file": PACK_FILE, "line": None, "message": "not UTF-8"}],
        ) from None
    return load_pack(text, source=PACK_FILE)


def ensure_users(session: Session, spec: PackSpec, password: str) -> list[User]:
    """Create the pack's participants that have no account yet (the demo does this)."""
    created = []
    for p in spec.participants:
        if accounts.get_user(session, p.user) is None:
            created.append(accounts.create_user(session, p.user, password, p.full_name or p.user))
    return created


def find_or_create_body(session: Session, name: str, *, create: bool) -> Body | None:
    name = nfc(name.strip())
    body = session.exec(select(Body).where(Body.name == name)).first()
    if body is None and create:
        body = Body(name=name)
        session.add(body)
        session.flush()
    return body


def import_pack(
    session: Session,
    spec: PackSpec,
    prepared: Mapping[str, PreparedFile] | None = None,
    *,
    uploaded_by: int | None = None,
    create_body: bool = True,
) -> Meeting:
    """Create the meeting, its participants, agenda and documents in the caller's transaction.

    ``prepared`` maps each document's ``file`` to its stored, sanitised file (services/pack_io);
    without it the documents are left out. Raises ``InvalidInput`` listing unknown users.
    """
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
        body = find_or_create_body(session, spec.meeting.body, create=create_body)
        if body is None:
            raise InvalidInput(
                f"Không có cơ quan '{spec.meeting.body}' (unknown body).",
                code="invalid_pack",
                details=[{"field": "meeting.body", "message": "unknown body"}],
            )
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
    lower = {u.strip().lower(): row for u, row in rows.items()}
    for p in spec.participants:
        if p.proxy_holder:
            rows[p.user].proxy_holder_id = lower[p.proxy_holder.strip().lower()].id
    items = _add_items(session, meeting.id, spec.agenda, parent_id=None)
    if prepared is not None:
        from ecabinet.services.packs.transfer import attach_prepared

        attach_prepared(session, meeting, spec, items, prepared, uploaded_by=uploaded_by)
    return meeting


def _add_items(
    session: Session, meeting_id: int, items: list[AgendaItemSpec], parent_id: int | None
) -> dict[int, AgendaItem]:
    """Create the items; return them keyed by ``id()`` of their spec."""
    made: dict[int, AgendaItem] = {}
    for position, item in enumerate(items):
        row = AgendaItem(
            meeting_id=meeting_id,
            parent_id=parent_id,
            position=position,
            title=nfc(item.title.strip()),
            presenter=nfc(item.presenter.strip()),
            description=nfc(item.description.strip()),
            planned_minutes=item.minutes,
            confidential=item.confidential,
            vote_planned=item.vote,
        )
        session.add(row)
        session.flush()
        made[id(item)] = row
        made.update(_add_items(session, meeting_id, item.items, parent_id=row.id))
    return made
