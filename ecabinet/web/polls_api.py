"""Poll results over HTTP, for the minutes and the secretary's spreadsheet: JSON and CSV."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services.voting import export as poll_export
from ecabinet.web.common import require_user, runtime
from ecabinet.web.prep_common import meeting_read

M = "/api/meetings/{meeting_id:int}/polls"
P = M + "/{poll_id:int}"
ERRORS = ("poll_not_found", "result_not_available")


def _ids(request: Request) -> tuple[int, int]:
    return int(request.path_params["meeting_id"]), int(request.path_params.get("poll_id", 0))


@endpoint(
    "GET",
    M,
    roles=MEETING_READERS,
    summary="The meeting's polls with the results the caller may read: chair, secretary and "
    "admins see drafts and results from the close on; others see polls once opened and "
    "results once published (observers: confidential items redacted).",
)
async def list_polls(request: Request) -> Response:
    meeting_id, _ = _ids(request)
    answer = await meeting_read(
        request, meeting_id, MEETING_READERS, "poll.list", poll_export.list_polls
    )
    return JSONResponse(answer)


@endpoint(
    "GET",
    P + "/result.json",
    roles=MEETING_READERS,
    summary="A poll's result as JSON (totals per option with weights, percentages, the "
    "decision and its reason, the quorum, the named list for a named poll). Chair, secretary "
    "and admins: once closed; everyone else in the meeting: once published.",
    errors=ERRORS,
)
async def result_json(request: Request) -> Response:
    doc = await _export(request, "json")
    _meeting_id, poll_id = _ids(request)
    return JSONResponse(doc, headers=_attachment(f"bieu-quyet-{poll_id}.json"))


@endpoint(
    "GET",
    P + "/result.csv",
    roles=MEETING_READERS,
    summary="The same result as a CSV sheet (UTF-8 with BOM): the decision, one row per "
    "option, and the named list for a named poll.",
    errors=ERRORS,
)
async def result_csv(request: Request) -> Response:
    doc = await _export(request, "csv")
    _meeting_id, poll_id = _ids(request)
    return Response(poll_export.result_csv(doc), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"bieu-quyet-{poll_id}.csv"))


async def _export(request: Request, fmt: str) -> dict[str, Any]:
    me = await require_user(request)
    meeting_id, poll_id = _ids(request)
    address = request.client.host if request.client else ""
    return await poll_export.export_result(
        runtime(request).db, me, meeting_id, poll_id, fmt, address)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store"}

