"""The pack format: ``meeting.yaml`` (meeting, participants, agenda) and the files it names.

This module reads and validates the YAML into typed specs, reporting every problem at once (with
the file and line where there is one). Importing a spec is ``packs.importing``; opening zips,
preparing the files and exporting, ``packs.transfer``.

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

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session

from ecabinet.core.errors import InvalidInput
from ecabinet.core.text import nfc_trimmed
from ecabinet.core.validation import TrimmedText
from ecabinet.domain.proxies import Voter
from ecabinet.domain.roles import MeetingRole
from ecabinet.services import accounts
from ecabinet.services.meetings.participants import (
    ProxyRequest,
    Username,
    VoteWeight,
    participant_refusals,
    resolve_vote,
)
from ecabinet.services.packs.yaml_loader import MAX_YAML_BYTES, load_yaml, too_large

PACK_FILE = "meeting.yaml"
Loc = tuple[str | int, ...]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MeetingSpec(_Spec):
    title: TrimmedText = Field(min_length=1, max_length=300)
    body: str | None = None
    place: TrimmedText = ""
    description: TrimmedText = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-03T08:00:00+07:00")
        return value


class ParticipantSpec(_Spec):
    user: Username
    full_name: str | None = None
    role: MeetingRole
    vote: bool | None = None
    weight: VoteWeight = 1
    proxy_holder: str | None = None


class DocumentSpec(_Spec):
    file: str = Field(min_length=1, max_length=500)
    title: str | None = Field(default=None, max_length=300)
    confidential: bool = False

    @field_validator("file")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(nfc_trimmed(value).replace("\\", "/"))
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

    The YAML is read within limits (size, no anchors or aliases, depth: ``yaml_loader``).
    Consistency (duplicates, participant rules, agenda depth) is checked by
    ``consistency_problems``.
    """
    node, data = load_yaml(text, source)
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


# Where each kind of participant refusal points in ``meeting.yaml``.
_REFUSAL_FIELD = {"vote": "vote", "proxy": "proxy_holder"}


def participant_problems(pack: LoadedPack) -> list[dict[str, Any]]:
    """The participants API's own rules (services/meetings/participants), applied to every
    participant as the import would create them: no observer with a vote, proxies only between
    voters of the pack, no self-proxy, no chains. Same checks, same words as the API."""
    people = pack.spec.participants
    ids: dict[str, int] = {}
    for i, p in enumerate(people):
        ids.setdefault(p.user.strip().lower(), i + 1)

    def holder_id(name: str | None) -> int | None:
        # 0 is nobody: a holder who is not in the pack is "not a participant".
        return None if name is None else ids.get(name.strip().lower(), 0)

    voters = [
        Voter(i + 1, resolve_vote(p.role, p.vote), holder_id(p.proxy_holder))
        for i, p in enumerate(people)
    ]
    problems = []
    for i, p in enumerate(people):
        holder = holder_id(p.proxy_holder)
        request = None if holder is None else ProxyRequest(voters, i + 1, holder)
        for refusal in participant_refusals(p.role, resolve_vote(p.role, p.vote), request):
            message = refusal.message
            if refusal.about == "proxy":
                message = f"'{p.proxy_holder}': {message}"
            loc: Loc = ("participants", i, _REFUSAL_FIELD[refusal.about])
            problems.append(pack.problem(loc, message, code=refusal.code))
    return problems


def consistency_problems(pack: LoadedPack) -> list[dict[str, Any]]:
    """Duplicate participants or items, the participant rules (votes, proxies), too deep an
    agenda."""
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
    problems += participant_problems(pack)

    def walk(items: list[AgendaItemSpec], path: Loc, depth: int) -> None:
        titles: set[str] = set()
        for i, item in enumerate(items):
            where: Loc = (*path, i)
            if depth > 2 or (depth == 2 and item.items):
                problems.append(
                    pack.problem(where, "chương trình chỉ lồng tối đa 2 cấp (at most two levels)")
                )
            title = nfc_trimmed(item.title)
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
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise too_large(PACK_FILE, size)  # before a byte of it is read
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{PACK_FILE} phải là văn bản UTF-8 (must be UTF-8 text).",
            code="invalid_pack",
            details=[{"file": PACK_FILE, "line": None, "message": "not UTF-8"}],
        ) from None
    return load_pack(text, source=PACK_FILE)
