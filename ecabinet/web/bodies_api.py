"""Bodies and their members over HTTP (admins change them; members read their own)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ecabinet.protocol import endpoint
from ecabinet.protocol.roles import ADMINS, SIGNED_IN
from ecabinet.services import bodies
from ecabinet.web.common import json_body, require_user, runtime

ADMIN_ERRORS = ("admin_required", "invalid_payload", "json_required")


@endpoint(
    "GET",
    "/api/bodies",
    roles=SIGNED_IN,
    summary="Bodies: admins see all, other users those they belong to.",
)
async def list_bodies(request: Request) -> Response:
    me = await require_user(request)
    found = await runtime(request).db.read(bodies.list_bodies, me)
    return JSONResponse({"bodies": found})


@endpoint(
    "POST",
    "/api/bodies",
    roles=ADMINS,
    body=bodies.BodyIn,
    status=201,
    summary="Create a body with its rules of procedure (quorum fraction and strictness, "
    "default majority).",
    errors=(*ADMIN_ERRORS, "body_name_taken"),
)
async def create_body(request: Request) -> Response:
    me = await require_user(request)
    data = await json_body(request, bodies.BodyIn)
    body = await runtime(request).db.write(bodies.create_body, me, data)
    return JSONResponse({"body": body}, status_code=201)


@endpoint(
    "GET",
    "/api/bodies/{body_id:int}",
    roles=SIGNED_IN,
    summary="A body with its members and rules (admins and the body's members).",
    errors=("body_not_found",),
)
async def read_body(request: Request) -> Response:
    me = await require_user(request)
    body = await runtime(request).db.read(bodies.read_body, me, request.path_params["body_id"])
    return JSONResponse({"body": body})


@endpoint(
    "PATCH",
    "/api/bodies/{body_id:int}",
    roles=ADMINS,
    body=bodies.BodyPatch,
    summary="Change a body's name, description or rules of procedure.",
    errors=(*ADMIN_ERRORS, "body_not_found", "body_name_taken"),
)
async def update_body(request: Request) -> Response:
    me = await require_user(request)
    data = await json_body(request, bodies.BodyPatch)
    body = await runtime(request).db.write(
        bodies.update_body, me, request.path_params["body_id"], data
    )
    return JSONResponse({"body": body})


@endpoint(
    "POST",
    "/api/bodies/{body_id:int}/members",
    roles=ADMINS,
    body=bodies.MemberIn,
    summary="Add a member (role `member` or `secretary`, with a title); for a member already "
    "there, change the title and role.",
    errors=(*ADMIN_ERRORS, "body_not_found", "unknown_user"),
)
async def add_member(request: Request) -> Response:
    me = await require_user(request)
    data = await json_body(request, bodies.MemberIn)
    body = await runtime(request).db.write(
        bodies.add_member, me, request.path_params["body_id"], data
    )
    return JSONResponse({"body": body})


@endpoint(
    "DELETE",
    "/api/bodies/{body_id:int}/members/{username}",
    roles=ADMINS,
    summary="Remove a member from a body.",
    errors=("admin_required", "body_not_found", "member_not_found"),
)
async def remove_member(request: Request) -> Response:
    me = await require_user(request)
    body = await runtime(request).db.write(
        bodies.remove_member, me, request.path_params["body_id"], request.path_params["username"]
    )
    return JSONResponse({"body": body})

