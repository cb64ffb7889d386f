"""The demo: a sample meeting pack loaded with accounts whose passwords are printed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from ecabinet.domain.roles import MeetingStatus
from ecabinet.services import accounts, packs
from ecabinet.storage.models import Meeting, User


@dataclass
class LoadedSample:
    meeting_id: int
    title: str
    accounts: list[tuple[str, str, str]]  # (role, username, full name)


def load_sample(session: Session, folder: Path, password: str) -> LoadedSample:
    """Import the sample once (again on later runs only its passwords are reset) and publish it."""
    spec = packs.read_pack(folder)
    for p in spec.participants:
        user = accounts.get_user(session, p.user)
        if user is not None:
            accounts.set_password(session, user, password)
    packs.ensure_users(session, spec, password)
    meeting = session.exec(select(Meeting).where(Meeting.title == spec.meeting.title)).first()
    if meeting is None:
        meeting = packs.import_pack(session, spec)
        meeting.status = MeetingStatus.PUBLISHED.value
        meeting.pack_version = 1
        session.add(meeting)
        session.flush()
    assert meeting.id is not None
    names = {u.username: u.full_name for u in session.exec(select(User)).all()}
    rows = [(p.role.value, p.user, names.get(p.user, p.user)) for p in spec.participants]
    return LoadedSample(meeting.id, meeting.title, rows)


ROLE_LABELS = {
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
        f"{'vai trò (role)':<22}{'tên đăng nhập (username)':<28}họ tên (name)",
    ]
    for role, username, full_name in loaded.accounts:
        lines.append(
            f"{ROLE_LABELS.get(role, role) + ' (' + role + ')':<22}{username:<28}{full_name}"
        )
    return "\n".join(lines)
