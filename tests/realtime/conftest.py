from __future__ import annotations

from typing import Any

import pytest

from ecabinet.services import accounts, packs
from tests.conftest import PASSWORD

ROOM_PACK = """
meeting:
  title: Phiên họp thử nghiệm trực tuyến
  body: Ban Quản lý Khu kinh tế
participants:
  - {user: chutich, role: chair}
  - {user: thuky, role: secretary}
  - {user: daibieu1, role: delegate}
  - {user: daibieu2, role: delegate}
  - {user: quansat, role: observer}
agenda:
  - title: Khai mạc
  - title: Báo cáo tài chính
    items:
      - title: Thu ngân sách
      - title: Chi ngân sách
  - title: Nhân sự lãnh đạo
    confidential: true
  - title: Bế mạc
"""
USERS = {"chutich": "Nguyễn Văn An", "thuky": "Trần Thị Bích Ngọc", "daibieu1": "Lê Hoàng Minh",
         "daibieu2": "Phạm Thị Thu Hà", "quansat": "Võ Đức Thắng", "nguoingoai": "Người Ngoài"}


def create_room(session: Any, status: str = "published") -> dict[str, Any]:
    for username, name in USERS.items():
        accounts.create_user(session, username, PASSWORD, name)
    meeting = packs.import_pack(session, packs.parse_pack(ROOM_PACK))
    meeting.status = status
    session.add(meeting)
    session.flush()
    return {"meeting_id": meeting.id}


@pytest.fixture
def room(app: Any) -> dict[str, Any]:
    """A published meeting with a chair, a secretary, two delegates, an observer and an outsider."""
    info: dict[str, Any] = app.runtime.db.run_sync(create_room)
    return info
