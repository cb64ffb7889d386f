"""The demo: a sample meeting pack loaded with accounts whose passwords are printed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from ecabinet import samples
from ecabinet.core.settings import Settings
from ecabinet.services import accounts, packs
from ecabinet.services.documents import PreparedFile
from ecabinet.services.packs import transfer as pack_io
from ecabinet.storage.models import Meeting, User

# The demo's administrator: not a participant of the sample (admins are accounts, not meeting
# roles), so the demo makes it beside the pack's people.
ADMIN_USER = "quantri"
ADMIN_NAME = "Quản trị hệ thống"


@dataclass
class LoadedSample:
    meeting_id: int
    title: str
    accounts: list[tuple[str, str, str]]  # (role, username, full name); role "admin" for the admin


def prepare_sample(settings: Settings, folder: Path) -> tuple[Path, dict[str, PreparedFile]]:
    """Generate the sample's documents on first use and store them (blocking, before the
    transaction); return the folder to import from and the prepared files."""
    folder = samples.ensure_generated(folder, settings.data_dir / "sample-packs" / folder.name)
    pack = packs.read_loaded(folder)
    problems = packs.consistency_problems(pack) + packs.file_problems(pack, folder)
    if problems:
        raise packs.pack_error(problems)
    return folder, pack_io.prepare_files(settings, folder, pack)


def load_sample(
    session: Session,
    folder: Path,
    password: str,
    prepared: Mapping[str, PreparedFile] | None = None,
) -> LoadedSample:
    """Import the sample once (again on later runs only its passwords are reset) and publish it;
    make the demo's administrator (``quantri``) with the same password.

    With ``prepared`` (from ``prepare_sample``) the meeting gets its documents too.
    """
    spec = packs.read_pack(folder)
    for p in spec.participants:
        user = accounts.get_user(session, p.user)
        if user is not None:
            accounts.set_password(session, user, password)
    packs.ensure_users(session, spec, password)
    meeting = session.exec(select(Meeting).where(Meeting.title == spec.meeting.title)).first()
    if meeting is None:
        meeting = packs.import_pack(session, spec, prepared)
        pack_io.publish_new(session, meeting)
        session.flush()
    assert meeting.id is not None
    admin = _ensure_admin(session, password)
    names = {u.username: u.full_name for u in session.exec(select(User)).all()}
    rows = [("admin", admin.username, admin.full_name)]
    rows += [(p.role.value, p.user, names.get(p.user, p.user)) for p in spec.participants]
    return LoadedSample(meeting.id, meeting.title, rows)


def _ensure_admin(session: Session, password: str) -> User:
    admin = accounts.get_user(session, ADMIN_USER)
    if admin is None:
        return accounts.create_user(session, ADMIN_USER, password, ADMIN_NAME, is_admin=True)
    accounts.set_password(session, admin, password)
    if not admin.is_admin:  # the demo promises an administrator under this name
        admin.is_admin = True
        session.add(admin)
    return admin


ROLE_LABELS = {
    "admin": "Quản trị",
    "chair": "Chủ tọa",
    "secretary": "Thư ký",
    "delegate": "Đại biểu",
    "observer": "Quan sát viên",
}


def describe(loaded: LoadedSample, password: str, base_url: str) -> str:
    lines = [
        f"Cuộc họp mẫu (sample meeting) #{loaded.meeting_id}: {loaded.title}",
        f"Mở trình duyệt (open): {base_url}/signin",
        f"Mật khẩu cho mọi tài khoản (password for every account): {password}",
        "",
        f"{'vai trò (role)':<26}{'tên đăng nhập (username)':<28}họ tên (name)",
    ]
    for role, username, full_name in loaded.accounts:
        lines.append(
            f"{ROLE_LABELS.get(role, role) + ' (' + role + ')':<26}{username:<28}{full_name}"
        )
    return "\n".join(lines)
