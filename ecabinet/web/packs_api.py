"""Pack import (a zip uploaded as multipart/form-data) and export (a zip download) over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from urllib.parse import quote

from sqlmodel import Session, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ecabinet.core.errors import Forbidden
from ecabinet.protocol import Empty, endpoint
from ecabinet.protocol.roles import EDITORS, STAFF
from ecabinet.services import audit
from ecabinet.services.accounts import SessionInfo
from ecabinet.services.kernel.context import Actor
from ecabinet.services.packs import transfer as pack_io
from ecabinet.storage.blobs import BlobStore
from ecabinet.storage.models import BodyMember, Meeting
from ecabinet.web.common import require_user, runtime
from ecabinet.web.prep_common import bool_param, meeting_read
from ecabinet.web.uploads import receive_upload, spooled


def _may_import_some(session: Session, me: SessionInfo) -> None:
    """Refuse before the zip streams in those who could import no pack at all (which body the
    pack is for is checked once it is read)."""
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


@endpoint(
    "POST",
    "/api/packs",
    roles=EDITORS,
    form=Empty,
    status=201,
    summary="Import a meeting pack: a zip (`meeting.yaml` and its files) sent as the "
    "multipart field `file` (size limit: ECABINET_MAX_UPLOAD_MB). Admins import any pack, a "
    "body's secretary packs of that body. `?publish=true` publishes it at once. All or "
    "nothing: one error (`invalid_pack`) lists every problem with file and line.",
    errors=(
        "multipart_required",
        "file_required",
        "malformed_upload",
        "upload_too_large",
        "pack_too_large",
        "invalid_pack",
        "not_body_secretary",
        "invalid_transition",
    ),
)
async def import_pack(request: Request) -> Response:
    rt = runtime(request)
    me = await require_user(request)
    await rt.db.read(_may_import_some, me)
    publish = bool_param(request, "publish")
    store = BlobStore(rt.settings.data_dir)
    upload = await receive_upload(request, store.tmp_dir, rt.settings.max_upload_bytes)
    with spooled(upload):
        assert upload.path is not None
        result = await pack_io.import_upload(
            rt.db, rt.settings, upload.path, user=me, publish=publish
        )
    if rt.renders is not None:
        for sha256 in result.blobs:
            await rt.renders.submit(sha256)
    return JSONResponse(result.as_dict(), status_code=201)


@endpoint(
    "GET",
    "/api/meetings/{meeting_id:int}/pack.zip",
    roles=STAFF,
    summary="Export the meeting as a pack zip (`meeting.yaml` and the stored PDFs); importing "
    "it gives the same meeting. Secretaries, the chair and admins.",
    errors=("forbidden_role",),
)
async def export_pack(request: Request) -> Response:
    rt = runtime(request)
    meeting_id: int = request.path_params["meeting_id"]

    def build(session: Session, actor: Actor, meeting: Meeting) -> pack_io.ExportedPack:
        return pack_io.export_pack(session, meeting_id, rt.settings)

    exported = await meeting_read(request, meeting_id, STAFF, "pack.export", build)
    me = await require_user(request)
    await rt.db.write(
        audit.record, audit.EXPORT, actor_id=me.user_id, subject=f"meeting:{meeting_id}",
        details={"what": "pack", "documents": len(exported.files)},
        address=request.client.host if request.client else "",
    )
    store = BlobStore(rt.settings.data_dir)
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    name = pack_io.default_name(exported) + ".zip"
    out = store.tmp_dir / f"export-{meeting_id}-{secrets.token_hex(8)}.zip"
    await asyncio.to_thread(pack_io.write_zip, exported, out)

    def cleanup() -> None:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()

    return FileResponse(
        out,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(cleanup),
    )

