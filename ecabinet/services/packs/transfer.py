"""Packs on disk: open a folder or zip, prepare its files, import it whole; export a meeting.

Import runs in phases so that nothing is half-imported: the pack is opened (a zip is extracted
safely into a private work folder), ``meeting.yaml`` is checked together with the files it names
and the accounts it needs (one error lists every problem, with file and line), the files are
checked, converted and sanitised into the blob store (services/documents.prepare_file; a bad
file is one more listed problem), and only then is everything written in ONE transaction. Blobs
stored for an import that then fails are content-addressed and harmless.

Export writes ``meeting.yaml`` and the stored (sanitised) PDFs into a zip; importing that zip on
the same server gives the same meeting with the same documents by hash - except confidential
documents, which leave the server only as watermarked page images: the one access policy
(``services.documents.access``, form ``pack_export``) leaves them out of the zip, and a note at
the top of ``meeting.yaml`` names them (their agenda items keep their place and their
confidentiality). The pack book written beside it has a placeholder page in their place.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlmodel import Session, col, select

from ecabinet.core.errors import Conflict, EcabinetError, Forbidden, InvalidInput, TooLarge
from ecabinet.core.settings import Settings
from ecabinet.domain import agenda as agenda_rules
from ecabinet.domain import lifecycle
from ecabinet.domain.roles import MeetingRole, MeetingStatus
from ecabinet.services import audit, bodies, documents
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.documents.access import Form, Grant, may_have
from ecabinet.services.documents.books import PLACEHOLDER_LINES
from ecabinet.services.kernel.context import Actor
from ecabinet.services.packs.importing import ensure_users, import_pack
from ecabinet.services.packs.spec import (
    PACK_FILE,
    AgendaItemSpec,
    LoadedPack,
    consistency_problems,
    document_specs,
    file_problems,
    pack_error,
    read_loaded,
    user_problems,
)
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.database import Database
from ecabinet.storage.models import (
    AgendaItem,
    AgendaItemDocument,
    Body,
    Document,
    Meeting,
    Participant,
    User,
)

MAX_ENTRIES = 5000
CHUNK = 1024 * 1024


# --- opening -----------------------------------------------------------------------------------


def _bad_zip(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(
        f"Tệp nén không hợp lệ: {message}",
        code="invalid_pack",
        details=[{"file": details.pop("file", None), "line": None, "message": message, **details}],
    )


def extract_zip(archive: Path, target: Path, *, max_bytes: int) -> Path:
    """Extract a pack zip safely; return the folder that holds ``meeting.yaml``.

    Refused: names that are absolute or climb out (``..``), links, more than ``MAX_ENTRIES``
    entries, and more than ``max_bytes`` once uncompressed (counted while writing, not taken from
    the headers). ``meeting.yaml`` may sit at the top or in one top-level folder.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise _bad_zip("không đọc được tệp zip (not a zip file)") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise _bad_zip(f"quá {MAX_ENTRIES} tệp (too many entries)")
        total = 0
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            mode = info.external_attr >> 16
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise _bad_zip("đường dẫn ra ngoài gói (unsafe path)", file=info.filename)
            if (mode & 0o170000) == 0o120000:
                raise _bad_zip("không nhận liên kết (symbolic link)", file=info.filename)
            if info.is_dir():
                continue
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, dest.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            raise TooLarge(
                                f"Gói họp giải nén lớn hơn {max_bytes // (1024 * 1024)} MiB "
                                "(the pack is too large).",
                                code="pack_too_large",
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
                raise _bad_zip(f"không giải nén được ({exc})", file=info.filename) from None
    if (target / PACK_FILE).is_file():
        return target
    tops = [p for p in target.iterdir() if p.is_dir() and (p / PACK_FILE).is_file()]
    if len(tops) == 1:
        return tops[0]
    raise _bad_zip(f"không có {PACK_FILE} (no {PACK_FILE} in the zip)", file=PACK_FILE)


@contextlib.contextmanager
def opened(path: Path, settings: Settings) -> Iterator[Path]:
    """The pack folder for ``path``: the folder itself, or a zip extracted into a work folder."""
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise InvalidInput(
            f"Không tìm thấy gói họp '{path}' (no such file or folder).", code="invalid_pack"
        )
    with BlobStore(settings.data_dir).workspace() as work:
        yield extract_zip(path, work, max_bytes=4 * settings.max_upload_bytes)


# --- checking and preparing ---------------------------------------------------------------------


def check_rights(session: Session, pack: LoadedPack, user: SessionInfo | None) -> None:
    """Admins (and the command line, ``user`` None) import anything; a body's secretary imports
    meetings of that body only."""
    if user is None or user.is_admin:
        return
    name = pack.spec.meeting.body
    body = bodies.find_body_by_name(session, name) if name else None
    if (
        body is None
        or body.id is None
        or not bodies.is_body_secretary(session, body.id, user.user_id)
    ):
        raise Forbidden(
            "Chỉ quản trị viên hoặc thư ký của cơ quan được nhập gói họp của cơ quan đó "
            "(only admins and the body's secretaries import its meetings).",
            code="not_body_secretary",
            details={"body": name},
        )


def check_pack(
    session: Session, folder: Path, *, user: SessionInfo | None, create_users: bool
) -> LoadedPack:
    """Everything that can be checked before the files are touched; one error lists it all."""
    pack = read_loaded(folder)
    check_rights(session, pack, user)
    problems = consistency_problems(pack) + file_problems(pack, folder)
    if not create_users:
        problems += user_problems(session, pack)
    if problems:
        raise pack_error(problems)
    return pack


def _remember_clean_copy(settings: Settings, prepared: documents.PreparedFile) -> None:
    """Record the stored PDF as its own source, so that importing an exported pack (which holds
    the stored copies) reuses the same blobs instead of sanitising them again."""
    store = BlobStore(settings.data_dir)
    if prepared.sha256 == prepared.source_sha256 or store.source_record(prepared.sha256):
        return
    record = store.source_record(prepared.source_sha256)
    if record is not None:
        store.record_source(prepared.sha256, {**record, "protected": False})


def prepare_files(
    settings: Settings, folder: Path, pack: LoadedPack
) -> dict[str, documents.PreparedFile]:
    """Check, convert and store every file the pack names; one error lists every bad file."""
    prepared: dict[str, documents.PreparedFile] = {}
    problems: list[dict[str, Any]] = []
    for loc, doc, _item in document_specs(pack.spec):
        if doc.file in prepared:
            continue
        path = folder / doc.file
        try:
            result = documents.prepare_file(settings, path, PurePosixPath(doc.file).name)
        except EcabinetError as exc:
            problems.append(
                pack.problem((*loc, "file"), exc.message, document=doc.file, code=exc.code)
            )
            continue
        _remember_clean_copy(settings, result)
        prepared[doc.file] = result
    if problems:
        raise pack_error(problems)
    return prepared


# --- importing ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    meeting_id: int
    title: str
    status: str
    pack_version: int
    participants: int
    items: int
    documents: int
    pages: int
    created_users: list[str] = field(default_factory=list)
    dry_run: bool = False
    blobs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("blobs")
        return data


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def publish_new(session: Session, meeting: Meeting) -> None:
    """Publish a meeting just imported (no tablet has it yet, so no events)."""
    has_chair = (
        session.exec(
            select(Participant.id).where(
                Participant.meeting_id == meeting.id, Participant.role == MeetingRole.CHAIR.value
            )
        ).first()
        is not None
    )
    problem = lifecycle.transition_problem(
        MeetingStatus(meeting.status), MeetingStatus.PUBLISHED, has_chair=has_chair
    )
    if problem:
        raise Conflict(
            problem, code="invalid_transition", details={"from": meeting.status, "to": "published"}
        )
    meeting.status = MeetingStatus.PUBLISHED.value
    meeting.pack_version += 1
    session.add(meeting)


def write_pack(
    session: Session,
    pack: LoadedPack,
    prepared: Mapping[str, documents.PreparedFile],
    *,
    user: SessionInfo | None,
    new_user_password: str | None = None,
    publish: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """The import's one transaction (``dry_run`` rolls it back and still answers)."""
    created = []
    if new_user_password is not None:
        created = [u.username for u in ensure_users(session, pack.spec, new_user_password)]
    check_rights(session, pack, user)
    problems = user_problems(session, pack)
    if problems:
        raise pack_error(problems)
    meeting = import_pack(
        session,
        pack.spec,
        prepared,
        uploaded_by=user.user_id if user else None,
        create_body=user is None or user.is_admin,
    )
    assert meeting.id is not None
    if user is not None and not user.is_admin:
        mine = session.exec(
            select(Participant).where(
                Participant.meeting_id == meeting.id, Participant.user_id == user.user_id
            )
        ).first()
        if mine is None:
            session.add(
                Participant(
                    meeting_id=meeting.id, user_id=user.user_id, role=MeetingRole.SECRETARY.value
                )
            )
    if publish:
        publish_new(session, meeting)
    session.flush()
    # Everyone the pack gives a role: role changes, in the audit trail (not for a dry run).
    roles = {p.user: p.role.value for p in pack.spec.participants}
    audit.record(session, audit.ROLE_CHANGED, actor_id=user.user_id if user else None,
                 subject=f"meeting:{meeting.id}", address="" if user else "cli",
                 details={"change": "imported", "roles": roles})
    result = ImportResult(
        meeting_id=meeting.id,
        title=meeting.title,
        status=meeting.status,
        pack_version=meeting.pack_version,
        participants=len(pack.spec.participants),
        items=sum(1 for _ in _walk(pack.spec.agenda)),
        documents=len(prepared),
        pages=sum(p.page_count for p in prepared.values()),
        created_users=created,
        dry_run=dry_run,
        blobs=sorted({p.sha256 for p in prepared.values()}),
    )
    if dry_run:
        raise _DryRun(result)
    return result


def _walk(items: list[AgendaItemSpec]) -> Iterator[AgendaItemSpec]:
    for item in items:
        yield item
        yield from _walk(item.items)


def import_path(
    db: Database,
    settings: Settings,
    path: Path,
    *,
    user: SessionInfo | None = None,
    new_user_password: str | None = None,
    publish: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Import a pack folder or zip (blocking: the command line and scripts use it)."""
    with opened(path, settings) as folder:
        pack = db.run_sync(
            check_pack, folder, user=user, create_users=new_user_password is not None
        )
        prepared = prepare_files(settings, folder, pack)
        try:
            return db.run_sync(
                write_pack,
                pack,
                prepared,
                user=user,
                new_user_password=new_user_password,
                publish=publish,
                dry_run=dry_run,
            )
        except _DryRun as dry:
            return dry.result


async def import_upload(
    db: Database, settings: Settings, archive: Path, *, user: SessionInfo, publish: bool
) -> ImportResult:
    """Import an uploaded zip: checks on the reader, file work on a thread, one write."""
    import asyncio

    with BlobStore(settings.data_dir).workspace() as work:
        folder = await asyncio.to_thread(
            extract_zip, archive, work, max_bytes=4 * settings.max_upload_bytes
        )
        pack = await db.read(check_pack, folder, user=user, create_users=False)
        prepared = await asyncio.to_thread(prepare_files, settings, folder, pack)
        return await db.write(write_pack, pack, prepared, user=user, publish=publish)


# --- exporting ---------------------------------------------------------------------------------


def slug(text: str, limit: int = 60) -> str:
    """ASCII file-name part: Vietnamese letters without marks ("Tờ trình" → "to-trinh")."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:limit].rstrip("-") or "tai-lieu"


# Whoever runs ``ecabinet pack export`` on the server: reads every document, as an admin does.
OPERATOR = Actor(0, "", "", True, None, None)
LEFT_OUT_NOTE = (
    "# Tài liệu mật không có trong gói: tài liệu mật chỉ được xem trên máy tính bảng, có đóng\n"
    "# dấu tên người xem. Hãy đính kèm lại trên máy chủ nếu cần (confidential documents left\n"
    "# out: they leave the server only as watermarked pages):\n"
)


@dataclass
class ExportedPack:
    meeting_id: int
    title: str
    yaml_text: str
    files: list[tuple[str, Path]]  # (name in the pack, stored file)
    book_meeting: dict[str, Any]
    # number, title, documents (title, stored file; None: a placeholder page in its place)
    book_items: list[tuple[str, str, list[tuple[str, Path | None]]]]
    left_out: list[str] = field(default_factory=list)  # titles of confidential documents


def export_pack(
    session: Session, meeting_id: int, settings: Settings, reader: Actor = OPERATOR
) -> ExportedPack:
    """Describe a meeting as a pack for ``reader``: ``meeting.yaml`` text and the files to put
    beside it; what the access policy does not let out (``pack_export``) is left out."""
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.id is None:
        raise InvalidInput(f"Không có cuộc họp #{meeting_id}.", code="meeting_not_found")
    store = BlobStore(settings.data_dir)
    zone = ZoneInfo(settings.timezone)
    body = session.get(Body, meeting.body_id) if meeting.body_id else None

    people = session.exec(
        select(Participant, User)
        .join(User, User.id == Participant.user_id)  # type: ignore[arg-type]
        .where(Participant.meeting_id == meeting.id)
        .order_by(Participant.id)  # type: ignore[arg-type]
    ).all()
    names = {p.id: u.username for p, u in people}
    participants = []
    for p, u in people:
        entry: dict[str, Any] = {
            "user": u.username,
            "full_name": u.full_name,
            "role": p.role,
            "vote": p.can_vote,
        }
        if p.vote_weight != 1:
            entry["weight"] = p.vote_weight
        if p.proxy_holder_id is not None:
            entry["proxy_holder"] = names[p.proxy_holder_id]
        participants.append(entry)

    docs = {
        d.id: d
        for d in session.exec(
            select(Document)
            .where(Document.meeting_id == meeting.id, col(Document.replaced_by_id).is_(None))
            .order_by(Document.id)  # type: ignore[arg-type]
        ).all()
    }
    files: list[tuple[str, Path]] = []
    file_of: dict[int, str] = {}
    left_out: list[str] = []

    def file_for(doc: Document) -> str:
        assert doc.id is not None
        if doc.id not in file_of:
            name = f"documents/{len(file_of) + 1:02d}-{slug(doc.title)}.pdf"
            file_of[doc.id] = name
            files.append((name, store.path(doc.blob_sha256)))
        return file_of[doc.id]

    def doc_entry(doc: Document, where: str) -> dict[str, Any] | None:
        decision = may_have(reader, doc, Form.PACK_EXPORT)
        if decision.grant is not Grant.FULL:
            if decision.known:
                left_out.append(f"{where}: {doc.title}")
            return None
        entry: dict[str, Any] = {"file": file_for(doc), "title": doc.title}
        if doc.confidential:  # pragma: no cover - the policy lets no confidential file out
            entry["confidential"] = True
        return entry

    def book_entry(doc: Document) -> tuple[str, Path | None] | None:
        decision = may_have(reader, doc, Form.BOOK)
        if decision.grant is Grant.HIDDEN:
            return None
        path = store.path(doc.blob_sha256) if decision.grant is Grant.FULL else None
        return (doc.title, path)

    items = list(session.exec(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)))
    links = session.exec(
        select(AgendaItemDocument)
        .where(col(AgendaItemDocument.agenda_item_id).in_([i.id for i in items]))
        .order_by(AgendaItemDocument.position, AgendaItemDocument.id)  # type: ignore[arg-type]
    ).all()
    by_item: dict[int, list[Document]] = {}
    for link in links:
        if link.document_id in docs:
            by_item.setdefault(link.agenda_item_id, []).append(docs[link.document_id])
    linked = {link.document_id for link in links}
    order = agenda_rules.ordered(items)
    rows = {i.id: i for i in items}
    book_items = []
    tree: dict[int | None, list[dict[str, Any]]] = {None: []}
    for numbered in order:
        item = rows[numbered.id]
        node: dict[str, Any] = {"title": item.title}
        entry = node
        if item.presenter:
            entry["presenter"] = item.presenter
        if item.planned_minutes is not None:
            entry["minutes"] = item.planned_minutes
        if item.description:
            entry["description"] = item.description
        if item.confidential:
            entry["confidential"] = True
        if item.vote_planned:
            entry["vote"] = True
        item_docs = by_item.get(numbered.id, [])
        entries = [doc_entry(d, f"mục {numbered.number}") for d in item_docs]
        if any(e is not None for e in entries):
            entry["documents"] = [e for e in entries if e is not None]
        pages = [book_entry(d) for d in item_docs]
        book_items.append((numbered.number, item.title, [e for e in pages if e is not None]))
        tree.setdefault(item.parent_id, []).append(entry)
        tree[numbered.id] = entry.setdefault("items", [])
    for node in _walk_entries(tree[None]):
        if not node["items"]:
            del node["items"]
    loose = [doc_entry(d, "tài liệu chung") for d_id, d in docs.items() if d_id not in linked]
    meeting_docs = [e for e in loose if e is not None]

    head: dict[str, Any] = {"title": meeting.title}
    if body is not None:
        head["body"] = body.name
    if meeting.place:
        head["place"] = meeting.place
    if meeting.starts_at:
        head["starts_at"] = meeting.starts_at.astimezone(zone).isoformat()
    if meeting.ends_at:
        head["ends_at"] = meeting.ends_at.astimezone(zone).isoformat()
    if meeting.description:
        head["description"] = meeting.description
    data: dict[str, Any] = {"meeting": head, "participants": participants}
    if meeting_docs:
        data["documents"] = meeting_docs
    data["agenda"] = tree[None]
    note = "".join(f"#   - {line}\n" for line in left_out)
    text = (
        f"# Gói họp xuất từ ecabinet (meeting pack exported from ecabinet), phiên bản "
        f"{meeting.pack_version}\n"
        + (LEFT_OUT_NOTE + note if left_out else "")
        + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    )
    return ExportedPack(
        meeting_id=meeting.id,
        title=meeting.title,
        yaml_text=text,
        files=files,
        book_meeting={
            "title": meeting.title,
            "body": body.name if body else "",
            "date": meeting.starts_at.astimezone(zone) if meeting.starts_at else "",
            "place": meeting.place,
        },
        book_items=book_items,
        left_out=left_out,
    )


def _walk_entries(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for entry in entries:
        yield entry
        yield from _walk_entries(entry.get("items", []))


def write_zip(exported: ExportedPack, out: Path) -> Path:
    """Write the pack zip atomically (PDFs stored, not recompressed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            zf.writestr(
                PACK_FILE, exported.yaml_text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED
            )
            for name, path in exported.files:
                zf.write(path, name, compress_type=zipfile.ZIP_STORED)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for secrets, not for a pack to share
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return out


def write_book(exported: ExportedPack, out: Path) -> int:
    """Write the pack book PDF (cover, agenda with links, documents; a placeholder page for
    each confidential one); return its page count."""
    from ecabinet.pdf.isolation import build_book_isolated

    items = [
        (number, title, [(t, str(p) if p is not None else None) for t, p in docs])
        for number, title, docs in exported.book_items
    ]
    return build_book_isolated(exported.book_meeting, items, str(out), list(PLACEHOLDER_LINES))


def default_name(exported: ExportedPack) -> str:
    return f"cuoc-hop-{exported.meeting_id}-{slug(exported.title, 40)}"


def random_password() -> str:
    return secrets.token_urlsafe(9)
