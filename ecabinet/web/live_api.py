"""Cheap HTTP reads of the live room (a tablet that lost track of the presenter asks here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import MEETING_READERS
from ecabinet.services.room import presenting
from ecabinet.web.prep_common import meeting_read

PRESENTING = "/api/meetings/{meeting_id:int}/presenting"


@endpoint(
    "GET",
    PRESENTING,
    roles=MEETING_READERS,
    summary="What is presented now: the payload of `present.changed` (document, 0-based page, "
    "presenter), redacted for observers when the document is confidential.",
    errors=("meeting_not_found",),
)
async def presenting_now(request: Request) -> Response:
    meeting_id: int = request.path_params["meeting_id"]
    answer = await meeting_read(
        request, meeting_id, MEETING_READERS, "present.read", presenting.current
    )
    return JSONResponse(answer)

