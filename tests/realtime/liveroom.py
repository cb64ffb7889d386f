"""Shared steps for the live-room tests: open tablets, start the meeting, make rows."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import Session, select

from ecabinet.storage.models import Blob, Document, Participant, User
from tests.conftest import LiveServer
from tests.realtime.client import Tablet


async def join(live_server: LiveServer, username: str, mid: int) -> tuple[Tablet, dict[str, Any]]:
    tablet = await Tablet.open(live_server.url, username)
    answer = await tablet.call("meeting.join", {"meeting_id": mid})
    assert answer["ok"], answer
    return tablet, answer


async def peek(live_server: LiveServer, username: str, mid: int) -> dict[str, Any]:
    """What a fresh join answers this user (the device disconnects again)."""
    tablet, answer = await join(live_server, username, mid)
    await tablet.close()
    return answer


async def started(live_server: LiveServer, room: dict[str, Any], *,
                  first_item: bool = True) -> tuple[Tablet, int]:
    """The chair joined, opened the session and (by default) moved to the first item."""
    mid: int = room["meeting_id"]
    chair, _ = await join(live_server, "chutich", mid)
    assert (await chair.call("meeting.start", {"meeting_id": mid}))["ok"]
    if first_item:
        assert (await chair.call("agenda.next", {"meeting_id": mid}))["ok"]
    return chair, mid


def participants(app: Any, mid: int) -> dict[str, int]:
    """Participant ids by username."""

    def read(session: Session) -> dict[str, int]:
        rows = session.exec(
            select(User.username, Participant.id)
            .where(Participant.meeting_id == mid)
            .where(Participant.user_id == User.id)
        ).all()
        return {name: pid for name, pid in rows if pid is not None}

    result: dict[str, int] = app.runtime.db.run_sync(read)
    return result


def user_ids(app: Any) -> dict[str, int]:
    """Account ids by username."""

    def read(session: Session) -> dict[str, int]:
        return {u.username: u.id for u in session.exec(select(User)).all() if u.id is not None}

    result: dict[str, int] = app.runtime.db.run_sync(read)
    return result


def add_document(app: Any, mid: int, *, title: str = "Báo cáo", pages: int | None = 3,
                 confidential: bool = False, status: str = "ready") -> int:
    def write(session: Session) -> int:
        sha = hashlib.sha256(f"{mid}-{title}-{pages}-{status}".encode()).hexdigest()
        if session.get(Blob, sha) is None:
            session.add(Blob(sha256=sha, size=100, media_type="application/pdf",
                             page_count=pages, status=status))
            session.flush()
        doc = Document(meeting_id=mid, blob_sha256=sha, title=title, filename=f"{title}.pdf",
                       confidential=confidential)
        session.add(doc)
        session.flush()
        assert doc.id is not None
        return doc.id

    doc_id: int = app.runtime.db.run_sync(write)
    return doc_id


async def head(tablet: Tablet, mid: int) -> int:
    """The meeting's last sequence number, as a resync answers it."""
    answer = await tablet.call("meeting.join", {"meeting_id": mid, "since": 0})
    seq: int = answer["seq"]
    return seq


async def refused(tablet: Tablet, name: str, payload: dict[str, Any], code: str) -> None:
    answer = await tablet.call(name, payload)
    assert answer["ok"] is False, (name, payload, answer)
    assert answer["error"]["code"] == code, (name, payload, answer)


async def close(*tablets: Tablet) -> None:
    for t in tablets:
        await t.close()
