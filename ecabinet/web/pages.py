"""HTML pages for browsers (the tablet shell and the "my meetings" list)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ecabinet.protocol import endpoint
from ecabinet.services.meetings import list_my_meetings
from ecabinet.web.common import optional_user, require_user, runtime
from ecabinet.web.security import CSRF_COOKIE, CSRF_FIELD, csrf_token


@endpoint(
    "GET",
    "/",
    roles={"anonymous"},
    summary='"My meetings" page (HTML); anonymous callers are sent to /signin.',
)
async def home(request: Request) -> Response:
    rt = runtime(request)
    me = await optional_user(request)
    if me is None:
        return RedirectResponse("/signin", status_code=303)
    meetings = await rt.db.read(list_my_meetings, me.user_id, is_admin=me.is_admin)
    groups = {
        "in_session": [m for m in meetings if m["status"] == "in_session"],
        "upcoming": [m for m in meetings if m["status"] in ("draft", "published")],
        "past": [m for m in meetings if m["status"] in ("closed", "archived")],
    }
    token = csrf_token(request)
    response = rt.templates.TemplateResponse(
        request, "home.html", {"me": me, "groups": groups, "csrf": token, "csrf_field": CSRF_FIELD}
    )
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=rt.settings.secure_cookies
    )
    return response


@endpoint(
    "GET",
    "/api/meetings",
    roles={"user"},
    summary="Meetings the caller takes part in (admins: all), soonest first.",
)
async def api_meetings(request: Request) -> Response:
    rt = runtime(request)
    me = await require_user(request)
    meetings = await rt.db.read(list_my_meetings, me.user_id, is_admin=me.is_admin)
    return JSONResponse({"meetings": meetings})


routes = [
    Route("/", home, methods=["GET"]),
    Route("/api/meetings", api_meetings, methods=["GET"]),
]
