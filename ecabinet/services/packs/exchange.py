"""Packs in and out of the server as files: who may send one, and a meeting's pack as a zip.

Importing a zip is ``transfer.import_upload``; before its bytes stream in, ``may_import_some``
turns away those who could import no pack at all (which body the pack is for is checked once it
is read). Exporting writes the meeting's pack to a temporary zip, and goes into the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from ecabinet.core.errors import Forbidden
from ecabinet.core.settings import Settings
from ecabinet.protocol.roles import STAFF
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import load_actor, require_roles
from ecabinet.services.packs import transfer
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.database import Database
from ecabinet.storage.models import BodyMember


def may_import_some(session: Session, me: SessionInfo) -> None:
    """Refuse (``not_body_secretary``) those who are neither an admin nor any body's
    secretary."""
    if me.is_admin:
        return
    secretary = session.exec(select(BodyMember.id).where(
        BodyMember.user_id == me.user_id, BodyMember.role == "secretary")).first()
    if secretary is None:
        raise Forbidden(
            "Chỉ quản trị viên hoặc thư ký của cơ quan được nhập gói họp "
            "(only admins and a body's secretaries import meeting packs).",
            code="not_body_secretary",
        )


@dataclass(frozen=True)
class PackFile:
    """An exported pack: a temporary zip, and the name it downloads under."""

    path: Path
    name: str

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def export_zip(
    db: Database, settings: Settings, user: SessionInfo, meeting_id: int, address: str
) -> PackFile:
    """The meeting as a pack zip (``meeting.yaml`` and the stored PDFs) for its staff and
    admins, without the confidential documents (named in a note); audited. The caller
    discards the file once it is sent."""

    def read(session: Session) -> transfer.ExportedPack:
        _meeting, actor = load_actor(session, user, meeting_id)
        require_roles(actor, STAFF, "pack.export")
        return transfer.export_pack(session, meeting_id, settings, actor)

    exported = await db.read(read)
    await db.write(
        audit.record, audit.EXPORT, actor_id=user.user_id, subject=f"meeting:{meeting_id}",
        details={"what": "pack", "documents": len(exported.files),
                 "left_out": len(exported.left_out)}, address=address,
    )
    store = BlobStore(settings.data_dir)
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    out = store.tmp_dir / f"export-{meeting_id}-{secrets.token_hex(8)}.zip"
    await asyncio.to_thread(transfer.write_zip, exported, out)
    return PackFile(out, transfer.default_name(exported) + ".zip")
