"""Pack import (a zip uploaded as multipart/form-data) and export (a zip download) over HTTP."""

from __future__ import annotations

from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ecabinet.protocol import Empty, endpoint
from ecabinet.protocol.roles import EDITORS, STAFF
from ecabinet.services.documents import uploads
from ecabinet.services.packs import exchange, transfer
from ecabinet.web.common import require_user, runtime
from ecabinet.web.prep_common import bool_param
from ecabinet.web.uploads import receive_upload, spooled


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
    await rt.db.read(exchange.may_import_some, me)
    publish = bool_param(request, "publish")
    upload = await receive_upload(request, uploads.spool_folder(rt.settings),
                                  rt.settings.max_upload_bytes)
    with spooled(upload):
        assert upload.path is not None
        result = await transfer.import_upload(
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
    "it gives the same meeting, except its confidential documents: they are left out (named in "
    "a note at the top of `meeting.yaml`), never sent as files. Secretaries, the chair and "
    "admins.",
    errors=("forbidden_role",),
)
async def export_pack(request: Request) -> Response:
    rt = runtime(request)
    me = await require_user(request)
    address = request.client.host if request.client else ""
    exported = await exchange.export_zip(rt.db, rt.settings, me, request.path_params["meeting_id"],
                                         address)
    return FileResponse(
        exported.path,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{exported.name}"; '
            f"filename*=UTF-8''{quote(exported.name)}",
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(exported.discard),
    )
