"""Preparing a meeting over HTTP: the meeting itself, its lifecycle, participants and proxies,
the change log since a pack version, and calendar invitations."""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import EDITORS, MEETING_READERS, SIGNED_IN, STAFF
from ecabinet.services.bodies import meetings as body_meetings
from ecabinet.services.meetings import admin as meetings_admin
from ecabinet.services.meetings import ics, participants, reads
from ecabinet.web.actions import meeting_action
from ecabinet.web.common import json_body, require_user, runtime
from ecabinet.web.prep_common import bool_param, int_param, meeting_read

M = "/api/meetings/{meeting_id:int}"
P = M + "/participants/{participant_id:int}"
EDIT_ERRORS = ("forbidden_role", "meeting_archived", "invalid_payload", "json_required")


def _mid(request: Request) -> int:
    meeting_id: int = request.path_params["meeting_id"]
    return meeting_id


def _pid(request: Request) -> int:
    participant_id: int = request.path_params["participant_id"]
    return participant_id


@endpoint(
    "POST",
    "/api/meetings",
    roles=SIGNED_IN,
    body=meetings_admin.MeetingIn,
    status=201,
    summary="Create a draft meeting. Admins: for any body or none. A body's secretary: for "
    "that body, and becomes the meeting's secretary. `invite_members` adds the body's members.",
    errors=("not_body_secretary", "body_not_found", "invalid_times", "invalid_payload"),
)
async def create_meeting(request: Request) -> Response:
    me = await require_user(request)
    data = await json_body(request, meetings_admin.MeetingIn)
    answer = await runtime(request).db.write(body_meetings.create_meeting, me, data)
    return JSONResponse(answer, status_code=201)


@endpoint(
    "GET",
    M,
    roles=MEETING_READERS,
    summary="The meeting as the caller may see it: details, participants, agenda with "
    "documents in order, documents (observers: confidential content left out).",
)
async def read_meeting(request: Request) -> Response:
    detail = await meeting_read(
        request, _mid(request), MEETING_READERS, "meeting.read", meetings_admin.meeting_detail
    )
    return JSONResponse(detail)


@endpoint(
    "PATCH",
    M,
    roles=EDITORS,
    body=meetings_admin.MeetingPatch,
    summary="Change title, body, description, place, start or end (only the fields given). "
    "After publication: a new pack version and `meeting.updated`.",
    errors=(*EDIT_ERRORS, "invalid_times", "not_body_secretary", "body_not_found"),
)
async def update_meeting(request: Request) -> Response:
    data = await json_body(request, meetings_admin.MeetingPatch)
    answer = await meeting_action(
        request, _mid(request), EDITORS, "meeting.update", body_meetings.update_meeting, data
    )
    return JSONResponse(answer)


@endpoint(
    "POST",
    M + "/status",
    roles=STAFF,
    body=meetings_admin.StatusIn,
    summary="Move the meeting through draft → published → in_session → closed → archived "
    "(allowed transitions only; publishing needs a chair and takes the next pack version). "
    "The chair may only open and close the session.",
    errors=("invalid_transition", "forbidden_transition", "forbidden_role", "invalid_payload"),
)
async def set_status(request: Request) -> Response:
    data = await json_body(request, meetings_admin.StatusIn)
    answer = await meeting_action(
        request,
        _mid(request),
        STAFF,
        "meeting.status",
        meetings_admin.set_status,
        data,
    )
    return JSONResponse(answer)


@endpoint(
    "GET",
    M + "/changes",
    roles=STAFF,
    summary="What changed in the pack after version `?since=N` (default 1, the published "
    "pack), version by version, from the event log.",
    errors=("forbidden_role", "unknown_pack_version", "invalid_payload"),
)
async def changes(request: Request) -> Response:
    since = int_param(request, "since", 1)
    answer = await meeting_read(
        request, _mid(request), STAFF, "meeting.changes", reads.changes, since
    )
    return JSONResponse(answer)


# --- participants ---------------------------------------------------------------------------


@endpoint("GET", M + "/participants", roles=MEETING_READERS, summary="The meeting's participants.")
async def list_participants(request: Request) -> Response:
    answer = await meeting_read(
        request, _mid(request), MEETING_READERS, "participants.list", reads.participant_list
    )
    return JSONResponse(answer)


@endpoint(
    "POST",
    M + "/participants",
    roles=EDITORS,
    body=participants.ParticipantIn,
    status=201,
    summary="Add a user with a role, voting right (default: chairs and delegates vote) and "
    "weight; emits `participants.changed`.",
    errors=(*EDIT_ERRORS, "unknown_user", "participant_exists", "observer_cannot_vote"),
)
async def add_participant(request: Request) -> Response:
    data = await json_body(request, participants.ParticipantIn)
    answer = await meeting_action(
        request, _mid(request), EDITORS, "participants.add", participants.add_participant, data
    )
    return JSONResponse(answer, status_code=201)


@endpoint(
    "PATCH",
    P,
    roles=EDITORS,
    body=participants.ParticipantPatch,
    summary="Change a participant's role, voting right or weight.",
    errors=(
        *EDIT_ERRORS,
        "participant_not_found",
        "observer_cannot_vote",
        "chair_required",
        "proxy_in_use",
    ),
)
async def update_participant(request: Request) -> Response:
    data = await json_body(request, participants.ParticipantPatch)
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "participants.update",
        participants.update_participant,
        _pid(request),
        data,
    )
    return JSONResponse(answer)


@endpoint(
    "DELETE",
    P,
    roles=EDITORS,
    summary="Remove a participant (refused for the last chair of a published meeting, with a "
    "proxy in place, or once they attended, spoke or voted).",
    errors=(
        "forbidden_role",
        "meeting_archived",
        "participant_not_found",
        "chair_required",
        "proxy_in_use",
        "participant_in_use",
    ),
)
async def remove_participant(request: Request) -> Response:
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "participants.remove",
        participants.remove_participant,
        _pid(request),
    )
    return JSONResponse(answer)


@endpoint(
    "PUT",
    P + "/proxy",
    roles=EDITORS,
    body=participants.ProxyIn,
    summary="Let `holder_id` (a participant with a voting right) carry this participant's vote. "
    "No self-proxy, no chains.",
    errors=(*EDIT_ERRORS, "participant_not_found", "invalid_proxy"),
)
async def set_proxy(request: Request) -> Response:
    data = await json_body(request, participants.ProxyIn)
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "participants.proxy",
        participants.set_proxy,
        _pid(request),
        data,
    )
    return JSONResponse(answer)


@endpoint(
    "DELETE",
    P + "/proxy",
    roles=EDITORS,
    summary="Remove this participant's proxy.",
    errors=("forbidden_role", "meeting_archived", "participant_not_found", "no_proxy"),
)
async def clear_proxy(request: Request) -> Response:
    answer = await meeting_action(
        request,
        _mid(request),
        EDITORS,
        "participants.proxy",
        participants.clear_proxy,
        _pid(request),
    )
    return JSONResponse(answer)


# --- calendar -------------------------------------------------------------------------------


@endpoint(
    "GET",
    M + "/invite.ics",
    roles=MEETING_READERS,
    summary="Calendar invitation (iCalendar, RFC 5545) for the caller. Staff and admins may "
    "ask for `?participant=ID` or `?all=true` (every participant as an attendee).",
    errors=("meeting_not_scheduled", "participant_not_found", "invalid_payload"),
)
async def invitation(request: Request) -> Response:
    participant_id = int_param(request, "participant")
    everyone = bool_param(request, "all")
    host = request.url.hostname or "ecabinet"
    build = partial(ics.invitation, participant_id=participant_id, everyone=everyone, host=host)
    text, filename = await meeting_read(
        request, _mid(request), MEETING_READERS, "meeting.invite", build
    )
    return Response(
        text.encode("utf-8"),
        media_type="text/calendar; charset=utf-8; method=REQUEST",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"; '
            f"filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        },
    )

